package io.basalt.node.locks;

import java.util.function.LongSupplier;
import java.util.function.Supplier;

import io.basalt.cluster.client.ClusterClient;
import io.basalt.iscsi.scsi.PrStateStore;
import io.basalt.lock.HoldState;
import io.basalt.lock.LockService;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.VdiskStore;

/**
 * What {@link HostLuns} serves from: the embedded store with its {@link EmbeddedLocks}, or a
 * cluster through its client. Both hold a lock table and enforce fences where writes are applied
 * (the engine, the placement groups); this only says how to reach them.
 */
public interface LockedStore {

    /** The lock table hosts take their sessions and locks from. */
    LockService locks();

    /** {@code VDISK} or {@code VDISK@SNAP} (read-only), without a lock: a LUN's identity, a snapshot's reads. */
    BlockDevice open(String spec);

    /**
     * Head {@code vdisk}, every mutation carrying the token {@code token} gives when it is made
     * and sent only while {@code hold} says {@link HoldState#HELD} (where the store is remote: the
     * holder fences itself; the embedded engine ignores it: its own lease monitor raises the fence
     * instead).
     */
    BlockDevice openLocked(String vdisk, LongSupplier token, Supplier<HoldState> hold);

    /** {@code vdisk}'s size as the namespace has it now (a resize by any client shows here). */
    long sizeBytes(String vdisk);

    /** Raises {@code vdisk}'s fence where writes are applied, before a new holder's first write. */
    void raiseFence(String vdisk, long fence);

    /** Snapshot {@code snap} of {@code vdisk} by the holder of fencing token {@code token}: refused like its writes once it is fenced. */
    void createSnapshot(String vdisk, String snap, long token);

    /**
     * Where the persistent-reservation state of a LUN serving {@code vdisk} lives: this process's
     * memory for the embedded store (one target process serves it), the meta group for a cluster
     * (every gateway of the vdisk shares it).
     */
    PrStateStore prStates(String vdisk);

    static LockedStore embedded(VdiskStore store, EmbeddedLocks locks) {
        return new Embedded(store, locks);
    }

    static LockedStore cluster(ClusterClient client) {
        return new Cluster(client);
    }

    /** The engine: {@link EmbeddedLocks} raises the engine's fences itself when a command changes them. */
    record Embedded(VdiskStore store, EmbeddedLocks locks) implements LockedStore {
        @Override
        public BlockDevice open(String spec) {
            return store.open(spec);
        }

        @Override
        public BlockDevice openLocked(String vdisk, LongSupplier token, Supplier<HoldState> hold) {
            return store.open(vdisk).withTokenOwningHandle(token);
        }

        @Override
        public long sizeBytes(String vdisk) {
            return store.info(vdisk).sizeBytes();
        }

        @Override
        public void raiseFence(String vdisk, long fence) {
            // Already done: EmbeddedLocks raised the engine's fence before it answered the grant.
        }

        @Override
        public void createSnapshot(String vdisk, String snap, long token) {
            store.createSnapshot(vdisk, snap, token);
        }

        @Override
        public PrStateStore prStates(String vdisk) {
            return PrStateStore.inMemory();
        }
    }

    /** A cluster: PGs check tokens; a grant's fence is pushed to every PG before the first write. */
    record Cluster(ClusterClient client) implements LockedStore {
        @Override
        public LockService locks() {
            return client.locks();
        }

        @Override
        public BlockDevice open(String spec) {
            return spec.indexOf('@') >= 0 ? client.open(spec) : replicaChecked(spec, client.open(spec));
        }

        @Override
        public BlockDevice openLocked(String vdisk, LongSupplier token, Supplier<HoldState> hold) {
            // Self-fenced: while the lease is unconfirmed (a quorum outage longer than the lease:
            // the session can neither renew nor expire, and a new meta leader restarts every lease)
            // writes fail TRANSIENT, answered BUSY, which guests retry; once it is lost they fail
            // fenced. The PGs refuse a replaced holder's token either way.
            return replicaChecked(vdisk, client.open(vdisk, token, hold));
        }

        /** {@code head}, or read-only when {@code vdisk} is a mirror's replica (its mark, a config record: ClusterMirrorStore). */
        private BlockDevice replicaChecked(String vdisk, BlockDevice head) {
            if (io.basalt.node.mirror.ClusterMirrorStore.mark(client, vdisk).isEmpty()) {
                return head;
            }
            return new ReplicaDevice(head, "vdisk " + vdisk + " is a read-only replica (promote it with basalt dr failover)");
        }

        @Override
        public long sizeBytes(String vdisk) {
            return client.vdisk(vdisk).orElseThrow(() -> new IllegalArgumentException("vdisk " + vdisk + ": no such vdisk")).sizeBytes();
        }

        @Override
        public void raiseFence(String vdisk, long fence) {
            client.locks().raiseFence(vdisk, fence);
        }

        @Override
        public void createSnapshot(String vdisk, String snap, long token) {
            client.createSnapshot(vdisk, snap, token);
        }

        @Override
        public PrStateStore prStates(String vdisk) {
            return new ClusterPrStateStore(client.prStates(), vdisk);
        }
    }
}
