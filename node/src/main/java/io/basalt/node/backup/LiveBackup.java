package io.basalt.node.backup;

import java.io.IOException;
import java.net.InetAddress;
import java.util.List;
import java.util.Optional;

import io.basalt.lock.HostSessionClient;
import io.basalt.lock.LockMode;
import io.basalt.lock.LockRefusedException;
import io.basalt.node.datastore.Datastore;
import io.basalt.node.host.ConsistentSnapshots;
import io.basalt.node.host.Inventory;

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
        try {
            return new Taken(snap, vdisks, ConsistentSnapshots.take(store, vdisks, snap, session.sessionId()));
        } catch (ConsistentSnapshots.NotThroughWriterException e) {
            throw new io.basalt.backup.BackupException("backup of " + e.getMessage() + ". Snapshot it through its writer, or stop the writer,"
                    + " and back that snapshot up: basalt backup create VDISK@SNAP", e);
        }
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

    /** Releases this backup's locks and ends its session. */
    @Override
    public void close() {
        session.close();  // closing a session releases every lock it holds
    }
}
