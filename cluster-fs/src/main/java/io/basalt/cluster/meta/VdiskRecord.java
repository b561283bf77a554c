package io.basalt.cluster.meta;

import java.util.List;
import java.util.Optional;

/**
 * The cluster-wide descriptor of a vdisk, owned by the meta group.
 *
 * <p>{@code rootId} is the id of the oldest ancestor (itself for a plain vdisk): placement hashes
 * it, so a linked clone's grains live in the same placement groups as its parent's and a read
 * that falls through to the parent never leaves the group.
 *
 * @param snapshots oldest first
 */
public record VdiskRecord(long id, String name, long sizeBytes, int blockSizeBytes, int grainSizeBytes,
                          long rootId, Optional<ParentLink> parent, List<SnapshotRecord> snapshots, long createdMs) {

    /** A linked clone's parent snapshot. */
    public record ParentLink(long vdiskId, String snapName) {}

    /** A snapshot as the namespace knows it. */
    public record SnapshotRecord(String name, long sizeBytes, long createdMs) {}

    public VdiskRecord {
        snapshots = List.copyOf(snapshots);
        if (sizeBytes <= 0 || sizeBytes % blockSizeBytes != 0) {
            throw new IllegalArgumentException("sizeBytes: " + sizeBytes + " (expected: a positive multiple of "
                    + blockSizeBytes + ") vdisk=" + name);
        }
    }

    public Optional<SnapshotRecord> snapshot(String snapName) {
        return snapshots.stream().filter(s -> s.name().equals(snapName)).findFirst();
    }

    VdiskRecord withSize(long bytes) {
        return new VdiskRecord(id, name, bytes, blockSizeBytes, grainSizeBytes, rootId, parent, snapshots, createdMs);
    }

    VdiskRecord withSnapshots(List<SnapshotRecord> snaps) {
        return new VdiskRecord(id, name, sizeBytes, blockSizeBytes, grainSizeBytes, rootId, parent, snaps, createdMs);
    }
}
