package io.basalt.node.mirror;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

import io.basalt.replication.MirrorRoles;
import io.basalt.replication.MirrorSnapshots;
import io.basalt.replication.ReplicaRecord;

/**
 * Consistency groups (docs/architecture.md, "Replication"): several vdisks, one VM's disks say,
 * mirrored at the same instants, so the secondary always holds one round that is consistent
 * across all of them.
 *
 * <ul>
 *   <li>On the primary site a group round takes {@code mirror-N} of every member at one instant
 *       ({@code MirrorStore.createSnapshots}: one engine batch; on a cluster through the one VM
 *       that writes them all, or the store when nothing does) and ships each member's changes. A member
 *       whose shipment failed ships that same snapshot at the next interval before the group
 *       takes another, so members never drift more than one round apart.</li>
 *   <li>The primary announces the group to its peer (a {@code group} call). There, each member
 *       keeps its mirror snapshots from the group's <em>consistent round</em> on: the newest round
 *       every member holds complete. A failover of the group promotes every member at that
 *       round, reverting those that were a round ahead.</li>
 * </ul>
 */
public final class MirrorGroups {
    private final MirrorService service;
    /** Groups as last announced to their peer by this process: announced again when the record changes. */
    private final Set<MirrorConfig.Group> announced = ConcurrentHashMap.newKeySet();

    MirrorGroups(MirrorService service) {
        this.service = service;
    }

    /** {@code basalt mirror group create}: mirror {@code g}'s vdisks together; none of them may be mirrored yet. */
    public static void create(io.basalt.vdisk.store.VdiskStore store, MirrorConfig config, MirrorConfig.Group g) {
        create(io.basalt.replication.MirrorStore.of(store), config, g);
    }

    /** As {@link #create(io.basalt.vdisk.store.VdiskStore, MirrorConfig, MirrorConfig.Group)} on any site's store. */
    public static void create(io.basalt.replication.MirrorStore store, MirrorConfig config, MirrorConfig.Group g) {
        MirrorConfig.checkGroupName(g.name());
        if (!store.groupSnapshots()) {
            throw new IllegalArgumentException("mirror group " + g.name() + ": on " + store.describe() + " (expected: a site that snapshots"
                    + " several vdisks at one instant; mirror its vdisks one by one with basalt mirror enable)");
        }
        config.siteName();
        if (config.group(g.name()).isPresent()) {
            throw new IllegalArgumentException("group: " + g.name() + " exists (expected: a new name; see basalt mirror group ls)");
        }
        if (g.vdisks().isEmpty() || new HashSet<>(g.vdisks()).size() != g.vdisks().size()) {
            throw new IllegalArgumentException("vdisks: " + g.vdisks() + " (expected: at least one, each once)");
        }
        for (String v : g.vdisks()) {
            store.info(v); // refuses, naming it, a vdisk that does not exist
            if (MirrorRoles.replicaOf(store, v).isPresent()) {
                throw new IllegalArgumentException("vdisk: " + v + " is a replica (expected: a primary; a replica's site mirrors it here)");
            }
            Optional<MirrorConfig.Mirror> m = config.mirror(v);
            if (m.isPresent()) {
                throw new IllegalArgumentException("vdisk: " + v + " is mirrored to site " + m.get().peer()
                        + config.groupOf(v).map(x -> " in group " + x.name()).orElse("") + " (expected: one not mirrored yet; basalt mirror disable first)");
            }
        }
        List<MirrorConfig.Mirror> mirrors = g.vdisks().stream().map(v -> new MirrorConfig.Mirror(v, g.peer(), g.intervalMs(), false)).toList();
        mirrors.forEach(config::checkMirror); // a refused peer or interval leaves no record behind
        config.putGroup(g);
        mirrors.forEach(config::putMirror);
    }

