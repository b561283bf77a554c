package io.basalt.node.mirror;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;

import com.fasterxml.jackson.databind.JsonNode;

import io.basalt.node.mirror.MirrorService.Progress;
import io.basalt.node.mirror.MirrorService.State;
import io.basalt.replication.MirrorRoles;
import io.basalt.replication.MirrorSnapshots;
import io.basalt.replication.ReplicaRecord;
import io.basalt.replication.link.MirrorClient;
import io.basalt.vdisk.store.SnapshotInfo;

/**
 * Failover and failback of a mirrored vdisk between this site and its peer, and this site's
 * answers to the peer's calls for them (docs/architecture.md, "Replication"):
 *
 * <ul>
 *   <li>Planned failover, run on the replica's site: the peer demotes its copy (its writes are
 *       refused from then on), takes a final snapshot and ships it; then this copy is promoted and
 *       mirrors back to the peer. No write is lost.</li>
 *   <li>Unplanned failover, run on the replica's site while the primary is away: this copy is
 *       promoted at its last complete snapshot; writes on the primary after it are not here (the
 *       data-loss window is printed). It ships nothing until the old primary fails back: two
 *       primaries never resync by themselves.</li>
 *   <li>Failback, run on the old primary's site: with {@code --discard-local} its copy reverts to
 *       the last snapshot both sites hold and becomes the peer's replica, the peer ships only what
 *       changed since, and a planned failover makes this site primary again.</li>
 * </ul>
 * Calls over the link: {@code role}, {@code demote}, {@code sync}, {@code group} ({@link MirrorGroups}), each a JSON object.
 */
public final class Dr {
    /** The interval of a mirror a promotion starts when the old primary's is unknown (unplanned). */
    static final long INTERVAL_AFTER_UNPLANNED_MS = 2000;

    /** What a failover or failback did: lines for the operator, and the bytes of its rounds. */
    public record Outcome(String vdisk, List<String> lines, String snapshot, long resyncBytes, long finalRoundBytes, long dataLossWindowMs) {}

    private final MirrorService service;

    Dr(MirrorService service) {
        this.service = service;
    }

    Outcome failover(String vdisk, boolean planned) {
        ReplicaRecord r = MirrorRoles.replicaOf(service.store, vdisk).orElseThrow(() -> new IllegalArgumentException(
                "vdisk: " + vdisk + " is primary on site " + service.siteName + " (expected: a replica to fail over to)"));
        MirrorConfig.Peer peer = service.config.existingPeer(r.sourceSite());
        return planned ? plannedFailover(vdisk, peer) : unplannedFailover(vdisk, peer, r);
    }

    private Outcome plannedFailover(String vdisk, MirrorConfig.Peer peer) {
        JsonNode reply = call(peer, "demote", Map.of("vdisk", vdisk, "peerVdiskId", service.store.info(vdisk).id()));
        String snap = reply.get("snapshot").asText();
        ReentrantLock lock = service.lockOf(vdisk);
        lock.lock();
        try {
            String here = MirrorRoles.replicaOf(service.store, vdisk).flatMap(ReplicaRecord::lastSnapshot).orElse("(none)");
            if (!here.equals(snap)) {
                throw new IllegalStateException("site " + peer.name() + " demoted " + vdisk + " at " + snap + " but the replica here holds "
                        + here + "; run basalt dr failover " + vdisk + " --planned again");
            }
            service.withoutRounds(vdisk, () -> MirrorRoles.promote(service.store, vdisk));
            service.config.putMirror(new MirrorConfig.Mirror(vdisk, peer.name(), reply.get("intervalMs").asLong(), false));
            service.progress.put(vdisk, Progress.NONE.withCommon(snap).withState(State.OK));
        } finally {
            lock.unlock();
        }
        long bytes = reply.get("streamBytes").asLong();
        return new Outcome(vdisk, List.of(
                "site " + peer.name() + ": " + vdisk + " demoted, its writes are refused from now on",
                "final round " + snap + ": " + bytes + " bytes shipped and applied here",
                "site " + service.siteName + ": " + vdisk + " is primary at " + snap + ", no write lost",
                "mirroring " + service.siteName + " -> " + peer.name() + " every " + reply.get("intervalMs").asLong() + " ms"),
                snap, 0, bytes, 0);
    }

