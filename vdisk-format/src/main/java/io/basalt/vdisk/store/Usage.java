package io.basalt.vdisk.store;

/**
 * Space a vdisk takes, in the sense of {@code rbd du}.
 *
 * @param provisionedBytes the vdisk's size
 * @param usedBytes        grains mapped at head by the vdisk itself (not through its parent)
 * @param storedBytes      frame bytes of every version the vdisk keeps, snapshots included
 * @param versionCount     grain versions stored, tombstones included
 */
public record Usage(long provisionedBytes, long usedBytes, long storedBytes, long versionCount) {}