    /** On the scheduler thread: one round of {@code g}; failures are recorded in each member's progress. */
    void roundGuarded(MirrorConfig.Group g) {
        List<MirrorConfig.Mirror> members = new ArrayList<>();
        for (String v : g.vdisks()) {
            Optional<MirrorConfig.Mirror> m = service.config.mirror(v);
            if (m.isEmpty() || !m.get().peer().equals(g.peer()) || m.get().held()) {
                return; // a member failed over, held or disabled on its own: its own record decides; the group waits
            }
            members.add(m.get());
        }
        withLocks(g.vdisks(), () -> {
            announce(g);
            round(g, members);
            return null;
        });
    }

    /**
     * Ships each member's snapshot still waiting from a failed round; when none waits, takes
     * {@code mirror-N} of all members at one instant and ships it. Holds every member's lock.
     */
    private void round(MirrorConfig.Group g, List<MirrorConfig.Mirror> members) {
        List<String> from = new ArrayList<>();
        List<Optional<String>> pending = new ArrayList<>();
        long last = 0;
        for (MirrorConfig.Mirror m : members) {
            List<String> snaps = service.mirrorSnapshots(m.vdisk());
            String f = service.lastCommon(m, snaps);
            from.add(f);
            pending.add(MirrorService.pendingAfter(f, snaps));
            if (!snaps.isEmpty()) {
                last = Math.max(last, MirrorSnapshots.sequenceOf(snaps.getLast()).getAsLong());
            }
        }
        boolean catchingUp = pending.stream().anyMatch(Optional::isPresent);
        String taken = MirrorSnapshots.name(last + 1);
        if (!catchingUp) {
            try {
                service.store.createSnapshots(g.vdisks(), taken);
            } catch (RuntimeException e) {
                members.forEach(m -> service.recordFailure(m, e)); // each member's status says why the group waits
                throw e;
            }
        }
        RuntimeException failed = null;
        for (int i = 0; i < members.size(); i++) {
            MirrorConfig.Mirror m = members.get(i);
            String to = catchingUp ? pending.get(i).orElse(null) : taken;
            if (to == null) {
                continue;
            }
            try {
                service.shipOnly(m, from.get(i), to);
                from.set(i, to);
            } catch (RuntimeException e) {
                service.recordFailure(m, e);
                failed = failed == null ? e : failed;
            }
        }
        prune(members, from);
        if (failed != null) {
            throw failed;
        }
    }

    /**
     * Removes members' mirror snapshots older than the oldest of {@code common} (each member's
     * last snapshot both sites hold): the secondary may fail the group over at that round, and a
     * failback then starts from it, so every member keeps it here.
     */
    private void prune(List<MirrorConfig.Mirror> members, List<String> common) {
        if (common.contains(null)) {
            return; // a member's first sync is not through: nothing older to prune anyway
        }
        String oldest = common.stream().min(java.util.Comparator.comparingLong(s -> MirrorSnapshots.sequenceOf(s).getAsLong())).orElseThrow();
        for (MirrorConfig.Mirror m : members) {
            MirrorSnapshots.prunePrimary(service.store, m.vdisk(), oldest);
        }
    }

    /** Tells the peer which of its replicas form {@code g}, once per record this process runs. */
    private void announce(MirrorConfig.Group g) {
        if (announced.contains(g)) {
            return;
        }
        service.dr.call(service.config.existingPeer(g.peer()), "group", Map.of("group", g.name(), "vdisks", g.vdisks()));
        announced.removeIf(old -> old.name().equals(g.name()));
        announced.add(g);
    }

    /** {@code basalt mirror group rm}: members stop mirroring (their mirror snapshots here go); the peer forgets the group. */
    List<String> remove(String name) {
        MirrorConfig.Group g = service.config.existingGroup(name);
        return withLocks(g.vdisks(), () -> {
            g.vdisks().forEach(service.progress::remove);
            List<String> removed = removeRecords(service.store, service.config, name);
            announced.remove(g);
            try {
                service.dr.call(service.config.existingPeer(g.peer()), "group", Map.of("group", name, "vdisks", List.of()));
            } catch (RuntimeException e) {
                // The peer is away: its record only keeps a few more snapshots, and allows a failover of the group there.
                MirrorService.log.warn("group {}: site {} not told it was removed: {}", name, g.peer(), e.getMessage());
            }
            return removed;
        });
    }

