package io.basalt.replication;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

import io.basalt.vdisk.store.SnapshotInfo;
import io.basalt.vdisk.store.VdiskStore;

/**
 * Names of mirror snapshots ({@code mirror-<round>}) and their pruning on both sides. Each side
 * keeps the last snapshot both sides hold (the replica's last complete one): the next stream
 * starts from it, and a failback will revert to it. The primary also keeps every newer one
 * (taken, not yet applied). A snapshot with clones (a DR test's clone of a replica, say) is kept
 * on either side; it is pruned in a later round once its clones are gone.
 */
public final class MirrorSnapshots {
    public static final String PREFIX = "mirror-";

    private MirrorSnapshots() {}

    public static String name(long sequence) {
        if (sequence < 1) {
            throw new IllegalArgumentException("mirror round: " + sequence + " (expected: >= 1)");
        }
        return PREFIX + sequence;
    }

    /** The round of mirror snapshot {@code snapName}; empty for any other snapshot. */
    public static OptionalLong sequenceOf(String snapName) {
        if (!snapName.startsWith(PREFIX) || snapName.length() == PREFIX.length() || snapName.length() > PREFIX.length() + 19) {
            return OptionalLong.empty();
        }
        String digits = snapName.substring(PREFIX.length());
        if (!digits.chars().allMatch(c -> c >= '0' && c <= '9') || digits.charAt(0) == '0') {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(Long.parseLong(digits));
        } catch (NumberFormatException e) {
            return OptionalLong.empty(); // 19 digits above Long.MAX_VALUE: no round of ours
        }
    }

    /**
     * Removes the primary's mirror snapshots of {@code vdisk} older than {@code lastCommon} (the
     * replica's last complete snapshot); returns the names removed.
     */
    public static List<String> prunePrimary(VdiskStore store, String vdisk, String lastCommon) {
        return prunePrimary(MirrorStore.of(store), vdisk, lastCommon);
    }

    /** As {@link #prunePrimary(VdiskStore, String, String)} on any site's store. */
    public static List<String> prunePrimary(MirrorStore store, String vdisk, String lastCommon) {
        long keepFrom = round(lastCommon);
        store.snapshot(vdisk, lastCommon); // refuses, naming it, when the common snapshot is not here
        List<String> removed = new ArrayList<>();
        for (String snap : olderMirrorSnapshots(store, vdisk, keepFrom)) {
            store.removeSnapshot(vdisk, snap);
            removed.add(snap);
        }
        return removed;
    }

    /** Removes the replica's mirror snapshots older than its last complete one; returns the names removed. */
    public static List<String> pruneReplica(VdiskStore store, String replica) {
        return pruneReplica(MirrorStore.of(store), replica);
    }

    /** As {@link #pruneReplica(VdiskStore, String)} on any site's store. */
    public static List<String> pruneReplica(MirrorStore store, String replica) {
        ReplicaRecord r = ReplicaRecord.decode(replica, store.replicaRecord(replica).orElseThrow(
                () -> new IllegalArgumentException("vdisk " + replica + ": not a replica (expected: a mirror's replica)")));
        if (r.lastSnapshot().isEmpty()) {
            return List.of();
        }
        List<String> removed = new ArrayList<>();
        try (MirrorStore.Writer writer = store.openReplicaWriter(replica)) {
            for (String snap : olderMirrorSnapshots(store, replica, round(r.lastSnapshot().get()))) {
                writer.removeSnapshot(snap);
                removed.add(snap);
            }
        }
        return removed;
    }

    /** Mirror snapshots of {@code vdisk} of a round below {@code keepFrom} that have no clones, oldest first. */
    private static List<String> olderMirrorSnapshots(MirrorStore store, String vdisk, long keepFrom) {
        List<String> out = new ArrayList<>();
        for (SnapshotInfo s : store.snapshots(vdisk)) {
            OptionalLong round = sequenceOf(s.name());
            if (round.isPresent() && round.getAsLong() < keepFrom && !store.hasClones(vdisk, s.name())) {
                out.add(s.name());
            }
        }
        return out;
    }

    private static long round(String mirrorSnapshot) {
        return sequenceOf(mirrorSnapshot).orElseThrow(() -> new IllegalArgumentException(
                "mirror snapshot: " + mirrorSnapshot + " (expected: " + PREFIX + "<round>)"));
    }
}