    private Outcome unplannedFailover(String vdisk, MirrorConfig.Peer peer, ReplicaRecord r) {
        ReentrantLock lock = service.lockOf(vdisk);
        lock.lock();
        try {
            return service.withoutRounds(vdisk, () -> unplannedFailover(vdisk, peer, r, r.lastSnapshot().orElseThrow()));
        } finally {
            lock.unlock();
        }
    }

    /**
     * Promotes replica {@code vdisk} at mirror snapshot {@code snap} (its last complete one, or an
     * older one it holds: a consistency group's round), mirroring back held. The caller holds the
     * vdisk's lock and keeps rounds away ({@link MirrorService#withoutRounds}).
     */
    Outcome unplannedFailover(String vdisk, MirrorConfig.Peer peer, ReplicaRecord r, String snap) {
        assert service.lockOf(vdisk).isHeldByCurrentThread() : "vdisk " + vdisk + ": unplanned failover without its round lock";
        MirrorRoles.promote(service.store, vdisk);
        if (!r.lastSnapshot().orElseThrow().equals(snap)) {
            MirrorRoles.revert(service.store, vdisk, snap);
        }
        SnapshotInfo s = service.store.snapshot(vdisk, snap);
        long windowMs = Math.max(0, System.currentTimeMillis() - s.createdEpochMs());
        service.config.putMirror(new MirrorConfig.Mirror(vdisk, peer.name(), INTERVAL_AFTER_UNPLANNED_MS, true));
        service.progress.put(vdisk, Progress.NONE.withCommon(snap).withState(State.HELD));
        return new Outcome(vdisk, List.of(
                "site " + service.siteName + ": " + vdisk + " promoted at " + snap + (r.lastSnapshot().orElseThrow().equals(snap)
                        ? ", its last complete mirror snapshot" : ", its group's consistent round (reverted from " + r.lastSnapshot().get() + ")"),
                String.format("data-loss window: writes on site %s after it took %s are not here (%s was applied here %.1f s ago)",
                        peer.name(), snap, snap, windowMs / 1000.0),
                "nothing is shipped to site " + peer.name() + " until it fails back (there: basalt dr failback " + vdisk + " --discard-local)"),
                snap, 0, 0, windowMs);
    }

    Outcome failback(String vdisk, boolean discardLocal) {
        if (MirrorRoles.replicaOf(service.store, vdisk).isPresent()) {
            return plannedFailover(vdisk, service.config.existingPeer(MirrorRoles.replicaOf(service.store, vdisk).get().sourceSite()));
        }
        MirrorConfig.Mirror m = service.config.mirror(vdisk).orElseThrow(() -> new IllegalArgumentException(
                "vdisk: " + vdisk + " is neither a replica nor mirrored from site " + service.siteName + " (expected: a mirrored vdisk)"));
        MirrorConfig.Peer peer = service.config.existingPeer(m.peer());
        JsonNode role = call(peer, "role", Map.of("vdisk", vdisk));
        if (!role.get("role").asText().equals("primary")) {
            throw new IllegalArgumentException("vdisk: " + vdisk + " is " + role.get("role").asText() + " on site " + peer.name()
                    + " and primary here (expected: primary there after a failover); nothing to fail back");
        }
        List<String> theirs = new ArrayList<>();
        role.get("snapshots").forEach(n -> theirs.add(n.asText()));
        String common = service.mirrorSnapshots(vdisk).reversed().stream().filter(theirs::contains).findFirst().orElseThrow(() ->
                new IllegalStateException("vdisk " + vdisk + ": no mirror snapshot on both sites (here " + service.mirrorSnapshots(vdisk)
                        + ", site " + peer.name() + " " + theirs + "); a full copy is needed: remove it here and mirror it from there"));
        if (!discardLocal) {
            throw new IllegalArgumentException("vdisk: " + vdisk + " is primary on both sites (split brain; expected: --discard-local to"
                    + " revert this site's copy to " + common + ", the last snapshot both hold, discarding its writes since)");
        }
        List<String> removed;
        ReentrantLock lock = service.lockOf(vdisk);
        lock.lock();
        try {
            removed = MirrorRoles.revert(service.store, vdisk, common);
            MirrorRoles.demote(service.store, vdisk, peer.name(), role.get("vdiskId").asLong(), common);
            service.config.removeMirror(vdisk);
            service.progress.remove(vdisk);
        } finally {
            lock.unlock();
        }
        JsonNode sync = call(peer, "sync", Map.of("vdisk", vdisk, "common", common));
        long resync = sync.get("streamBytes").asLong();
        long size = service.store.info(vdisk).sizeBytes();
        Outcome back = plannedFailover(vdisk, peer);
        List<String> lines = new ArrayList<>();
        lines.add("site " + service.siteName + ": " + vdisk + " reverted to " + common + ", the last snapshot both sites hold"
                + (removed.isEmpty() ? "" : " (removed " + String.join(", ", removed) + ")"));
        lines.add(String.format("resync from site %s: %s, %d bytes shipped for a %d-byte vdisk (%.2f %%)", peer.name(),
                sync.get("snapshot").asText(), resync, size, 100.0 * resync / size));
        lines.addAll(back.lines());
        return new Outcome(vdisk, lines, back.snapshot(), resync, back.finalRoundBytes(), 0);
    }