    /**
     * Removes group {@code name}'s records here and its members' mirroring (their mirror
     * snapshots, as {@code basalt mirror disable}); returns the snapshots removed. Without a
     * serving process the peer is not told: its record of the group stays until a failover.
     */
    public static List<String> removeRecords(io.basalt.replication.MirrorStore store, MirrorConfig config, String name) {
        MirrorConfig.Group g = config.existingGroup(name);
        List<String> removed = new ArrayList<>();
        for (String v : g.vdisks()) {
            if (config.mirror(v).isPresent()) {
                MirrorService.disable(store, config, v).forEach(snap -> removed.add(v + "@" + snap));
            }
        }
        config.removeGroup(name);
        return removed;
    }

    /**
     * A member was demoted here (a planned failover to the peer): the group goes once none of its
     * members is mirrored from here any more. Until then its record stays whole and its rounds wait
     * (a member is no longer mirrored from here): announcing the rest to the peer while it fails
     * the group over, one member after another, would drop the members already over from its
     * record of the group, and a failover stopped part-way could not finish them.
     */
    void leave(String vdisk) {
        service.config.groupOf(vdisk).ifPresent(g -> {
            if (g.vdisks().stream().noneMatch(v -> service.config.mirror(v).isPresent())) {
                service.config.removeGroup(g.name());
            }
        });
    }

    /** The peer's {@code group} call: records (or forgets) the group its replicas here form. */
    Map<String, Object> announced(String peer, String name, List<String> vdisks) {
        for (String v : vdisks) {
            ReplicaRecord r = service.store.exists(v) ? MirrorRoles.replicaOf(service.store, v).orElse(null) : null; // none before its first sync
            if (r != null && !r.sourceSite().equals(peer)) {
                throw new IllegalArgumentException("group " + name + ": vdisk " + v + " here is a replica of site " + r.sourceSite() + " (expected: of site " + peer + ")");
            }
        }
        service.config.putReplicaGroup(new MirrorConfig.ReplicaGroup(name, peer, vdisks));
        return Map.of("group", name, "vdisks", vdisks);
    }

    /**
     * The newest round every replica of {@code g} holds complete here; empty while one of them
     * holds none (a first sync not done) or they share no round.
     */
    OptionalLong consistentRound(List<String> replicas) {
        return consistentRound(service.store, replicas);
    }

    /** As {@link #consistentRound(List)}, read from {@code store} alone (no serving process needed). */
    public static OptionalLong consistentRound(io.basalt.vdisk.store.VdiskStore store, List<String> replicas) {
        return consistentRound(io.basalt.replication.MirrorStore.of(store), replicas);
    }

    /**
     * As {@link #consistentRound(io.basalt.vdisk.store.VdiskStore, List)} on any site's store. A
     * replica's round counts once its record does: on a cluster a replica's snapshot is committed
     * before its record, and one a crash left above the record is no complete round (the next apply
     * removes it), so a group's round becomes visible when every member's record holds it.
     */
    public static OptionalLong consistentRound(io.basalt.replication.MirrorStore store, List<String> replicas) {
        Set<Long> common = null;
        for (String v : replicas) {
            if (!store.exists(v)) {
                return OptionalLong.empty();
            }
            Optional<ReplicaRecord> record = MirrorRoles.replicaOf(store, v);
            long upTo = record.map(ReplicaRecord::lastSequence).orElse(Long.MAX_VALUE);
            Set<Long> rounds = new TreeSet<>();
            MirrorService.mirrorSnapshots(store, v).stream().map(s -> MirrorSnapshots.sequenceOf(s).getAsLong())
                    .filter(n -> n <= upTo).forEach(rounds::add);
            if (common == null) {
                common = rounds;
            } else {
                common.retainAll(rounds);
            }
        }
        return common == null || common.isEmpty() ? OptionalLong.empty() : OptionalLong.of(Collections.max(common));
    }

