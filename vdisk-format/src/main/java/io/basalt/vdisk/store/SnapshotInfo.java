package io.basalt.vdisk.store;

/** A snapshot: a frozen epoch of a vdisk, with the size the vdisk had when it was taken. */
public record SnapshotInfo(long vdiskId, String name, long epoch, long sizeBytes, long createdEpochMs) {}
