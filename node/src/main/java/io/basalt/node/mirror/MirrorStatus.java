package io.basalt.node.mirror;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

import io.basalt.replication.MirrorRoles;
import io.basalt.replication.MirrorSnapshots;
import io.basalt.replication.ReplicaRecord;
import io.basalt.vdisk.store.Extent;

/**
 * {@code basalt mirror status}: one row per mirrored vdisk of this site, primary or replica.
 * A primary's lag is the true recovery point: the age of the last snapshot the peer holds
 * (taken here), and the bytes written since it (the engine's O(changed) diff). A replica knows
 * only when it applied its last snapshot, so its age counts from then.
 */
public final class MirrorStatus {
    private MirrorStatus() {}

    /**
     * @param state            SYNCING (no round done yet), OK, ERROR (the last round failed; {@code error} says why),
     *                         HELD (promoted by an unplanned failover: nothing shipped until the old primary fails back),
     *                         SPLIT_BRAIN (both sites primary), REPLICA, or NOT_SERVING (no serving process runs the schedule)
     * @param lagSeconds       age of {@code lastSnapshot} (primary: since taken; replica: since applied); -1 when none
     * @param lagBytes         bytes written since {@code lastSnapshot} (primary only; -1 elsewhere)
     * @param throughputBytesPerSecond the last round's stream bytes over its duration (primary); 0 when unknown
     */
    public record Row(String vdisk, String role, String peer, String state, String lastSnapshot, double lagSeconds, long lagBytes,
                      long lastRoundBytes, long throughputBytesPerSecond, long rounds, String error) {}

    static List<Row> rows(io.basalt.replication.MirrorStore store, MirrorConfig config, Map<String, MirrorService.Progress> progress, Optional<String> only, long nowMs) {
        TreeSet<String> names = new TreeSet<>();
        config.mirrors().forEach(m -> names.add(m.vdisk()));
        store.names().forEach(v -> {
            if (store.replicaRecord(v).isPresent()) {
                names.add(v);
            }
        });
        if (only.isPresent()) {
            if (!names.contains(only.get())) {
                throw new IllegalArgumentException("vdisk: " + only.get() + " (expected: a mirrored vdisk or a replica; see basalt mirror status)");
            }
            names.retainAll(List.of(only.get()));
        }
        List<Row> out = new ArrayList<>();
        for (String name : names) {
            MirrorService.Progress p = progress == null ? null : progress.get(name);
            Optional<ReplicaRecord> replica = MirrorRoles.replicaOf(store, name);
            out.add(replica.isPresent() ? replicaRow(store, name, replica.get(), p, nowMs)
                    : primaryRow(store, config.mirror(name).orElseThrow(), p, progress == null, nowMs));
        }
        return out;
    }

    private static Row primaryRow(io.basalt.replication.MirrorStore store, MirrorConfig.Mirror m, MirrorService.Progress p, boolean offline, long nowMs) {
        String vdisk = m.vdisk();
        List<String> snaps = store.snapshots(vdisk).stream().map(s -> s.name())
                .filter(n -> MirrorSnapshots.sequenceOf(n).isPresent())
                .sorted((x, y) -> Long.compare(MirrorSnapshots.sequenceOf(x).getAsLong(), MirrorSnapshots.sequenceOf(y).getAsLong())).toList();
        Optional<String> last = (p == null ? Optional.<String>empty() : p.lastCommon()).filter(snaps::contains)
                .or(() -> snaps.isEmpty() || p != null && p.roundsDone() == 0 && p.lastCommon().isEmpty() ? Optional.empty() : Optional.of(snaps.getFirst()));
        double age;
        long lagBytes;
        try {
            age = last.map(s -> (nowMs - store.snapshot(vdisk, s).createdEpochMs()) / 1000.0).orElse(-1.0);
            // No mirror snapshot yet: the whole vdisk is to ship. Snapshots but none known common (a start that has not asked the peer): unknown.
            lagBytes = last.map(s -> store.diff(vdisk, s, null).stream().mapToLong(Extent::lengthBytes).sum())
                    .orElse(snaps.isEmpty() ? store.info(vdisk).sizeBytes() : -1);
        } catch (IllegalArgumentException | io.basalt.vdisk.BlockDeviceException | io.basalt.vdisk.store.StoreException e) {
            // A round completed meanwhile and pruned the snapshot read above (status does not take the round lock): unknown for now.
            age = -1;
            lagBytes = -1;
        }
        String state = offline ? "NOT_SERVING" : m.held() && (p == null || p.state() != MirrorService.State.SPLIT_BRAIN) ? "HELD"
                : p == null ? "SYNCING" : p.state().name();
        return new Row(vdisk, "primary", m.peer(), state, last.orElse("-"), age, lagBytes, p == null ? 0 : p.lastRoundBytes(),
                throughput(p), p == null ? 0 : p.roundsDone(), p == null ? "" : p.error().orElse(""));
    }

    private static Row replicaRow(io.basalt.replication.MirrorStore store, String vdisk, ReplicaRecord r, MirrorService.Progress p, long nowMs) {
        double age;
        try {
            age = r.lastSnapshot().map(s -> (nowMs - store.snapshot(vdisk, s).createdEpochMs()) / 1000.0).orElse(-1.0);
        } catch (IllegalArgumentException | io.basalt.vdisk.store.StoreException e) {
            age = -1; // the next round was applied meanwhile and pruned the snapshot the record named
        }
        return new Row(vdisk, "replica", r.sourceSite(), "REPLICA", r.lastSnapshot().orElse("-"), age, -1,
                p == null ? 0 : p.lastRoundBytes(), 0, p == null ? 0 : p.roundsDone(), "");
    }

    private static long throughput(MirrorService.Progress p) {
        return p == null || p.lastRoundNanos() == 0 ? 0 : (long) (p.lastRoundBytes() / (p.lastRoundNanos() / 1e9));
    }

    /** Rows of a site with no serving process: its records and store, nothing of rounds. */
    public static List<Row> offline(io.basalt.replication.MirrorStore store, io.basalt.node.config.Configs configs, Optional<String> only) {
        return rows(store, new MirrorConfig(configs), null, only, System.currentTimeMillis());
    }
}
