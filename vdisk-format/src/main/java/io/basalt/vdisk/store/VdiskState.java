package io.basalt.vdisk.store;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.StampedLock;

/**
 * The in-memory state of one vdisk shared by every handle on it. I/O holds {@link #lock} shared;
 * operations that change the epoch, the size or the chain (snapshot, rollback, resize, flatten's
 * final step) hold it exclusively, so a snapshot never catches half of a write and a write never
 * lands in an epoch that was already frozen.
 */
final class VdiskState {
    final long id;
    /**
     * A StampedLock because a write's shared hold is released by the commit thread once its batch
     * is durable in the WAL, not by the thread that took it.
     */
    final StampedLock lock = new StampedLock();
    final AtomicInteger openHandles = new AtomicInteger();
    /** The vdisk's fence and the mutations admitted under it, for every handle (see {@link FenceGate}). */
    final FenceGate fences;
    private final java.util.concurrent.ConcurrentHashMap<Long, Integer> snapshotHandles = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile VdiskInfo info;
    /** The replica record ({@link Replicas}), or null while this vdisk is not a read-only replica. */
    private volatile byte[] replicaRecord;
    /** Ancestors of this vdisk, nearest first, with the epoch each is read at. */
    private volatile long[] ancestorIds;
    private volatile long[] ancestorEpochs;

    /**
     * @param fence         the vdisk's stored fence ({@link Fences#load})
     * @param replicaRecord its stored replica record ({@link Replicas#load}), null when it is not a replica
     */
    VdiskState(VdiskInfo info, long[] ancestorIds, long[] ancestorEpochs, long fence, byte[] replicaRecord) {
        this.id = info.id();
        this.info = info;
        this.fences = new FenceGate(info.name(), fence);
        this.replicaRecord = replicaRecord;
        setAncestors(ancestorIds, ancestorEpochs);
    }

    /** True while this vdisk is a read-only replica: only a {@link ReplicaWriter} changes it. */
    boolean replica() {
        return replicaRecord != null;
    }

    /** A copy of the replica record, or null when this vdisk is not a replica. */
    byte[] replicaRecord() {
        byte[] r = replicaRecord;
        return r == null ? null : r.clone();
    }

    /** Set once the record (or its deletion, when null) is durable. */
    void replicaRecord(byte[] record) {
        replicaRecord = record == null ? null : record.clone();
    }

    VdiskInfo info() {
        return info;
    }

    void info(VdiskInfo updated) {
        if (updated.id() != id) {
            throw new IllegalStateException("vdisk id: " + updated.id() + " (expected: " + id + ")");
        }
        info = updated;
    }

    void setAncestors(long[] ids, long[] epochs) {
        if (ids.length != epochs.length) {
            throw new IllegalStateException("ancestors: " + ids.length + " ids, " + epochs.length + " epochs");
        }
        ancestorIds = ids;
        ancestorEpochs = epochs;
    }

    /**
     * Ends the chain at ancestor {@code ancestorId}, which was just flattened: it now holds
     * everything this vdisk read through it, and its former ancestors are not part of the chain
     * any more (as {@code loadState} builds it from the descriptors). Hold {@link #lock}
     * exclusively. Returns false, changing nothing, when {@code ancestorId} is not an ancestor.
     */
    boolean endChainAt(long ancestorId) {
        long[] ids = ancestorIds;
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] == ancestorId) {
                setAncestors(java.util.Arrays.copyOf(ids, i + 1), java.util.Arrays.copyOf(ancestorEpochs, i + 1));
                return true;
            }
        }
        return false;
    }

    /** This vdisk's id followed by its ancestors' ids, nearest first. */
    long[] chainIds() {
        long[] ids = ancestorIds;
        long[] chain = new long[ids.length + 1];
        chain[0] = id;
        System.arraycopy(ids, 0, chain, 1, ids.length);
        return chain;
    }

    void snapshotOpened(long epoch, int delta) {
        snapshotHandles.merge(epoch, delta, Integer::sum);
    }

    int openSnapshotHandles(long epoch) {
        return snapshotHandles.getOrDefault(epoch, 0);
    }

    boolean isClone() {
        return ancestorIds.length > 0;
    }

    /** A reader of this vdisk at {@code epoch}, through its ancestors. */
    ChainReader reader(StoreDb db, long epoch) {
        return reader(db, epoch, db.grainReadOptions);
    }

    ChainReader reader(StoreDb db, long epoch, org.rocksdb.ReadOptions options) {
        long[] ids = ancestorIds;
        long[] epochs = ancestorEpochs;
        long[] chainIds = new long[ids.length + 1];
        long[] chainEpochs = new long[ids.length + 1];
        chainIds[0] = id;
        chainEpochs[0] = epoch;
        System.arraycopy(ids, 0, chainIds, 1, ids.length);
        System.arraycopy(epochs, 0, chainEpochs, 1, epochs.length);
        return new ChainReader(db, chainIds, chainEpochs, options);
    }
}
