package io.basalt.replication;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;

import io.basalt.vdisk.store.SnapshotInfo;
import io.basalt.vdisk.store.VdiskStore;

/**
 * Turns a site's copy of a mirrored vdisk from primary to replica and back (failover and
 * failback, docs/architecture.md "Replication"). A demoted vdisk is a replica of the peer's copy
 * at the last snapshot both sites hold, so the peer's next round starts there and carries only
 * what changed since; a promoted replica is an ordinary vdisk again, at its last complete
 * snapshot.
 */
public final class MirrorRoles {
    private MirrorRoles() {}

    /** The replica record of {@code vdisk}; empty when it is an ordinary (primary or unmirrored) vdisk. */
    public static Optional<ReplicaRecord> replicaOf(VdiskStore store, String vdisk) {
        return replicaOf(MirrorStore.of(store), vdisk);
    }

    /** As {@link #replicaOf(VdiskStore, String)} on any site's store. */
    public static Optional<ReplicaRecord> replicaOf(MirrorStore store, String vdisk) {
        return store.replicaRecord(vdisk).map(bytes -> ReplicaRecord.decode(vdisk, bytes));
    }

    /**
     * Makes primary {@code vdisk} a replica of vdisk {@code peerVdiskId} of site {@code peerSite},
     * at mirror snapshot {@code lastCommon}, which both sites hold. From then on its writes are
     * refused (READ_ONLY) and only the peer's rounds change it. Its head is not touched: the next
     * round applied rolls it back to {@code lastCommon} first.
     */
    public static ReplicaRecord demote(MirrorStore store, String vdisk, String peerSite, long peerVdiskId, String lastCommon) {
        if (replicaOf(store, vdisk).isPresent()) {
            throw new IllegalStateException("vdisk " + vdisk + " is a replica already (expected: a primary to demote)");
        }
        store.snapshot(vdisk, lastCommon); // refuses, naming it, when the common snapshot is not here
        ReplicaRecord r = new ReplicaRecord(peerSite, peerVdiskId, Optional.of(lastCommon), round(lastCommon), Optional.of(UUID.randomUUID()));
        store.markReplica(vdisk, r.encode());
        return r;
    }

    /**
     * Takes mirror snapshot {@code snap} of demoted {@code vdisk}'s head (its last writes, now
     * refused) and records it as the snapshot both sites will hold once it is shipped: the final
     * round of a planned failover.
     */
    public static SnapshotInfo finalSnapshot(MirrorStore store, String vdisk, String snap) {
        ReplicaRecord r = replicaOf(store, vdisk).orElseThrow(() -> new IllegalStateException(
                "vdisk " + vdisk + " is a primary (expected: demoted before its final snapshot)"));
        ReplicaRecord next = new ReplicaRecord(r.sourceSite(), r.sourceVdiskId(), Optional.of(snap), round(snap), Optional.of(UUID.randomUUID()));
        try (MirrorStore.Writer w = store.openReplicaWriter(vdisk)) {
            return w.commitSnapshot(snap, next.encode());
        }
    }

    /**
     * Makes replica {@code vdisk} an ordinary writable vdisk, reading as its last complete snapshot;
     * returns the record it had. A mirror snapshot above the record (a cluster's: committed, and the
     * record not yet, when a crash came) goes first: it is no round of the record's, and once
     * primary here the name would be taken for one both sites hold.
     */
    public static ReplicaRecord promote(MirrorStore store, String vdisk) {
        ReplicaRecord r = replicaOf(store, vdisk).orElseThrow(() -> new IllegalStateException(
                "vdisk " + vdisk + " is a primary already (expected: a replica to promote)"));
        String last = r.lastSnapshot().orElseThrow(() -> new IllegalStateException(
                "replica " + vdisk + " of site " + r.sourceSite() + " has no complete snapshot yet (expected: a first sync completed)"));
        try (MirrorStore.Writer w = store.openReplicaWriter(vdisk)) {
            for (SnapshotInfo s : store.snapshots(vdisk).reversed()) {
                OptionalLong n = MirrorSnapshots.sequenceOf(s.name());
                if (n.isPresent() && n.getAsLong() > r.lastSequence()) {
                    w.removeSnapshot(s.name());
                }
            }
            w.rollback(last); // drops what an interrupted apply wrote
        }
        store.unmarkReplica(vdisk);
        return r;
    }

    /**
     * Takes primary {@code vdisk} back to mirror snapshot {@code lastCommon}: its head rolls back
     * and its mirror snapshots newer than that (never on the peer) are removed. What it was
     * written since is gone: the side an operator chose to discard.
     */
    public static List<String> revert(MirrorStore store, String vdisk, String lastCommon) {
        long keep = round(lastCommon);
        store.snapshot(vdisk, lastCommon); // refuses, naming it, when the common snapshot is not here
        List<String> removed = new ArrayList<>();
        for (SnapshotInfo s : store.snapshots(vdisk).reversed()) {
            OptionalLong n = MirrorSnapshots.sequenceOf(s.name());
            if (n.isPresent() && n.getAsLong() > keep) {
                store.removeSnapshot(vdisk, s.name());
                removed.add(s.name());
            }
        }
        // After the removals: without later snapshots a rollback only deletes.
        store.rollback(vdisk, lastCommon);
        return removed;
    }

    private static long round(String mirrorSnapshot) {
        return MirrorSnapshots.sequenceOf(mirrorSnapshot).orElseThrow(() -> new IllegalArgumentException(
                "mirror snapshot: " + mirrorSnapshot + " (expected: " + MirrorSnapshots.PREFIX + "<round>)"));
    }
}