    /** On the scheduler: a held primary (after an unplanned failover) asks the peer whether it still thinks it is primary too. */
    void watchHeld(MirrorConfig.Mirror m) {
        try {
            JsonNode role = call(service.config.existingPeer(m.peer()), "role", Map.of("vdisk", m.vdisk()));
            Progress p = service.progressOf(m.vdisk());
            service.progress.put(m.vdisk(), role.get("role").asText().equals("primary")
                    ? p.failed(State.SPLIT_BRAIN, "site " + m.peer() + " is primary of " + m.vdisk() + " too; pick a side: basalt dr failback "
                            + m.vdisk() + " --discard-local on the side to discard")
                    : p.withState(State.HELD));
        } catch (RuntimeException e) {
            service.progress.put(m.vdisk(), service.progressOf(m.vdisk()).failed(State.HELD, "site " + m.peer() + ": " + e.getMessage()));
        }
    }

    /** The peer's call, answered on the link server's thread. */
    String answer(String peer, String op, String body) {
        JsonNode args = parse(body);
        String vdisk = args.path("vdisk").asText();
        Object reply = switch (op) {
            case "role" -> role(vdisk);
            case "demote" -> demote(peer, vdisk, args.path("peerVdiskId").asLong());
            case "sync" -> sync(peer, vdisk, args.path("common").asText());
            case "group" -> service.groups.announced(peer, args.path("group").asText(), strings(args.path("vdisks")));
            default -> throw new IllegalArgumentException("call: " + op + " (expected: role, demote, sync or group)");
        };
        return MirrorConfig.encodeString(reply);
    }

    /** {@code vdisk} here: its role, id, mirror snapshots and (a replica) its last complete one. */
    private Map<String, Object> role(String vdisk) {
        if (!service.store.exists(vdisk)) {
            return Map.of("role", "none", "vdiskId", -1, "snapshots", List.of(), "lastComplete", "");
        }
        Optional<ReplicaRecord> r = MirrorRoles.replicaOf(service.store, vdisk);
        return Map.of("role", r.isPresent() ? "replica" : "primary", "vdiskId", service.store.info(vdisk).id(),
                "snapshots", service.mirrorSnapshots(vdisk), "lastComplete", r.flatMap(ReplicaRecord::lastSnapshot).orElse(""));
    }

