package io.basalt.vdisk.store;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

import org.rocksdb.RocksDBException;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.CompareResult;
import io.basalt.vdisk.LbaStatus;
import io.basalt.vdisk.frame.BlockFrame;
import io.basalt.vdisk.frame.FrameException;

/**
 * A {@link BlockDevice} over one vdisk of a {@link VdiskStore}: its head (writable) or one of
 * its snapshots (read-only).
 *
 * <p>How the durability contract is met: every write is one RocksDB write batch holding
 * all grains it touches (so a write is atomic, and never tears inside a grain), written to the
 * WAL before it is acknowledged (so it survives kill -9); FUA writes and {@link #flush()} fsync
 * the WAL (so they survive power loss). A write holds its vdisk's state lock shared and its
 * grains' stripe locks from the read of any partial grain to the commit.
 *
 * <p>Where operations run: on the store's I/O pool (writes then on the group committer's
 * thread), except that a read or non-FUA write of at most {@link #INLINE_BYTES_MAX} runs on the
 * caller's thread when nothing else of this vdisk is in flight and it costs no waiting (see
 * {@link #tryInline}); its future is then complete when the method returns. At queue depth 1 the
 * hand-offs to the pool, to the commit thread and back were most of a 4 KiB operation's latency
 * on a loaded machine (docs/iscsi-qd1-latency.md).
 */
public final class Vdisk implements BlockDevice {
    /** Large unmaps and write-zeroes are split into batches of at most this many grains. */
    static final int RANGE_CHUNK_GRAINS_MAX = 1024;
    /** Reads of at least this many grains walk an iterator instead of one lookup per grain. */
    static final int SCAN_READ_GRAINS_MIN = 8;
    /** The largest {@link #writeAtomic}: one write batch of at most this much grain data. */
    static final int ATOMIC_WRITE_BYTES_MAX = 1 << 20;
    /**
     * Reads and non-FUA writes of at most this many bytes may run on the caller's thread (a few
     * microseconds of encoding, a checksum and a WAL append to the page cache); larger ones always
     * go to the I/O pool, so a caller's thread is never held long.
     */
    static final int INLINE_BYTES_MAX = 16 * 1024;
    /** What an operation tried on the caller's thread returns when it would have to wait. */
    private static final Object DECLINED = new Object();
    private static final byte[] EMPTY = new byte[0];

    private final VdiskStore store;
    private final StoreDb db;
    private final VdiskState state;
    private final Optional<SnapshotInfo> snapshot;
    private final String name;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final java.util.concurrent.atomic.AtomicInteger inflight = new java.util.concurrent.atomic.AtomicInteger();
    /** close() waits at most this long for operations in flight. */
    static final long CLOSE_WAIT_NANOS_MAX = java.util.concurrent.TimeUnit.SECONDS.toNanos(30);

