package io.basalt.node.host;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import io.basalt.lock.Holding;
import io.basalt.lock.Session;
import io.basalt.lock.VdiskLock;
import io.basalt.node.datastore.Datastore;

/**
 * A crash-consistent snapshot of vdisks that may be in use, taken through their writer: what a
 * backup and a mirror round take (docs/decisions/backup-of-a-running-vm.md,
 * docs/decisions/mirror-on-a-cluster.md).
 *
 * <ul>
 *   <li>Disks a host agent's running VM writes: the agent takes it. The guest is paused (QEMU
 *       drains its requests), every disk is snapshotted under the agent's lock with its token, the
 *       guest goes on: one instant, across placement groups and across the set of disks (a
 *       consistency group of that VM's disks: one pause for all).</li>
 *   <li>Disks nobody holds to write: the store takes it (the embedded store at one instant; a
 *       cluster one after the other, each with the vdisk's last token, fenced like a write). The
 *       locks are read again after: a writer that came in
 *       meanwhile undoes every snapshot of the set, and they are taken again (through that writer
 *       if it still holds them), so the set is never torn.</li>
 *   <li>Disks someone else writes (an iSCSI initiator through a gateway): the embedded store's
 *       snapshot is atomic, so it is taken beside the writer; a cluster refuses, because each
 *       placement group freezes at its own point in its log and a racing write could be in one
 *       part and not in another.</li>
 * </ul>
 */
public final class ConsistentSnapshots {
    private ConsistentSnapshots() {}

    /** How many times the store takes the snapshots when a writer keeps coming in while it does. */
    static final int STORE_ATTEMPTS = 3;

    /**
     * Snapshot {@code snap} of {@code vdisks} at one instant; returns how it was taken (a phrase:
     * "through host H, which runs vm V (guest paused N ms)"). {@code ownSession}: a session of the
     * caller's whose holds are not writers' (a backup's shared-read), or -1. A failure leaves none
     * of the snapshots it took: a set is taken whole or not at all.
     */
    public static String take(Datastore store, List<String> vdisks, String snap, long ownSession) throws IOException, InterruptedException {
        for (int attempt = 1; ; attempt++) {
            Optional<String> how = attempt(store, vdisks, snap, ownSession, attempt == STORE_ATTEMPTS);
            if (how.isPresent()) {
                return how.get();
            }
        }
    }

    /** One try; empty when the store took the snapshots and a writer came in meanwhile (undone: try again, through it). */
    private static Optional<String> attempt(Datastore store, List<String> vdisks, String snap, long ownSession, boolean last)
            throws IOException, InterruptedException {
        Map<String, Long> lastTokens = new TreeMap<>();
        List<Holding> writers = new ArrayList<>();
        for (String vdisk : vdisks) {
            Optional<VdiskLock> lock = store.locks().lock(vdisk);
            lastTokens.put(vdisk, lock.map(VdiskLock::lastToken).orElse(0L));
            lock.flatMap(l -> l.holders().stream().filter(h -> h.sessionId() != ownSession && h.mode().writes()).findFirst())
                    .ifPresent(writers::add);
        }
        if (writers.isEmpty()) {
            String writerCame;
            try {
                allOrNone(store, vdisks, snap, () -> storeTakes(store, vdisks, snap, lastTokens));
                writerCame = lockedMeanwhile(store, vdisks, lastTokens);
                if (writerCame != null) {
                    vdisks.forEach(v -> store.removeSnapshot(v, snap));
                }
            } catch (io.basalt.vdisk.FencedException e) {
                writerCame = e.getMessage(); // a lock granted since the read raised the fence: nothing of the set is left
            }
            if (writerCame == null) {
                return Optional.of("by the store (nothing writes " + (vdisks.size() == 1 ? "it" : "them") + ")");
            }
            if (!last) {
                return Optional.empty();
            }
            throw new IllegalStateException("snapshot " + snap + " of " + String.join(", ", vdisks) + ": locked while the store took it, on each"
                    + " of " + STORE_ATTEMPTS + " tries (last: " + writerCame + "); undone (expected: no lock taken meanwhile; taken again,"
                    + " it goes through the writer that holds it)");
        }
        Inventory inventory = new Inventory(store.configs());
        VmControl vms = new VmControl(inventory, store.locks());
        Optional<VmRecord> vm = runningVmWriting(inventory, vms, vdisks, writers);
        if (vm.isPresent()) {
            HostAgent.VmSnapshot s = allOrNone(store, vdisks, snap, () -> vms.agentOf(vm.get().name()).snapshot(vm.get().name(), snap, vdisks));
            return Optional.of("through host " + vm.get().host() + ", which runs vm " + vm.get().name() + " (guest paused " + s.pausedMs() + " ms"
                    + (vdisks.size() == 1 ? "" : " once for " + vdisks.size() + " disks") + ")");
        }
        String who = describe(store, writers);
        if (store instanceof Datastore.Local) {
            store.createSnapshots(vdisks, snap);
            return Optional.of("by the store beside its writer " + who + " (atomic: crash-consistent)");
        }
        throw new NotThroughWriterException("snapshot of " + String.join(", ", vdisks) + ": written by " + who + ", which is not a host agent"
                + " running a VM of " + (vdisks.size() == 1 ? "it" : "them all") + " (expected: a writer to take the snapshot through; on a cluster"
                + " a snapshot taken beside a writer is not crash-consistent: each placement group freezes at its own instant"
                + (vdisks.size() == 1 ? "" : ", and one instant for several vdisks needs one VM that has them all") + ")");
    }