    /**
     * The snapshot the peer's replica of {@code m}'s vdisk holds complete; "" when it holds none
     * (no replica yet: a full sync). Refused when the peer's copy is not a replica of this site's.
     */
    String peerLastComplete(MirrorConfig.Mirror m) {
        JsonNode role = call(service.config.existingPeer(m.peer()), "role", Map.of("vdisk", m.vdisk()));
        return switch (role.get("role").asText()) {
            case "none" -> "";
            case "replica" -> role.get("lastComplete").asText();
            default -> throw new io.basalt.replication.stream.MirrorException(io.basalt.replication.stream.MirrorException.Reason.WRONG_SOURCE,
                    "site " + m.peer() + ": vdisk " + m.vdisk() + " exists there and is not a replica (both sites are primary)");
        };
    }

    /** The peer's planned failover: catch up, demote, ship the final snapshot. Again after a failed attempt: ships the final snapshot again. */
    private Map<String, Object> demote(String peer, String vdisk, long peerVdiskId) {
        ReentrantLock lock = service.lockOf(vdisk);
        lock.lock();
        try {
            Optional<ReplicaRecord> demoted = MirrorRoles.replicaOf(service.store, vdisk);
            MirrorConfig.Mirror m;
            String from;
            String last;
            if (demoted.isPresent()) {
                checkPeer(peer, vdisk, demoted.get().sourceSite());
                m = new MirrorConfig.Mirror(vdisk, peer, INTERVAL_AFTER_UNPLANNED_MS, false);
                last = demoted.get().lastSnapshot().orElseThrow();
                List<String> snaps = service.mirrorSnapshots(vdisk);
                int at = snaps.indexOf(last);
                from = at > 0 ? snaps.get(at - 1) : null;
            } else {
                m = service.config.mirror(vdisk).orElseThrow(() -> new IllegalArgumentException(
                        "vdisk: " + vdisk + " is not mirrored from site " + service.siteName + " (expected: its primary)"));
                checkPeer(peer, vdisk, m.peer());
                service.round(m); // catch up while writes go on: the final round, with writes refused, is then small
                from = service.lastCommon(m, service.mirrorSnapshots(vdisk));
                last = MirrorSnapshots.name(MirrorSnapshots.sequenceOf(from).getAsLong() + 1);
                MirrorRoles.demote(service.store, vdisk, peer, peerVdiskId, from);
                MirrorRoles.finalSnapshot(service.store, vdisk, last);
                service.config.removeMirror(vdisk);
                service.groups.leave(vdisk);
            }
            MirrorClient.ShipResult r = service.ship(m, from, last);
            return Map.of("snapshot", last, "streamBytes", r.streamBytes(), "intervalMs", m.intervalMs());
        } finally {
            lock.unlock();
        }
    }

    /** The peer reverted to {@code common} and became this site's replica again: resume shipping, one round now. */
    private Map<String, Object> sync(String peer, String vdisk, String common) {
        MirrorConfig.Mirror m = service.config.mirror(vdisk).orElseThrow(() -> new IllegalArgumentException(
                "vdisk: " + vdisk + " is not mirrored from site " + service.siteName + " (expected: its primary)"));
        checkPeer(peer, vdisk, m.peer());
        ReentrantLock lock = service.lockOf(vdisk);
        lock.lock();
        try {
            service.progress.put(vdisk, service.progressOf(vdisk).withCommon(common).withState(State.SYNCING));
            service.config.putMirror(m.withHeld(false));
            MirrorClient.ShipResult r = service.round(m);
            return Map.of("snapshot", MirrorSnapshots.name(r.round()), "streamBytes", r.streamBytes());
        } finally {
            lock.unlock();
        }
    }

    private void checkPeer(String caller, String vdisk, String expected) {
        if (!caller.equals(expected)) {
            throw new IllegalArgumentException("site " + caller + " asked for vdisk " + vdisk + " (expected: site " + expected + ", its mirror's peer)");
        }
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    JsonNode call(MirrorConfig.Peer peer, String op, Map<String, Object> args) {
        return parse(service.client(peer).call(op, MirrorConfig.encodeString(args), MirrorService.CALL_TIMEOUT));
    }

    private static JsonNode parse(String json) {
        try {
            return MirrorConfig.JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("mirror call body: not JSON (" + e.getMessage() + ")", e);
        }
    }
}
