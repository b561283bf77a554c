package io.basalt.iscsi.scsi;

import io.basalt.vdisk.BlockDevice;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Where a LUN's data comes from, per iSCSI session: each session (I_T nexus) reads and writes
 * through a device {@link #open opened} for its initiator, so that a store can tell initiators
 * apart (Basalt opens a vdisk per host, with that host's fencing token). What SCSI keeps per LUN
 * stays per LUN, shared by every session: persistent reservations, unit attentions, mode pages,
 * EXTENDED COPY results, and the LUN's identity — {@link #device()} gives its name (and so its
 * serial and NAA designator), block size, capacity, atomic-write limits and read-only flag.
 *
 * <p>Lifecycle: {@link #open} is called when a session first needs the LUN's data (its first
 * medium-access command), not at login, so a login never waits for a store and a session that
 * only scans LUNs opens nothing. A failed open fails that command (its exception becomes sense
 * data, as a device's would) and the next command tries again. {@link #closed} is called once
 * per successful open, when the session has ended (logout, connection loss, reinstatement by a
 * new login of the same initiator port, target shutdown) and its last command on the device has
 * completed. A session that reinstates another may open before the old one's device is closed.
 *
 * <p>Both are called from the target's threads (an event loop, or the thread completing a
 * device future): they must not block. Neither is called with a lock of the target held.
 */
public interface LunSource {

    /** The LUN's identity and geometry (see above). Not written through for a session's commands. */
    BlockDevice device();

    /**
     * The device session {@code who} reads and writes this LUN through: the same name, block
     * size and capacity as {@link #device()}. May complete exceptionally (say with a
     * {@code BlockDeviceException} of kind TRANSIENT while a lock is being taken).
     */
    CompletableFuture<BlockDevice> open(Initiator who);

    /** Session {@code who} has ended and its last command on {@code device} has completed. */
    void closed(Initiator who, BlockDevice device);

    /**
     * The initiators (by name: hosts) with a persistent-reservation key registered on this LUN
     * through any of their nexuses are now {@code hosts}, as of the LUN's reservation state
     * {@code version} (which only grows; a call with an older version than one already seen says
     * nothing new). A host that registers declares itself cluster-aware: the reservation, not a
     * one-writer lock, arbitrates its writes (Basalt takes its lock multi-writer). The PERSISTENT
     * RESERVE OUT command that changed the registrations answers once the returned future has
     * completed; it should not complete exceptionally (the registration is made either way).
     * Called from the target's threads: must not block.
     */
    default CompletableFuture<Void> registrantsChanged(long version, Set<String> hosts) {
        return CompletableFuture.completedFuture(null);
    }

    /**
     * Where this LUN's persistent-reservation state lives; asked once, when the LU is built. In
     * this process's memory unless the source keeps it where other gateways of the LUN see it.
     */
    default PrStateStore prStateStore() {
        return PrStateStore.inMemory();
    }

    /** Every session uses {@code device} itself: the LUN of {@link io.basalt.iscsi.scsi.TargetLuns#TargetLuns(String, java.util.Map)}. */
    static LunSource shared(BlockDevice device) {
        return new Shared(device);
    }

    /** A source whose one device serves every session; it is never opened nor closed per session. */
    record Shared(BlockDevice device) implements LunSource {

        public Shared {
            if (device == null) {
                throw new IllegalArgumentException("device: null (expected: a device)");
            }
        }

        @Override
        public CompletableFuture<BlockDevice> open(Initiator who) {
            return CompletableFuture.completedFuture(device);
        }

        @Override
        public void closed(Initiator who, BlockDevice d) {
            // The device stays owned by whoever built the target.
        }
    }
}
