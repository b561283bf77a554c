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
 * @param rollingBackTo the snapshot an unfinished rollback goes to: set before any placement group
 *                      rolls back and cleared once all have, so a rollback a failure cut short is
 *                      seen (the vdisk then reads partly as the snapshot) and not used until it is
 *                      finished
 */
public record VdiskRecord(long id, String name, long sizeBytes, int blockSizeBytes, int grainSizeBytes,
                          long rootId, Optional<ParentLink> parent, List<SnapshotRecord> snapshots, long createdMs,
                          Optional<String> rollingBackTo) {

    /** Without a rollback under way. */
    public VdiskRecord(long id, String name, long sizeBytes, int blockSizeBytes, int grainSizeBytes,
                       long rootId, Optional<ParentLink> parent, List<SnapshotRecord> snapshots, long createdMs) {
        this(id, name, sizeBytes, blockSizeBytes, grainSizeBytes, rootId, parent, snapshots, createdMs, Optional.empty());
    }

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
        return new VdiskRecord(id, name, bytes, blockSizeBytes, grainSizeBytes, rootId, parent, snapshots, createdMs, rollingBackTo);
    }

    VdiskRecord withSnapshots(List<SnapshotRecord> snaps) {
        return new VdiskRecord(id, name, sizeBytes, blockSizeBytes, grainSizeBytes, rootId, parent, snaps, createdMs, rollingBackTo);
    }

    /**
     * Why this vdisk may not be used now, when a rollback is unfinished: what it is, and the
     * command that finishes it.
     */
    public Optional<String> unfinishedRollback() {
        return rollingBackTo.map(snap -> "vdisk " + name + " has an unfinished rollback to " + name + "@" + snap
                + " (a placement group failed part way, so it reads partly as the snapshot); finish it first: basalt snap rollback "
                + name + "@" + snap);
    }

    VdiskRecord withRollingBackTo(Optional<String> snap) {
        return new VdiskRecord(id, name, sizeBytes, blockSizeBytes, grainSizeBytes, rootId, parent, snapshots, createdMs, snap);
    }
}
