package io.basalt.vdisk.store;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * The three ways a write of one vdisk is prepared and committed, around one way of taking its
 * locks ({@link #take}): the vdisk's state lock shared, the range checked under it, then the
 * stripe locks of the range's grains, held from the read of any partial grain to the commit.
 * <ul>
 *   <li>{@link #throughCommitter}: on an I/O thread, waiting for the locks; the group committer
 *       writes the batch and releases the locks once it is in the WAL;</li>
 *   <li>{@link #inline}: on the caller's thread, whole grains only, never waiting: declines
 *       (returns {@link Vdisk#DECLINED}) where it would wait for a lock, the committer or a
 *       write stall;</li>
 *   <li>{@link #into}: on the caller's thread, adding the changes to an {@link EntryBatch}'s
 *       ops, which it commits later.</li>
 * </ul>
 */
final class WritePaths {
    /** Prepares a write's changes into {@code ops} with its grains locked; may decide to write nothing. */
    interface WritePlan<T> {
        T prepare(VdiskInfo v, List<GroupCommitter.Op> ops);
    }

    /** Throws naming {@code op} unless blocks {@code [lba, lba + blockCount)} are inside the device. */
    interface RangeCheck {
        void check(String op, long lba, long blockCount);
    }

    /** A write request: what it is called in errors, and the blocks it covers. */
    record Request(String op, long lba, long blockCount) {}

    /**
     * The locks a write holds: the state lock ({@code stamp}) and, unless the write is empty,
     * the stripes of its grains. Released exactly once, by {@link #release}.
     */
    private final class Hold {
        private final long stamp;
        private VdiskInfo info;
        private int[] stripes;

        Hold(long stamp) {
            this.stamp = stamp;
        }

        /** An empty write (no blocks) holds the state lock only, and prepares nothing. */
        boolean empty() {
            return stripes == null;
        }

        void release() {
            if (stripes != null) {
                grainLocks.unlock(stripes);
            }
            state.lock.unlockRead(stamp);
        }
    }

    private final StoreDb db;
    private final VdiskState state;
    private final GrainLocks grainLocks;
    private final GroupCommitter committer;
    private final RangeCheck rangeCheck;

    WritePaths(VdiskStore store, VdiskState state, RangeCheck rangeCheck) {
        this.db = store.db();
        this.state = state;
        this.grainLocks = store.grainLocks();
        this.committer = store.committer();
        this.rangeCheck = rangeCheck;
    }

    /**
     * Takes a write's locks: the state lock shared, then (after the range is checked under it,
     * as a resize may have moved the end) the stripes of the range's grains. With {@code inline}
     * it never waits and takes nothing, returning null, where it would wait, or where the write
     * is not whole grains (a partial grain needs a read first) or the committer is busy (RocksDB
     * would queue the write behind its batch, maybe behind a fsync).
     */
    private Hold take(Request r, boolean inline) {
        long stamp = inline ? state.lock.tryReadLock() : state.lock.readLock();
        if (stamp == 0) {
            return null;
        }
        Hold hold = new Hold(stamp);
        boolean taken = false;
        try {
            rangeCheck.check(r.op(), r.lba(), r.blockCount());
            hold.info = state.info();
            if (r.blockCount() == 0) {
                taken = true;
                return hold;
            }
            GrainRange range = GrainRange.ofBlocks(hold.info, r.lba(), r.blockCount());
            if (inline && (!range.grainAligned() || !committer.idle())) {
                return null;
            }
            hold.stripes = inline
                    ? grainLocks.tryLock(hold.info.id(), range.firstGrain(), range.lastGrain())
                    : grainLocks.lock(hold.info.id(), range.firstGrain(), range.lastGrain());
            taken = hold.stripes != null;
            return taken ? hold : null;
        } finally {
            if (!taken) {
                hold.release();
            }
        }
    }

    /**
     * Runs {@code plan} on the calling I/O thread with the locks taken and hands its changes to
     * the committer; the future completes with the plan's result once they are in the WAL.
     */
    <T> CompletableFuture<T> throughCommitter(Request r, boolean fua, WritePlan<T> plan) {
        Hold hold = take(r, false);
        boolean handedOff = false;
        try {
            if (hold.empty()) {
                return CompletableFuture.completedFuture(null);
            }
            List<GroupCommitter.Op> ops = new ArrayList<>();
            T result = plan.prepare(hold.info, ops);
            if (ops.isEmpty()) {
                return CompletableFuture.completedFuture(result);
            }
            CompletableFuture<Void> done = new CompletableFuture<>();
            committer.submit(new GroupCommitter.Pending(ops, fua, hold::release, done));
            handedOff = true;
            return done.thenApply(ignored -> result);
        } finally {
            if (!handedOff) {
                hold.release();
            }
        }
    }

    /**
     * {@link #throughCommitter} and the commit on the caller's thread, for whole grains only.
     * {@link Vdisk#DECLINED} where it would wait (see {@link #take}), also for a write stall.
     * Same durability as the committer's non-FUA path: in the WAL, not synced, when it returns.
     */
    Object inline(Request r, WritePlan<?> plan) {
        Hold hold = take(r, true);
        if (hold == null) {
            return Vdisk.DECLINED;
        }
        try {
            if (hold.empty()) {
                return null;
            }
            List<GroupCommitter.Op> ops = new ArrayList<>();
            Object result = plan.prepare(hold.info, ops);
            if (!ops.isEmpty()) {
                try (WriteBatch batch = new WriteBatch()) {
                    GroupCommitter.addTo(batch, ops);
                    db.db.write(db.noWaitWriteOptions, batch);
                } catch (RocksDBException e) {
                    if (StoreDb.incomplete(e)) {
                        return Vdisk.DECLINED;      // a write stall: wait for it on the pool, not here
                    }
                    throw StoreErrors.blockDevice("write failed", e);
                }
            }
            return result;
        } finally {
            hold.release();
        }
    }

    /**
     * Runs {@code plan} on the calling thread with the locks taken, adding its changes to
     * {@code ops}; releases the locks before returning, so the caller (an {@link EntryBatch})
     * must be the only writer of this vdisk until it commits them. Null for an empty write.
     */
    <T> T into(Request r, List<GroupCommitter.Op> ops, WritePlan<T> plan) {
        Hold hold = take(r, false);
        try {
            return hold.empty() ? null : plan.prepare(hold.info, ops);
        } finally {
            hold.release();
        }
    }
}