    /**
     * The store takes the snapshots. On a cluster each with the token read before (the vdisk's
     * last): the placement groups fence it like a write, so a lock granted since refuses it (an
     * operator's token-0 snapshot would pass whatever the fence). The embedded store
     * takes them at one instant.
     */
    private static Void storeTakes(Datastore store, List<String> vdisks, String snap, Map<String, Long> tokens) {
        if (store instanceof Datastore.Cluster cluster) {
            for (String v : vdisks) {
                cluster.client().createSnapshot(v, snap, tokens.get(v));
            }
        } else {
            store.createSnapshots(vdisks, snap);
        }
        return null;
    }

    /** Which of {@code vdisks} was locked since its token was read ({@code before}), said for a message; null when none. */
    private static String lockedMeanwhile(Datastore store, List<String> vdisks, Map<String, Long> before) {
        for (String vdisk : vdisks) {
            long now = store.locks().lock(vdisk).map(VdiskLock::lastToken).orElse(0L);
            if (now != before.get(vdisk)) {
                return vdisk + " token " + before.get(vdisk) + " -> " + now;
            }
        }
        return null;
    }

    /** A step that snapshots several vdisks one by one (a cluster's store, an agent). */
    @FunctionalInterface
    private interface Taking<T> {
        T run() throws IOException, InterruptedException;
    }

    /** Runs {@code taking}; when it fails, removes the snapshots {@code snap} it made before it failed, so none is left of a set not taken whole. */
    private static <T> T allOrNone(Datastore store, List<String> vdisks, String snap, Taking<T> taking) throws IOException, InterruptedException {
        List<String> before = vdisks.stream().filter(v -> store.snapshots(v).stream().anyMatch(s -> s.name().equals(snap))).toList();
        try {
            return taking.run();
        } catch (IOException | InterruptedException | RuntimeException e) {
            for (String v : vdisks) {
                if (before.contains(v)) {
                    continue;
                }
                try {
                    if (store.snapshots(v).stream().anyMatch(s -> s.name().equals(snap))) {
                        store.removeSnapshot(v, snap);
                    }
                } catch (RuntimeException undo) {
                    e.addSuppressed(undo);
                }
            }
            throw e;
        }
    }

    /** A mirror site on {@code cluster} whose rounds snapshot through the writer, as {@link #take} does. */
    public static io.basalt.node.mirror.ClusterMirrorStore mirrorSite(Datastore.Cluster cluster) {
        return new io.basalt.node.mirror.ClusterMirrorStore(cluster.client(), (vdisks, snap) -> take(cluster, vdisks, snap, -1));
    }

    /** A cluster's vdisk written by something that cannot take a snapshot for it: refused. */
    public static final class NotThroughWriterException extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        NotThroughWriterException(String message) {
            super(message);
        }
    }

    /** The VM that has every one of {@code vdisks}, runs on a live host, and whose host's session is every writer. */
    private static Optional<VmRecord> runningVmWriting(Inventory inventory, VmControl vms, List<String> vdisks, List<Holding> writers) {
        for (VmRecord vm : inventory.vms()) {
            if (vm.desired() != VmRecord.Desired.RUNNING || vm.host().isEmpty() || !vm.disks().containsAll(vdisks) || !vms.isLive(vm.host())) {
                continue;
            }
            Optional<HostRecord> host = inventory.host(vm.host());
            if (host.isPresent() && writers.stream().allMatch(w -> w.sessionId() == host.get().session())) {
                return Optional.of(vm);
            }
        }
        return Optional.empty();
    }

    private static String describe(Datastore store, List<Holding> writers) {
        List<String> parts = new ArrayList<>();
        for (Holding h : writers) {
            String host = store.locks().sessions().stream().filter(s -> s.id() == h.sessionId()).map(Session::host).findFirst().orElse("?");
            String part = "session " + h.sessionId() + " (" + host + ", " + h.mode().cliName() + ")";
            if (!parts.contains(part)) {
                parts.add(part);
            }
        }
        return String.join(", ", parts);
    }
}