    /**
     * After a round was applied to replica {@code vdisk}: removes its mirror snapshots no longer
     * needed, those older than its last complete one, or older than its group's consistent round.
     */
    List<String> pruneReplica(String vdisk) {
        ReplicaRecord r = MirrorRoles.replicaOf(service.store, vdisk).orElse(null);
        if (r == null || r.lastSnapshot().isEmpty()) {
            return List.of();
        }
        long keepFrom = MirrorSnapshots.sequenceOf(r.lastSnapshot().get()).getAsLong();
        Optional<MirrorConfig.ReplicaGroup> g = service.config.replicaGroupOf(vdisk);
        if (g.isPresent()) {
            OptionalLong consistent = consistentRound(g.get().vdisks());
            if (consistent.isEmpty()) {
                return List.of();
            }
            keepFrom = Math.min(keepFrom, consistent.getAsLong());
        }
        List<String> removed = new ArrayList<>();
        try (io.basalt.replication.MirrorStore.Writer w = service.store.openReplicaWriter(vdisk)) {
            for (String s : service.mirrorSnapshots(vdisk)) {
                if (MirrorSnapshots.sequenceOf(s).getAsLong() < keepFrom && !service.store.hasClones(vdisk, s)) {
                    w.removeSnapshot(s);
                    removed.add(s);
                }
            }
        }
        return removed;
    }

    /**
     * {@code basalt dr failover --group}, on the replicas' site. Planned: each member fails over
     * planned (no write lost; the primary demotes them one by one). Unplanned: every member is
     * promoted at the group's consistent round, members a round ahead reverted to it.
     */
    List<Dr.Outcome> failover(String name, boolean planned) {
        MirrorConfig.ReplicaGroup g = service.config.replicaGroup(name).orElseThrow(() -> new IllegalArgumentException(
                "group: " + name + " (expected: a group whose replicas are here; groups here: "
                        + service.config.replicaGroups().stream().map(MirrorConfig.ReplicaGroup::name).toList() + ")"));
        List<Dr.Outcome> out = new ArrayList<>();
        if (planned) {
            out.addAll(plannedMembers(g));
        } else {
            out.addAll(holdingRounds(g.vdisks(), () -> unplanned(g)));
        }
        long intervalMs = out.stream().map(o -> service.config.mirror(o.vdisk())).flatMap(Optional::stream)
                .mapToLong(MirrorConfig.Mirror::intervalMs).max().orElse(Dr.INTERVAL_AFTER_UNPLANNED_MS);
        service.config.putGroup(new MirrorConfig.Group(name, g.sourceSite(), intervalMs, g.vdisks()));
        service.config.putReplicaGroup(new MirrorConfig.ReplicaGroup(name, g.sourceSite(), List.of()));
        return out;
    }

    /**
     * Fails each member over planned, one by one. A member already primary here, mirrored back
     * to the group's source (an earlier attempt got that far), is passed over, so after a
     * failure part-way the same command finishes the group; the failure says how far it got.
     */
    private List<Dr.Outcome> plannedMembers(MirrorConfig.ReplicaGroup g) {
        List<Dr.Outcome> out = new ArrayList<>();
        for (String v : g.vdisks()) {
            boolean done = service.store.exists(v) && MirrorRoles.replicaOf(service.store, v).isEmpty()
                    && service.config.mirror(v).map(m -> m.peer().equals(g.sourceSite())).orElse(false);
            if (done) {
                out.add(new Dr.Outcome(v, List.of("site " + service.siteName + ": " + v + " is primary here already (failed over by an earlier attempt)"),
                        "", 0, 0, 0));
                continue;
            }
            try {
                out.add(service.dr.failover(v, true));
            } catch (RuntimeException e) {
                List<String> over = out.stream().map(Dr.Outcome::vdisk).toList();
                throw new IllegalStateException("group " + g.name() + ": planned failover of " + v + " failed (" + e.getMessage() + "); "
                        + (over.isEmpty() ? "no member" : "members " + over) + " failed over, the rest are still replicas here;"
                        + " run basalt dr failover --group " + g.name() + " --planned again to finish", e);
            }
        }
        return out;
    }