    Vdisk(VdiskStore store, VdiskState state, Optional<SnapshotInfo> snapshot) {
        this.store = store;
        this.db = store.db();
        this.state = state;
        this.snapshot = snapshot;
        this.name = state.info().name() + snapshot.map(s -> "@" + s.name()).orElse("");
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int logicalBlockSizeBytes() {
        return state.info().blockSizeBytes();
    }

    @Override
    public long sizeBytes() {
        return snapshot.map(SnapshotInfo::sizeBytes).orElseGet(() -> state.info().sizeBytes());
    }

    /** A snapshot, or any vdisk of a store opened read-only (its disk was full at open). */
    @Override
    public boolean readOnly() {
        return snapshot.isPresent() || store.readOnlyReason() != null;
    }

    public VdiskInfo info() {
        return state.info();
    }

    // ---- the BlockDevice operations: validate on the caller's thread, run on the I/O pool ----

    @Override
    public CompletableFuture<ByteBuffer> read(long lba, int blockCount) {
        if (inlineReadSize(lba, blockCount)) {
            CompletableFuture<ByteBuffer> done = tryInline(() -> {
                byte[] out = new byte[Math.multiplyExact(blockCount, logicalBlockSizeBytes())];
                return readNow(lba, blockCount, ByteBuffer.wrap(out), 0) == DECLINED ? DECLINED : ByteBuffer.wrap(out);
            });
            if (done != null) {
                return done;
            }
        }
        return submit(() -> {
            long stamp = state.lock.readLock();
            try {
                checkRange("read", lba, blockCount);
                return ByteBuffer.wrap(readLocked(lba, blockCount));
            } finally {
                state.lock.unlockRead(stamp);
            }
        });
    }

    /** Decodes straight into {@code dst} (a pooled direct network buffer, say): no heap buffer, no second copy. */
    @Override
    public CompletableFuture<Void> read(long lba, int blockCount, ByteBuffer dst) {
        long bytes = (long) blockCount * logicalBlockSizeBytes();
        if (blockCount < 0 || bytes > dst.remaining()) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("read into buffer: " + blockCount + " blocks = "
                    + bytes + " bytes (expected: >= 0, <= " + dst.remaining() + " remaining in dst) vdisk=" + name));
        }
        int at = dst.position();
        if (inlineReadSize(lba, blockCount)) {
            CompletableFuture<Void> done = tryInline(() -> readNow(lba, blockCount, dst, at));
            if (done != null) {
                return done;
            }
        }
        return submit(() -> {
            long stamp = state.lock.readLock();
            try {
                checkRange("read", lba, blockCount);
                readLocked(lba, blockCount, dst, at, false);
                return null;
            } finally {
                state.lock.unlockRead(stamp);
            }
        });
    }

    /**
     * Every write is one RocksDB write batch (crash-atomic, see the class comment) under the locks
     * of all its grains (so concurrent writes of the same grains land wholly before or after it),
     * and a read of several grains sees one point in time (see {@link #readLocked}); so any write
     * up to this size is atomic. The bound keeps one batch small.
     */
    @Override
    public int atomicWriteBytesMax() {
        return ATOMIC_WRITE_BYTES_MAX;
    }

    /** The grain: an atomic write is whole grains, so it never reads and merges a partial one. */
    @Override
    public int atomicWriteUnitBytes() {
        return state.info().grainSizeBytes();
    }

    @Override
    public CompletableFuture<Void> writeAtomic(long lba, ByteBuffer data, boolean fua) {
        int unit = atomicWriteUnitBytes();
        long offset = lba * logicalBlockSizeBytes();
        if (lba < 0 || offset % unit != 0 || data.remaining() % unit != 0 || data.remaining() > ATOMIC_WRITE_BYTES_MAX) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("atomic write: lba " + lba + ", " + data.remaining()
                    + " bytes (expected: whole grains of " + unit + " bytes, grain-aligned, <= " + ATOMIC_WRITE_BYTES_MAX
                    + " bytes) vdisk=" + name));
        }
        return write(lba, data, fua);
    }

    @Override
    public CompletableFuture<Void> write(long lba, ByteBuffer data, boolean fua) {
        int blockSize = logicalBlockSizeBytes();
        if (data.remaining() % blockSize != 0) {
            return CompletableFuture.failedFuture(new IllegalArgumentException(
                    "write length: " + data.remaining() + " bytes (expected: a multiple of " + blockSize + ") vdisk=" + name));
        }
        CompletableFuture<Void> full = refusedForSpace("write", lba);
        if (full != null) {
            return full;
        }
        byte[] bytes = toArray(data);
        WritePlan<Void> plan = (v, ops) -> {
            dataOps(v, lba, bytes, ops);
            return null;
        };
        // FUA fsyncs the WAL: never on the caller's thread.
        if (!fua && bytes.length <= INLINE_BYTES_MAX && !readOnly()) {
            CompletableFuture<Void> done = tryInline(() -> writeNow("write", lba, bytes.length / blockSize, plan));
            if (done != null) {
                return done;
            }
        }
        return submitWrite("write", lba, bytes.length / blockSize, fua, plan);
    }

    /**
     * A failed future (NO_SPACE) while the store's filesystem is below its reserve and this is a
     * writable vdisk; null when the operation may go on. Reads, unmaps and write-zeroes are never
     * refused: they free space or take none.
     */
    private <T> CompletableFuture<T> refusedForSpace(String what, long lba) {
        if (readOnly() || !store.spaceShort()) {
            return null; // the common case builds no message
        }
        try {
            store.checkSpace(what + " at lba " + lba + " of vdisk " + name);
            return null;
        } catch (BlockDeviceException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public CompletableFuture<Void> flush() {
        if (store.readOnlyReason() != null) {
            return CompletableFuture.completedFuture(null); // nothing was written since the store opened
        }
        return submit(() -> {
            try {
                db.syncWal();
            } catch (RocksDBException e) {
                throw StoreErrors.blockDevice("flush failed on vdisk " + name, e);
            }
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> unmap(long lba, long blockCount) {
        return submit(() -> {
            zeroRange("unmap", lba, blockCount, Mode.UNMAP);
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long lba, long blockCount, boolean unmap) {
        return submit(() -> {
            zeroRange("write-zeroes", lba, blockCount, unmap ? Mode.UNMAP : Mode.ZEROES);
            return null;
        });
    }

    @Override
    public CompletableFuture<CompareResult> compareAndWrite(long lba, ByteBuffer expected, ByteBuffer data) {
        int blockSize = logicalBlockSizeBytes();
        if (expected.remaining() != data.remaining() || data.remaining() % blockSize != 0 || data.remaining() == 0) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("compare-and-write lengths: expected "
                    + expected.remaining() + ", data " + data.remaining() + " bytes (expected: equal, a positive multiple of "
                    + blockSize + ") vdisk=" + name));
        }
        CompletableFuture<CompareResult> full = refusedForSpace("compare-and-write", lba);
        if (full != null) {
            return full;
        }
        byte[] expectedBytes = toArray(expected);
        byte[] bytes = toArray(data);
        return submitWrite("compare-and-write", lba, bytes.length / blockSize, false, (v, ops) -> {
            // The grains are locked: nobody can write them between this read and our commit.
            byte[] current = readLocked(lba, bytes.length / blockSize);
            int mismatch = java.util.Arrays.mismatch(current, expectedBytes);
            if (mismatch >= 0) {
                return CompareResult.miscompareAt(mismatch);
            }
            dataOps(v, lba, bytes, ops);
            return CompareResult.MATCHED;
        }).thenApply(r -> r == null ? CompareResult.MATCHED : r);
    }

    @Override
    public CompletableFuture<List<LbaStatus>> getLbaStatus(long lba, long blockCountMax) {
        return submit(() -> {
            long stamp = state.lock.readLock();
            try {
                long blocks = sizeBytes() / logicalBlockSizeBytes();
                if (lba < 0 || lba >= blocks) {
                    throw new IllegalArgumentException("lba: " + lba + " (expected: 0.." + (blocks - 1) + ") vdisk=" + name);
                }
                if (blockCountMax <= 0) {
                    throw new IllegalArgumentException("blockCountMax: " + blockCountMax + " (expected: > 0) vdisk=" + name);
                }
                // At most one scan chunk per call (the caller asks again from where we stopped), so a
                // whole-LUN request on a huge vdisk costs bounded memory and time.
                long chunkBlocks = (long) VdiskStore.SCAN_CHUNK_GRAINS_MAX * (info().grainSizeBytes() / logicalBlockSizeBytes());
                return lbaStatusLocked(lba, Math.min(Math.min(blockCountMax, blocks - lba), chunkBlocks));
            } finally {
                state.lock.unlockRead(stamp);
            }
        });
    }

    @Override
    public CompletableFuture<Void> resize(long newSizeBytes) {
        if (readOnly()) {
            return CompletableFuture.failedFuture(readOnlyError("resize"));
        }
        return submit(() -> {
            store.resize(state.info().name(), newSizeBytes);
            return null;
        });
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            long deadline = System.nanoTime() + CLOSE_WAIT_NANOS_MAX;
            synchronized (inflight) {
                while (inflight.get() > 0 && System.nanoTime() < deadline) {
                    try {
                        inflight.wait(10);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        break;
                    }
                }
            }
            store.release(state, snapshot);
        }
    }

    // ---- reads ----

    private long readEpoch() {
        return snapshot.map(SnapshotInfo::epoch).orElseGet(() -> state.info().headEpoch());
    }

    /** {@link #readLocked(long, int, ByteBuffer, int, boolean)} into a new array. */
    private byte[] readLocked(long lba, int blockCount) {
        byte[] out = new byte[Math.multiplyExact(blockCount, logicalBlockSizeBytes())];
        readLocked(lba, blockCount, ByteBuffer.wrap(out), 0, false);
        return out;
    }

    /**
     * Reads {@code blockCount} blocks at {@code lba} into {@code out} at absolute index {@code base}
     * (every byte of the range is written, zeros included). A read that spans several grains sees
     * one point in time: one iterator, or lookups under one RocksDB snapshot, so it never returns
     * part of a multi-grain write (see {@link #writeAtomic}). With {@code cachedOnly} it reads
     * memtables and block cache only, and fails with RocksDB's {@code Incomplete} (see
     * {@link StoreDb#incomplete}) where it would have to read a file; it then never scans.
     */
    private void readLocked(long lba, int blockCount, ByteBuffer out, int base, boolean cachedOnly) {
        VdiskInfo v = state.info();
        int grainSize = v.grainSizeBytes();
        long offset = lba * v.blockSizeBytes();
        int length = Math.multiplyExact(blockCount, v.blockSizeBytes());
        if (length == 0) {
            return;
        }
        long firstGrain = offset / grainSize;
        long lastGrain = (offset + length - 1) / grainSize;
        boolean scan = lastGrain - firstGrain + 1 >= SCAN_READ_GRAINS_MIN;
        if (scan && cachedOnly) {
            throw new IllegalStateException("cached-only read of " + (lastGrain - firstGrain + 1) + " grains (expected: < "
                    + SCAN_READ_GRAINS_MIN + ") vdisk=" + name);
        }
        if (scan && !state.isClone()) {
            // One iterator is one consistent view; grains it did not find were never written: zeros.
            boolean[] done = scanOwnGrains(v, firstGrain, lastGrain, offset, length, out, base, db.scanReadOptions);
            zeroMissing(done, firstGrain, offset, length, out, base);
            return;
        }
        try (StoreDb.ReadView view = lastGrain > firstGrain ? db.readView(cachedOnly) : null) {
            boolean[] done = scan ? scanOwnGrains(v, firstGrain, lastGrain, offset, length, out, base, view.scan()) : null;
            byte[] grainBuf = null;
            org.rocksdb.ReadOptions single = cachedOnly ? db.cachedGrainReadOptions : db.grainReadOptions;
            try (ChainReader reader = state.reader(db, readEpoch(), view == null ? single : view.grain())) {
                for (long g = firstGrain; g <= lastGrain; g++) {
                    if (done != null && done[(int) (g - firstGrain)]) {
                        continue;
                    }
                    long grainStart = g * grainSize;
                    int from = (int) Math.max(0, offset - grainStart);
                    int to = (int) Math.min(grainSize, offset + length - grainStart);
                    int outPos = base + (int) (grainStart + from - offset);
                    if (from == 0 && to == grainSize) {
                        decodeGrain(reader, g, out, outPos);
                    } else {
                        if (grainBuf == null) {
                            grainBuf = new byte[grainSize];
                        }
                        decodeGrain(reader, g, ByteBuffer.wrap(grainBuf), 0);
                        out.put(outPos, grainBuf, from, to - from);
                    }
                }
            }
        }
    }

    /** Zero-fills the parts of {@code out} whose grains a scan did not find. */
    private void zeroMissing(boolean[] done, long first, long offset, int length, ByteBuffer out, int base) {
        int grainSize = state.info().grainSizeBytes();
        for (int i = 0; i < done.length; i++) {
            if (!done[i]) {
                long grainStart = (first + i) * grainSize;
                int from = (int) Math.max(0, offset - grainStart);
                int to = (int) Math.min(grainSize, offset + length - grainStart);
                BlockFrame.fillZeros(out, base + (int) (grainStart + from - offset), to - from);
            }
        }
    }

    /**
     * Large reads: one iterator walks this vdisk's keys of grains {@code [first, last]} in order
     * (newest version of each grain first) and decodes the first version at or below the read
     * epoch of each, instead of one point lookup per grain. Returns which grains it found; a clone
     * looks the others up through its parents.
     */
    private boolean[] scanOwnGrains(VdiskInfo v, long first, long last, long offset, int length, ByteBuffer out, int base,
                                    org.rocksdb.ReadOptions options) {
        long epoch = readEpoch();
        int grainSize = v.grainSizeBytes();
        boolean[] done = new boolean[(int) (last - first + 1)];
        byte[] grainBuf = null;
        try (org.rocksdb.RocksIterator it = db.db.newIterator(db.blocks, options)) {
            for (it.seek(Keys.grainStart(v.id(), first)); it.isValid(); it.next()) {
                byte[] key = it.key();
                long g = Keys.blockGrain(key);
                if (Keys.blockVdisk(key) != v.id() || g > last) {
                    break;
                }
                int index = (int) (g - first);
                if (done[index] || Keys.blockEpoch(key) > epoch) {
                    continue; // an older version of a grain already read, or one newer than the read epoch
                }
                done[index] = true;
                long grainStart = g * grainSize;
                int from = (int) Math.max(0, offset - grainStart);
                int to = (int) Math.min(grainSize, offset + length - grainStart);
                int outPos = base + (int) (grainStart + from - offset);
                byte[] frame = it.value();
                if (from == 0 && to == grainSize) {
                    decodeFrame(frame, g, Keys.blockEpoch(key), v.id(), out, outPos);
                } else {
                    if (grainBuf == null) {
                        grainBuf = new byte[grainSize];
                    }
                    decodeFrame(frame, g, Keys.blockEpoch(key), v.id(), ByteBuffer.wrap(grainBuf), 0);
                    out.put(outPos, grainBuf, from, to - from);
                }
            }
            try {
                it.status();
            } catch (RocksDBException e) {
                throw StoreErrors.blockDevice("block store read failed reading vdisk " + name + " grains " + first + ".." + last, e);
            }
        }
        return done;
    }

    private void decodeFrame(byte[] frame, long g, long epoch, long vdiskId, ByteBuffer out, int outPos) {
        int grainSize = state.info().grainSizeBytes();
        try {
            BlockFrame.decode(frame, grainSize, out, outPos);
        } catch (FrameException e) {
            long lba = g * grainSize / state.info().blockSizeBytes();
            throw new BlockDeviceException(BlockDeviceException.Kind.CORRUPTION, String.format(
                    "%s reading vdisk %s at lba %d (grain %d, epoch %d, vdisk id %d)",
                    e.getMessage(), name, lba, g, epoch, vdiskId), e);
        }
    }

    /** Decodes the visible version of grain {@code g} into {@code out}; zeros when there is none. */
    private void decodeGrain(ChainReader reader, long g, ByteBuffer out, int outPos) {
        int grainSize = state.info().grainSizeBytes();
        ChainReader.Located loc;
        try {
            loc = reader.locateFast(g);
        } catch (BlockDeviceException e) {
            long lba = g * grainSize / state.info().blockSizeBytes();
            throw new BlockDeviceException(e.kind(), e.getMessage() + " reading vdisk " + name + " at lba " + lba + " (grain " + g + ")", e);
        }
        if (loc == null) {
            BlockFrame.fillZeros(out, outPos, grainSize);
            return;
        }
        decodeFrame(loc.frame(), g, loc.epoch(), loc.vdiskId(), out, outPos);
    }

    // ---- operations on the caller's thread ----

    /** Small enough to read on the caller's thread: at most {@link #INLINE_BYTES_MAX}, and point lookups (no scan). */
    private boolean inlineReadSize(long lba, int blockCount) {
        long bytes = (long) blockCount * logicalBlockSizeBytes();
        if (lba < 0 || blockCount <= 0 || bytes > INLINE_BYTES_MAX) {
            return false;
        }
        int grainSize = state.info().grainSizeBytes();
        long offset = lba * logicalBlockSizeBytes();
        return (offset + bytes - 1) / grainSize - offset / grainSize + 1 < SCAN_READ_GRAINS_MIN;
    }

    /**
     * Runs {@code op} on the caller's thread if that costs no waiting, and returns its completed
     * (or failed) future; returns null when it declined, and the caller submits the operation to
     * the pool as usual. Tried only when nothing else of this vdisk is in flight, so it never
     * overtakes a queued operation. That is queue depth 1, and also any depth from one caller
     * thread (an iSCSI connection's event loop): each inline operation is over before the caller
     * issues the next, so its small non-FUA I/O never leaves that thread and non-FUA writes are
     * not group-committed (they are not synced, so a group saves little). FUA writes and flushes
     * always take the pool and the committer. {@code op} returns {@link #DECLINED} rather than
     * wait for a lock, reads memtables and block cache only and writes with no_slowdown, so
     * RocksDB's {@code Incomplete} (a file read or a write stall ahead) declines too. The future
     * fails the way {@code supplyAsync}'s would (a {@link CompletionException} around the error).
     */
    @SuppressWarnings("unchecked")
    private <T> CompletableFuture<T> tryInline(Supplier<Object> op) {
        if (inflight.get() != 0 || closed.get()) {
            return null;
        }
        inflight.incrementAndGet();   // before the second look at closed: close() then waits for us
        try {
            if (closed.get()) {
                return null;          // the pool path refuses it
            }
            Object result = op.get();
            return result == DECLINED ? null : CompletableFuture.completedFuture((T) result);
        } catch (RuntimeException e) {
            return StoreDb.incomplete(e) ? null : CompletableFuture.failedFuture(new CompletionException(e));
        } finally {
            if (inflight.decrementAndGet() == 0) {
                synchronized (inflight) {
                    inflight.notifyAll();
                }
            }
        }
    }

    /** A read on the caller's thread: {@link #DECLINED} when the state lock is taken (a snapshot or resize in progress). */
    private Object readNow(long lba, int blockCount, ByteBuffer dst, int at) {
        long stamp = state.lock.tryReadLock();
        if (stamp == 0) {
            return DECLINED;
        }
        try {
            checkRange("read", lba, blockCount);
            readLocked(lba, blockCount, dst, at, true);
            return null;
        } finally {
            state.lock.unlockRead(stamp);
        }
    }

    /**
     * {@link #prepareWrite} and the commit on the caller's thread, for whole grains only (a partial
     * grain needs a read first). {@link #DECLINED} when a lock is taken or the committer is busy
     * (RocksDB would queue this write behind its batch, maybe behind a fsync). Same durability as
     * the committer's non-FUA path: in the WAL, not synced, when it returns.
     */
    private Object writeNow(String op, long lba, long blockCount, WritePlan<?> plan) {
        long stamp = state.lock.tryReadLock();
        if (stamp == 0) {
            return DECLINED;
        }
        int[] locks = null;
        try {
            checkRange(op, lba, blockCount);
            VdiskInfo v = state.info();
            long offset = lba * v.blockSizeBytes();
            long length = blockCount * v.blockSizeBytes();
            if (blockCount == 0) {
                return null;
            }
            if (offset % v.grainSizeBytes() != 0 || length % v.grainSizeBytes() != 0 || !store.committer().idle()) {
                return DECLINED;
            }
            locks = store.grainLocks().tryLock(v.id(), offset / v.grainSizeBytes(), (offset + length - 1) / v.grainSizeBytes());
            if (locks == null) {
                return DECLINED;
            }
            List<GroupCommitter.Op> ops = new ArrayList<>();
            Object result = plan.prepare(v, ops);
            if (!ops.isEmpty()) {
                try (org.rocksdb.WriteBatch batch = new org.rocksdb.WriteBatch()) {
                    GroupCommitter.addTo(batch, ops);
                    db.db.write(db.noWaitWriteOptions, batch);
                } catch (RocksDBException e) {
                    if (StoreDb.incomplete(e)) {
                        return DECLINED;      // a write stall: wait for it on the pool, not here
                    }
                    throw StoreErrors.blockDevice("write failed", e);
                }
            }
            return result;
        } finally {
            if (locks != null) {
                store.grainLocks().unlock(locks);
            }
            state.lock.unlockRead(stamp);
        }
    }

    // ---- writes ----

    private enum Mode { DATA, ZEROES, UNMAP }

    /** Prepares a write's changes into {@code ops} with its grains locked; may decide to write nothing. */
    private interface WritePlan<T> {
        T prepare(VdiskInfo v, List<GroupCommitter.Op> ops);
    }

    /**
     * Runs {@code plan} on an I/O thread holding the vdisk's state lock shared and the grains'
     * locks, then hands the changes to the group committer, which releases both locks once the
     * batch is in the WAL and completes the future with the plan's result.
     */
    private <T> CompletableFuture<T> submitWrite(String op, long lba, long blockCount, boolean fua, WritePlan<T> plan) {
        if (readOnly()) {
            return CompletableFuture.failedFuture(readOnlyError(op));
        }
        return tracked(this.<CompletableFuture<T>>submit(() -> prepareWrite(op, lba, blockCount, fua, plan)).thenCompose(f -> f));
    }

    /**
     * Runs {@code plan} on the calling I/O thread with the locks taken and hands its changes to
     * the committer; the future completes with the plan's result once they are in the WAL.
     */
    private <T> CompletableFuture<T> prepareWrite(String op, long lba, long blockCount, boolean fua, WritePlan<T> plan) {
        long stamp = state.lock.readLock();
        int[] locks = null;
        boolean handedOff = false;
        try {
            checkRange(op, lba, blockCount);
            VdiskInfo v = state.info();
            if (blockCount == 0) {
                return CompletableFuture.completedFuture(null);
            }
            long offset = lba * v.blockSizeBytes();
            long length = blockCount * v.blockSizeBytes();
            locks = store.grainLocks().lock(v.id(), offset / v.grainSizeBytes(), (offset + length - 1) / v.grainSizeBytes());
            List<GroupCommitter.Op> ops = new ArrayList<>();
            T result = plan.prepare(v, ops);
            if (ops.isEmpty()) {
                return CompletableFuture.completedFuture(result);
            }
            CompletableFuture<Void> done = new CompletableFuture<>();
            int[] held = locks;
            store.committer().submit(new GroupCommitter.Pending(ops, fua, () -> {
                store.grainLocks().unlock(held);
                state.lock.unlockRead(stamp);
            }, done));
            handedOff = true;
            return done.thenApply(ignored -> result);
        } finally {
            if (!handedOff) {
                if (locks != null) {
                    store.grainLocks().unlock(locks);
                }
                state.lock.unlockRead(stamp);
            }
        }
    }

    // ---- applying a replicated log on the caller's thread (EntryBatch) ----

    /** {@link EntryBatch#write}: the changes that write {@code data} at {@code lba}, prepared on this thread into {@code ops}. */
    void prepareWriteInto(long lba, ByteBuffer data, List<GroupCommitter.Op> ops) {
        int blockSize = logicalBlockSizeBytes();
        if (data.remaining() % blockSize != 0) {
            throw new IllegalArgumentException("write length: " + data.remaining() + " bytes (expected: a multiple of " + blockSize + ") vdisk=" + name);
        }
        byte[] bytes = toArray(data);
        prepareNow("write", lba, bytes.length / blockSize, ops, (v, o) -> {
            dataOps(v, lba, bytes, o);
            return null;
        });
    }

    /** {@link EntryBatch#compareAndWrite}: compares against the committed data and, on a match, prepares the write into {@code ops}. */
    CompareResult prepareCompareAndWriteInto(long lba, ByteBuffer expected, ByteBuffer data, List<GroupCommitter.Op> ops) {
        int blockSize = logicalBlockSizeBytes();
        if (expected.remaining() != data.remaining() || data.remaining() % blockSize != 0 || data.remaining() == 0) {
            throw new IllegalArgumentException("compare-and-write lengths: expected " + expected.remaining() + ", data "
                    + data.remaining() + " bytes (expected: equal, a positive multiple of " + blockSize + ") vdisk=" + name);
        }
        byte[] expectedBytes = toArray(expected);
        byte[] bytes = toArray(data);
        CompareResult r = prepareNow("compare-and-write", lba, bytes.length / blockSize, ops, (v, o) -> {
            int mismatch = java.util.Arrays.mismatch(readLocked(lba, bytes.length / blockSize), expectedBytes);
            if (mismatch >= 0) {
                return CompareResult.miscompareAt(mismatch);
            }
            dataOps(v, lba, bytes, o);
            return CompareResult.MATCHED;
        });
        return r == null ? CompareResult.MATCHED : r;
    }

    /**
     * Runs {@code plan} on the calling thread with the state lock shared and the grains locked,
     * adding its changes to {@code ops}; releases the locks before returning, so the caller (an
     * {@link EntryBatch}) must be the only writer of this vdisk until it commits them.
     */
    private <T> T prepareNow(String op, long lba, long blockCount, List<GroupCommitter.Op> ops, WritePlan<T> plan) {
        if (readOnly()) {
            throw readOnlyError(op);
        }
        if (closed.get()) {
            throw new BlockDeviceException(BlockDeviceException.Kind.UNAVAILABLE, "vdisk " + name + " is closed");
        }
        long stamp = state.lock.readLock();
        int[] locks = null;
        try {
            checkRange(op, lba, blockCount);
            VdiskInfo v = state.info();
            if (blockCount == 0) {
                return null;
            }
            long offset = lba * v.blockSizeBytes();
            long length = blockCount * v.blockSizeBytes();
            locks = store.grainLocks().lock(v.id(), offset / v.grainSizeBytes(), (offset + length - 1) / v.grainSizeBytes());
            return plan.prepare(v, ops);
        } finally {
            if (locks != null) {
                store.grainLocks().unlock(locks);
            }
            state.lock.unlockRead(stamp);
        }
    }

    /** The changes that write {@code data} at {@code lba}: whole grains encoded, partial ones merged. */
    private void dataOps(VdiskInfo v, long lba, byte[] data, List<GroupCommitter.Op> ops) {
        long offset = lba * v.blockSizeBytes();
        long firstGrain = offset / v.grainSizeBytes();
        long lastGrain = (offset + data.length - 1) / v.grainSizeBytes();
        ChainReader reader = null;
        try {
            for (long g = firstGrain; g <= lastGrain; g++) {
                int grainSize = v.grainSizeBytes();
                long grainStart = g * grainSize;
                int from = (int) Math.max(0, offset - grainStart);
                int to = (int) Math.min(grainSize, offset + data.length - grainStart);
                int dataPos = (int) (grainStart + from - offset);
                byte[] frame;
                if (from == 0 && to == grainSize) {
                    frame = BlockFrame.encode(data, dataPos, grainSize);
                } else {
                    if (reader == null) {
                        reader = state.reader(db, v.headEpoch());
                    }
                    byte[] grain = new byte[grainSize];
                    decodeGrain(reader, g, ByteBuffer.wrap(grain), 0);
                    System.arraycopy(data, dataPos, grain, from, to - from);
                    frame = BlockFrame.encode(grain, 0, grainSize);
                }
                put(ops, v, g, frame);
            }
        } finally {
            if (reader != null) {
                reader.close();
            }
        }
    }

    /**
     * Unmap and write-zeroes, in chunks of at most {@link #RANGE_CHUNK_GRAINS_MAX} grains, each
     * committed (through the group committer) before the next is prepared.
     */
    private void zeroRange(String op, long lba, long blockCount, Mode mode) {
        if (readOnly()) {
            throw readOnlyError(op);
        }
        VdiskInfo v0 = state.info();
        long blocksPerChunk = (long) RANGE_CHUNK_GRAINS_MAX * v0.grainSizeBytes() / v0.blockSizeBytes();
        long end = lba + blockCount;
        for (long chunk = lba; chunk < end; ) {
            // Chunk boundaries on grain boundaries, so no grain is split across two chunks.
            long chunkEnd = Math.min(end, (chunk / blocksPerChunk + 1) * blocksPerChunk);
            long from = chunk;
            submitWriteNow(op, from, chunkEnd - from, (v, ops) -> {
                zeroOps(v, from, chunkEnd - from, mode, ops);
                return null;
            });
            chunk = chunkEnd;
        }
        if (blockCount == 0) {
            checkRange(op, lba, 0);
        }
    }

    /** {@link #submitWrite} already on an I/O thread: prepares here and waits for the commit. */
    private <T> T submitWriteNow(String op, long lba, long blockCount, WritePlan<T> plan) {
        return prepareWrite(op, lba, blockCount, false, plan).join();
    }

    /** The changes that zero or deallocate blocks {@code [lba, lba + blockCount)}. */
    private void zeroOps(VdiskInfo v, long lba, long blockCount, Mode mode, List<GroupCommitter.Op> ops) {
        long offset = lba * v.blockSizeBytes();
        long length = blockCount * v.blockSizeBytes();
        long first = offset / v.grainSizeBytes();
        long last = (offset + length - 1) / v.grainSizeBytes();
        try (ChainReader reader = state.reader(db, v.headEpoch())) {
            for (long g : grainsToTouch(mode, first, last)) {
                zeroGrain(ops, reader, v, g, offset, length, mode);
            }
        }
    }

    /**
     * The grains of {@code [first, last]} an unmap must visit: only those some level of the chain
     * holds a version of (the rest already read as deallocated zeros). Write-zeroes visits all.
     */
    private long[] grainsToTouch(Mode mode, long first, long last) {
        if (mode != Mode.UNMAP) {
            long[] all = new long[(int) (last - first + 1)];
            for (int i = 0; i < all.length; i++) {
                all[i] = first + i;
            }
            return all;
        }
        return store.grainsPresent(state, first, last);
    }

    /** Zeroes or deallocates the part of grain {@code g} inside {@code [offset, offset + length)}. */
    private void zeroGrain(List<GroupCommitter.Op> ops, ChainReader reader, VdiskInfo v, long g, long offset, long length, Mode mode) {
        int grainSize = v.grainSizeBytes();
        long grainStart = g * grainSize;
        int from = (int) Math.max(0, offset - grainStart);
        int to = (int) Math.min(grainSize, offset + length - grainStart);
        boolean whole = from == 0 && to == grainSize;
        ChainReader.Located loc = reader.locate(g);
        boolean mapped = loc != null && BlockFrame.isMapped(loc.frame());
        if (mode == Mode.UNMAP && !mapped) {
            return; // already deallocated: nothing to do
        }
        if (!whole) {
            byte[] grain = new byte[grainSize];
            decodeGrain(reader, g, ByteBuffer.wrap(grain), 0);
            java.util.Arrays.fill(grain, from, to, (byte) 0);
            put(ops, v, g, BlockFrame.encode(grain, 0, grainSize));
        } else if (mode == Mode.ZEROES) {
            put(ops, v, g, BlockFrame.encode(new byte[grainSize], 0, grainSize));
        } else {
            deallocate(ops, reader, v, g, loc);
        }
    }

    /**
     * Deallocates a mapped grain at head. If the only version is the head's own and nothing below
     * can show through (no older version, no parent), deleting it is enough; otherwise a
     * tombstone at head hides what lies below.
     */
    private void deallocate(List<GroupCommitter.Op> ops, ChainReader reader, VdiskInfo v, long g, ChainReader.Located loc) {
        deallocateOps(db, state, reader, v, g, loc, ops);
    }

    /** The changes that deallocate mapped grain {@code g} at head (see {@link #deallocate}); shared with shrink. */
    static void deallocateOps(StoreDb db, VdiskState state, ChainReader reader, VdiskInfo v, long g, ChainReader.Located loc,
                              List<GroupCommitter.Op> ops) {
        long head = v.headEpoch();
        boolean onlyHeadVersion = loc.level() == 0 && loc.epoch() == head
                && reader.olderThan(loc, g) == null && !state.isClone();
        ops.add(new GroupCommitter.Op(db.blocks, Keys.block(v.id(), g, head), onlyHeadVersion ? null : BlockFrame.tombstone()));
        ops.add(new GroupCommitter.Op(db.changes, Keys.change(v.id(), head, g), onlyHeadVersion ? null : EMPTY));
    }

    private void put(List<GroupCommitter.Op> ops, VdiskInfo v, long g, byte[] frame) {
        ops.add(new GroupCommitter.Op(db.blocks, Keys.block(v.id(), g, v.headEpoch()), frame));
        ops.add(new GroupCommitter.Op(db.changes, Keys.change(v.id(), v.headEpoch(), g), EMPTY));
    }

    // ---- provisioning status ----

    private List<LbaStatus> lbaStatusLocked(long lba, long blockCount) {
        return state.isClone() ? lbaStatusThroughChain(lba, blockCount) : lbaStatusOwn(lba, blockCount);
    }

    /**
     * A vdisk without parents: one iterator walks the range's keys (newest version of each grain
     * first) and reads only the frame header of the first version at or below the read epoch, so
     * a 32 MiB request costs one seek and a merge step per version instead of a seek per grain.
     * Grains without a version are deallocated.
     */
    private List<LbaStatus> lbaStatusOwn(long lba, long blockCount) {
        VdiskInfo v = state.info();
        int blocksPerGrain = v.grainSizeBytes() / v.blockSizeBytes();
        long end = lba + blockCount;
        long firstGrain = lba / blocksPerGrain;
        long lastGrain = (end - 1) / blocksPerGrain;
        long epoch = readEpoch();
        Runs runs = new Runs(lba, blocksPerGrain);
        ByteBuffer header = ByteBuffer.allocateDirect(BlockFrame.HEADER_BYTES);
        byte[] headerBytes = new byte[BlockFrame.HEADER_BYTES];
        long decided = firstGrain - 1;   // grains up to here have their status in runs
        try (org.rocksdb.RocksIterator it = db.db.newIterator(db.blocks, db.scanReadOptions)) {
            for (it.seek(Keys.grainStart(v.id(), firstGrain)); it.isValid(); it.next()) {
                byte[] key = it.key();
                long g = Keys.blockGrain(key);
                if (Keys.blockVdisk(key) != v.id() || g > lastGrain) {
                    break;
                }
                if (g <= decided || Keys.blockEpoch(key) > epoch) {
                    continue; // an older version of a grain already decided, or one newer than the read epoch
                }
                if (g > decided + 1) {
                    runs.add(decided + 1, false);
                }
                header.clear();
                int frameBytes = it.value(header);
                header.get(0, headerBytes, 0, Math.min(frameBytes, BlockFrame.HEADER_BYTES));
                runs.add(g, frameBytes >= BlockFrame.HEADER_BYTES && BlockFrame.isMapped(headerBytes));
                decided = g;
            }
            try {
                it.status();
            } catch (RocksDBException e) {
                throw StoreErrors.blockDevice("block store read failed reading the status of vdisk " + name + " grains "
                        + firstGrain + ".." + lastGrain, e);
            }
        }
        if (decided < lastGrain) {
            runs.add(decided + 1, false);
        }
        return runs.finish(end);
    }

    /** Builds runs of equal provisioning from grain statuses given in ascending grain order. */
    private static final class Runs {
        private final List<LbaStatus> list = new ArrayList<>();
        private final int blocksPerGrain;
        private long runStart;
        private boolean runMapped;
        private boolean started;

        Runs(long lba, int blocksPerGrain) {
            this.runStart = lba;
            this.blocksPerGrain = blocksPerGrain;
        }

        /** From grain {@code g} on (until the next call) the status is {@code mapped}. */
        void add(long g, boolean mapped) {
            long stepStart = Math.max(runStart, g * blocksPerGrain);
            if (started && mapped != runMapped) {
                list.add(new LbaStatus(runStart, stepStart - runStart, provisioning(runMapped)));
                runStart = stepStart;
            }
            runMapped = mapped;
            started = true;
        }

        List<LbaStatus> finish(long end) {
            list.add(new LbaStatus(runStart, end - runStart, provisioning(runMapped)));
            return list;
        }
    }

    /** A clone: grains present at any level of the chain, each located through the chain. */
    private List<LbaStatus> lbaStatusThroughChain(long lba, long blockCount) {
        VdiskInfo v = state.info();
        int blocksPerGrain = v.grainSizeBytes() / v.blockSizeBytes();
        long end = lba + blockCount;
        List<LbaStatus> runs = new ArrayList<>();
        try (ChainReader reader = state.reader(db, readEpoch())) {
            long firstGrain = lba / blocksPerGrain;
            long lastGrain = (end - 1) / blocksPerGrain;
            long[] present = store.grainsPresent(state, firstGrain, lastGrain);
            int next = 0;
            long runStart = lba;
            boolean runMapped = false;
            for (long g = firstGrain; g <= lastGrain; ) {
                boolean mapped;
                long grainsInStep;
                if (next < present.length && present[next] == g) {
                    ChainReader.Located loc = reader.locate(g);
                    mapped = loc != null && BlockFrame.isMapped(loc.frame());
                    grainsInStep = 1;
                    next++;
                } else {
                    mapped = false;
                    grainsInStep = (next < present.length ? present[next] : lastGrain + 1) - g;
                }
                long stepStart = Math.max(lba, g * blocksPerGrain);
                if (g != firstGrain && mapped != runMapped) {
                    runs.add(new LbaStatus(runStart, stepStart - runStart, provisioning(runMapped)));
                    runStart = stepStart;
                }
                runMapped = mapped;
                g += grainsInStep;
            }
            runs.add(new LbaStatus(runStart, end - runStart, provisioning(runMapped)));
        }
        return runs;
    }

    private static LbaStatus.Provisioning provisioning(boolean mapped) {
        return mapped ? LbaStatus.Provisioning.MAPPED : LbaStatus.Provisioning.DEALLOCATED;
    }

    // ---- helpers ----

    private void checkRange(String op, long lba, long blockCount) {
        long blocks = sizeBytes() / logicalBlockSizeBytes();
        if (lba < 0 || blockCount < 0 || lba > blocks || blockCount > blocks - lba) {
            throw new IllegalArgumentException(String.format("%s lba: %d + %d blocks (expected: within 0..%d) vdisk=%s",
                    op, lba, blockCount, blocks, name));
        }
    }

    private <T> CompletableFuture<T> submit(Supplier<T> task) {
        if (closed.get()) {
            return CompletableFuture.failedFuture(new BlockDeviceException(BlockDeviceException.Kind.UNAVAILABLE,
                    "vdisk " + name + " is closed"));
        }
        try {
            return tracked(CompletableFuture.supplyAsync(task, store.executor()));
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(new BlockDeviceException(BlockDeviceException.Kind.UNAVAILABLE,
                    "vdisk " + name + ": I/O queue full or store closed", e));
        }
    }

    /** Counts {@code f} as in flight until it completes, so {@link #close()} can wait for it. */
    private <T> CompletableFuture<T> tracked(CompletableFuture<T> f) {
        inflight.incrementAndGet();
        f.whenComplete((ok, err) -> {
            if (inflight.decrementAndGet() == 0) {
                synchronized (inflight) {
                    inflight.notifyAll();
                }
            }
        });
        return f;
    }

    private BlockDeviceException readOnlyError(String op) {
        String why = snapshot.isPresent() ? name + " is a read-only snapshot" : "vdisk " + name + ": " + store.readOnlyReason();
        return new BlockDeviceException(BlockDeviceException.Kind.READ_ONLY, op + " refused: " + why);
    }


    private static byte[] toArray(ByteBuffer data) {
        ByteBuffer view = data.duplicate();
        byte[] bytes = new byte[view.remaining()];
        view.get(bytes);
        return bytes;
    }
}
