package io.basalt.node.backup;

import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import io.basalt.lock.Holding;
import io.basalt.lock.HostSessionClient;
import io.basalt.lock.LockMode;
import io.basalt.lock.LockRefusedException;
import io.basalt.lock.Session;
import io.basalt.lock.VdiskLock;
import io.basalt.node.datastore.Datastore;
import io.basalt.node.host.HostAgent;
import io.basalt.node.host.HostRecord;
import io.basalt.node.host.Inventory;
import io.basalt.node.host.VmControl;
import io.basalt.node.host.VmRecord;

/**
 * What {@code basalt backup create} does around the backup module so that a vdisk in use backs up
 * as safely as an idle one (docs/decisions/backup-of-a-running-vm.md):
 *
 * <ul>
 *   <li>a session of the lock table of its own ({@code backup:HOST:PID}) holds each vdisk
 *       <em>shared-read</em> for the backup's duration: it coexists with the running VM's exclusive
 *       lock, shows in {@code basalt lock ls}, and keeps the vdisk from being removed meanwhile;</li>
 *   <li>the snapshot of a disk that a host agent's running VM writes is taken through that agent:
 *       the guest paused, QEMU's requests drained, the snapshot taken under the agent's lock with
 *       its token, the guest resumed; every disk of the request at that one instant;</li>
 *   <li>a disk nobody writes is snapshotted by the store (on the embedded store all at one instant);</li>
 *   <li>a disk written by someone else (an initiator outside Basalt's hosts) is snapshotted by the
 *       embedded store, whose snapshot is atomic, and refused on a cluster, where each placement
 *       group freezes at its own instant and a racing write could be in one part and not another.</li>
 * </ul>
 *
 * Closing releases the locks and ends the session (a backup killed meanwhile: its lease runs out).
 */
public final class LiveBackup implements AutoCloseable {
    private final Datastore store;
    private final Inventory inventory;
    private final VmControl vms;
    private final HostSessionClient session;

    /** How the snapshot was taken: a line to print. */
    public record Taken(String snapshot, List<String> vdisks, String how) {
        public String line() {
            return "snapshot " + snapshot + " of " + String.join(", ", vdisks) + " " + how;
        }
    }

    private LiveBackup(Datastore store, HostSessionClient session) {
        this.store = store;
        this.inventory = new Inventory(store.configs());
        this.vms = new VmControl(inventory, store.locks());
        this.session = session;
    }

    /** Opens the backup's session on {@code store}'s lock table. */
    public static LiveBackup open(Datastore store) {
        return new LiveBackup(store, HostSessionClient.open(store.locks(), sessionHost()));
    }

    /** The session's id, as {@code basalt lock ls} shows it. */
    public long sessionId() {
        return session.sessionId();
    }

    /** The session's host name: {@code backup:MACHINE:PID}. */
    static String sessionHost() {
        String machine;
        try {
            machine = InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            machine = "localhost";
        }
        return "backup:" + machine + ":" + ProcessHandle.current().pid();
    }

    /** The disks of VM {@code name} (refused naming it when there is no such VM). */
    public List<String> disksOf(String vm) {
        return inventory.existingVm(vm).disks();
    }

    /** Holds each of {@code vdisks} shared-read; a refusal names the vdisk and why (those taken so far are released at close). */
    public void lockSharedRead(List<String> vdisks) {
        for (String vdisk : vdisks) {
            store.info(vdisk);  // refused naming it when there is no such vdisk, before the lock table records one
            try {
                session.acquire(vdisk, LockMode.SHARED_READ);
            } catch (LockRefusedException e) {
                throw new io.basalt.backup.BackupException("backup of " + vdisk + ": shared-read lock refused: " + e.getMessage(), e);
            }
        }
    }

    /**
     * Takes snapshot {@code snap} of {@code vdisks} (held shared-read by this backup) at one
     * instant, through their writer when a host agent's running VM writes them (see the class).
     */
    public Taken snapshot(List<String> vdisks, String snap) throws IOException, InterruptedException {
        List<Holding> writers = new ArrayList<>();
        for (String vdisk : vdisks) {
            writer(vdisk).ifPresent(writers::add);
        }
        if (writers.isEmpty()) {
            store.createSnapshots(vdisks, snap);
            return new Taken(snap, vdisks, "by the store (nothing writes " + (vdisks.size() == 1 ? "it" : "them") + ")");
        }
        Optional<VmRecord> vm = runningVmWriting(vdisks, writers);
        if (vm.isPresent()) {
            HostAgent.VmSnapshot s = vms.agentOf(vm.get().name()).snapshot(vm.get().name(), snap, vdisks);
            return new Taken(snap, vdisks, "through host " + vm.get().host() + ", which runs vm " + vm.get().name()
                    + " (guest paused " + s.pausedMs() + " ms)");
        }
        String who = describe(writers);
        if (store instanceof Datastore.Local) {
            store.createSnapshots(vdisks, snap);
            return new Taken(snap, vdisks, "by the store beside its writer " + who + " (atomic: crash-consistent)");
        }
        throw new io.basalt.backup.BackupException("backup of " + String.join(", ", vdisks) + ": written by " + who + ", which is not a host agent running"
                + " a VM of " + (vdisks.size() == 1 ? "it" : "them all") + " (expected: a writer to take the snapshot through; on a cluster a"
                + " snapshot taken beside a writer is not crash-consistent: each placement group freezes at its own instant). Snapshot it"
                + " through its writer, or stop the writer, and back that snapshot up: basalt backup create VDISK@SNAP");
    }

    /** Removes snapshot {@code snap} of {@code vdisk} (a backup that did not happen); a failure is said, not thrown. */
    public Optional<String> removeQuietly(String vdisk, String snap) {
        try {
            store.removeSnapshot(vdisk, snap);
            return Optional.empty();
        } catch (RuntimeException e) {
            return Optional.of("snapshot " + vdisk + "@" + snap + " left behind: " + e.getMessage());
        }
    }

    /** A session other than this backup's that holds {@code vdisk} to write it. */
    private Optional<Holding> writer(String vdisk) {
        Optional<VdiskLock> lock = store.locks().lock(vdisk);
        return lock.flatMap(l -> l.holders().stream().filter(h -> h.sessionId() != session.sessionId() && h.mode().writes()).findFirst());
    }

    /** The VM that has every one of {@code vdisks}, runs on a live host, and whose host's session is every writer. */
    private Optional<VmRecord> runningVmWriting(List<String> vdisks, List<Holding> writers) {
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

    private String describe(List<Holding> writers) {
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

    /** Releases this backup's locks and ends its session. */
    @Override
    public void close() {
        session.close();  // closing a session releases every lock it holds
    }
}