    private List<Dr.Outcome> unplanned(MirrorConfig.ReplicaGroup g) {
        OptionalLong consistent = consistentRound(g.vdisks());
        if (consistent.isEmpty()) {
            throw new IllegalStateException("group " + g.name() + ": its replicas here share no complete round (a first sync not done?); "
                    + "fail over its vdisks one by one if that is meant");
        }
        String at = MirrorSnapshots.name(consistent.getAsLong());
        List<Dr.Outcome> out = new ArrayList<>();
        for (String v : g.vdisks()) {
            ReplicaRecord r = MirrorRoles.replicaOf(service.store, v).orElseThrow(() -> new IllegalArgumentException(
                    "vdisk: " + v + " of group " + g.name() + " is primary here already (expected: every member a replica)"));
            out.add(service.dr.unplannedFailover(v, service.config.existingPeer(r.sourceSite()), r, at));
        }
        return out;
    }

    /** {@code basalt dr failback --group}: each member fails back; the group is mirrored from here again. */
    List<Dr.Outcome> failback(String name, boolean discardLocal) {
        MirrorConfig.Group here = service.config.group(name).orElseThrow(() -> new IllegalArgumentException(
                "group: " + name + " (expected: a group this site mirrored before the failover; see basalt mirror group ls)"));
        List<Dr.Outcome> out = new ArrayList<>();
        for (String v : here.vdisks()) {
            out.add(service.dr.failback(v, discardLocal));
        }
        return out;
    }

    /** Runs {@code action} holding every one of {@code vdisks}' round locks, taken in name order. */
    private <T> T withLocks(List<String> vdisks, Supplier<T> action) {
        List<ReentrantLock> locks = new TreeSet<>(vdisks).stream().map(service::lockOf).toList();
        int held = 0;
        try {
            for (; held < locks.size(); held++) {
                locks.get(held).lock();
            }
            return action.get();
        } finally {
            for (int i = held - 1; i >= 0; i--) {
                locks.get(i).unlock();
            }
        }
    }

    /** Runs {@code action} with no round applied to any of {@code replicas} meanwhile, nor a scheduled round of theirs. */
    private <T> T holdingRounds(List<String> replicas, Supplier<T> action) {
        return withLocks(replicas, () -> holding(new ArrayList<>(new TreeSet<>(replicas)), 0, action));
    }

    private <T> T holding(List<String> replicas, int at, Supplier<T> action) {
        return at == replicas.size() ? action.get() : service.withoutRounds(replicas.get(at), () -> holding(replicas, at + 1, action));
    }

    /** What {@code basalt mirror group ls} shows of a group here, as primary or as replicas. */
    public record Row(String group, String role, String peer, List<String> vdisks, String consistentSnapshot) {}

    List<Row> rows() {
        return rows(service.config, this::consistentRound);
    }

    public static List<Row> rows(MirrorConfig config, java.util.function.Function<List<String>, OptionalLong> consistent) {
        List<Row> out = new ArrayList<>();
        for (MirrorConfig.Group g : config.groups()) {
            out.add(new Row(g.name(), "primary", g.peer(), g.vdisks(), ""));
        }
        for (MirrorConfig.ReplicaGroup g : config.replicaGroups()) {
            OptionalLong c = consistent.apply(g.vdisks());
            out.add(new Row(g.name(), "replica", g.sourceSite(), g.vdisks(), c.isPresent() ? MirrorSnapshots.name(c.getAsLong()) : "-"));
        }
        return out;
    }
}
