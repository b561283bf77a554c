package io.basalt.vdisk.store;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

import org.rocksdb.RocksDBException;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.CompareResult;
import io.basalt.vdisk.FencedException;
import io.basalt.vdisk.LbaStatus;

/**
 * A {@link BlockDevice} over one vdisk of a {@link VdiskStore}: its head (writable) or one of
 * its snapshots (read-only).
 *
 * <p>How the durability contract is met: every write is one RocksDB write batch holding all
 * grains it touches (atomic, never torn inside a grain), in the WAL before it is acknowledged
 * (survives kill -9); FUA writes and {@link #flush()} fsync the WAL (survive power loss). A write
 * holds its vdisk's state lock shared and its grains' stripe locks from the read of any partial
 * grain to the commit. Large aligned writes put their data in extent files first
 * ({@link ExtentWrites}; synced before the WAL).
 *
 * <p>Where operations run: on the store's I/O pool (writes then on the group committer's thread),
 * except that a read or non-FUA write of at most {@link #INLINE_BYTES_MAX} runs on the caller's
 * thread when that costs no waiting ({@link InflightOps#tryInline};
 * docs/decisions/small-io-on-the-callers-thread.md). The work is done by {@link GrainReads},
 * {@link GrainWrites}, {@link WritePaths} (locking and committing, on the pool, inline or into an
 * {@link EntryBatch}) and {@link LbaStatusScan}, over one {@link VdiskView}.
 *
 * <p>Fencing (the rule: {@link FencedException#check}): every mutation (write, atomic write,
 * unmap, write-zeroes, compare-and-write, resize) carries a fencing token, 0 through this class
 * and the token of the view {@link #withToken} returns. It is admitted only if the token is at
 * least the vdisk's fence at that moment, else its future fails with a {@link FencedException}
 * and nothing is written; an admitted mutation counts as in flight (in the vdisk's
 * {@link FenceGate}) until its future completes, which is what {@link #raiseFence} waits for.
 * Reads, flushes and GET LBA STATUS are never fenced.
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
    static final Object DECLINED = InflightOps.DECLINED;
    /** The token of the mutations made through this class itself: "no lock" (see {@link FencedException}). */
    static final long NO_TOKEN = 0;

    private final VdiskStore store;
    private final StoreDb db;
    private final VdiskState state;
    private final GrainReads reads;
    private final GrainWrites writes;
    private final WritePaths paths;
    private final LbaStatusScan lbaStatus;
    private final VdiskView view;
    private final Optional<SnapshotInfo> snapshot;
    private final String name;
    private final InflightOps inflight;
    /** The mirror applier's handle of a replica ({@link ReplicaWriter}): the replica mark does not make it read-only. */
    private final boolean replicaWriter;

    Vdisk(VdiskStore store, VdiskState state, Optional<SnapshotInfo> snapshot, boolean replicaWriter) {
        if (replicaWriter && snapshot.isPresent()) {
            throw new IllegalArgumentException("a replica writer writes the head, not snapshot " + snapshot.get().name());
        }
        this.replicaWriter = replicaWriter;
        this.store = store;
        this.db = store.db();
        this.state = state;
        this.snapshot = snapshot;
        this.name = state.info().name() + snapshot.map(s -> "@" + s.name()).orElse("");
        this.inflight = new InflightOps(name, store.executor());
        this.view = new VdiskView(db, state, snapshot, name);
        this.reads = new GrainReads(view);
        this.writes = new GrainWrites(view, reads);
        this.paths = new WritePaths(store, state, this::checkRange);
        this.lbaStatus = new LbaStatusScan(view);
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
        return view.sizeBytes();
    }

    /**
     * A snapshot, any vdisk of a store opened read-only (its disk was full at open), or a replica
     * (unless this is its mirror applier's handle). Checked at every mutation, so a handle opened
     * before the vdisk became a replica stops writing from then on.
     */
    @Override
    public boolean readOnly() {
        return snapshot.isPresent() || store.readOnlyReason() != null || (state.replica() && !replicaWriter);
    }

    public VdiskInfo info() {
        return state.info();
    }

    /** The state shared by every handle of this vdisk (an {@link EntryBatch} raises and checks its fence). */
    VdiskState state() {
        return state;
    }

    // ---- fencing (see the class comment and FencedException) ----

    /** This vdisk's fence: the lowest token a mutation may carry; 0 until a lock holder raises it. */
    public long fence() {
        return state.fences.fence();
    }

    /**
     * Makes the fence {@code max(fence(), fence)}, synced to disk first (a fence a crash forgets
     * would let a zombie back in), and returns once every mutation admitted below it, through any
     * handle, has finished. A lower or equal value changes nothing but still waits, so a raise whose
     * wait timed out can be called again. Called by a new lock holder before its first write; a
     * replicated log raises fences with {@link EntryBatch#raiseFence} instead.
     *
     * @throws IllegalArgumentException when {@code fence < 0}
     * @throws BlockDeviceException READ_ONLY (snapshot, read-only store, replica); TRANSIENT when the
     *         mutations in flight outlast {@link FenceGate#RAISE_WAIT_NANOS_MAX} (the fence is stored
     *         all the same); UNAVAILABLE when closed or interrupted
     */
    public void raiseFence(long fence) {
        if (readOnly()) {
            throw readOnlyError("raise fence");
        }
        if (inflight.closed()) {
            throw new BlockDeviceException(BlockDeviceException.Kind.UNAVAILABLE, "vdisk " + name + " is closed");
        }
        state.fences.raise(fence, f -> Fences.storeSync(db, state.id, f), FenceGate.RAISE_WAIT_NANOS_MAX);
    }

    /**
     * A view whose every mutation carries {@code token} (the caller's grant; 0: no lock): admitted
     * only if {@code token >= fence()}, else it fails with a {@link FencedException} and nothing is
     * written. Reads, flush and GET LBA STATUS pass through. The view shares this handle.
     */
    public BlockDevice withToken(long token) {
        if (token < 0) {
            throw new IllegalArgumentException("fencing token: " + token + " (expected: >= 0) vdisk=" + name);
        }
        return new TokenView(this, () -> token, false);
    }

    /**
     * As {@link #withToken(long)}, with the token read from {@code token} at each mutation (a
     * holder whose grant may change), and owning this handle: closing the view closes it.
     */
    public BlockDevice withTokenOwningHandle(java.util.function.LongSupplier token) {
        return new TokenView(this, token, true);
    }

    // ---- the BlockDevice operations: validate on the caller's thread, run on the I/O pool ----

    @Override
    public CompletableFuture<ByteBuffer> read(long lba, int blockCount) {
        if (inlineReadSize(lba, blockCount)) {
            CompletableFuture<ByteBuffer> done = inflight.tryInline(() -> {
                byte[] out = new byte[Math.multiplyExact(blockCount, logicalBlockSizeBytes())];
                return readNow(lba, blockCount, ByteBuffer.wrap(out), 0) == DECLINED ? DECLINED : ByteBuffer.wrap(out);
            });
            if (done != null) {
                return done;
            }
        }
        return inflight.submit(() -> {
            long stamp = state.lock.readLock();
            try {
                checkRange("read", lba, blockCount);
                return ByteBuffer.wrap(reads.read(lba, blockCount));
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
            CompletableFuture<Void> done = inflight.tryInline(() -> readNow(lba, blockCount, dst, at));
            if (done != null) {
                return done;
            }
        }
        return inflight.submit(() -> {
            long stamp = state.lock.readLock();
            try {
                checkRange("read", lba, blockCount);
                reads.read(lba, blockCount, dst, at, false);
                return null;
            } finally {
                state.lock.unlockRead(stamp);
            }
        });
    }

    /**
     * Every write is one RocksDB write batch (crash-atomic, see the class comment) under the locks
     * of all its grains (so concurrent writes of the same grains land wholly before or after it),
     * and a read of several grains sees one point in time (see {@link GrainReads#read}); so any write
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
        return writeAtomic(NO_TOKEN, lba, data, fua);
    }

    CompletableFuture<Void> writeAtomic(long token, long lba, ByteBuffer data, boolean fua) {
        int unit = atomicWriteUnitBytes();
        long offset = lba * logicalBlockSizeBytes();
        if (lba < 0 || offset % unit != 0 || data.remaining() % unit != 0 || data.remaining() > ATOMIC_WRITE_BYTES_MAX) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("atomic write: lba " + lba + ", " + data.remaining()
                    + " bytes (expected: whole grains of " + unit + " bytes, grain-aligned, <= " + ATOMIC_WRITE_BYTES_MAX
                    + " bytes) vdisk=" + name));
        }
        return write(token, lba, data, fua);
    }

    @Override
    public CompletableFuture<Void> write(long lba, ByteBuffer data, boolean fua) {
        return write(NO_TOKEN, lba, data, fua);
    }

    CompletableFuture<Void> write(long token, long lba, ByteBuffer data, boolean fua) {
        int blockSize = logicalBlockSizeBytes();
        IllegalArgumentException bad = WriteLengths.writeError(data, logicalBlockSizeBytes(), name);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        CompletableFuture<Void> full = store.refusedForSpace(readOnly(), "write", lba, name);
        if (full != null) {
            return full;
        }
        int ticket;
        try {
            ticket = admit("write", token);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        CompletableFuture<Void> f;
        try {
            f = admittedWrite(lba, data, fua, blockSize);
        } catch (RuntimeException | Error e) {
            state.fences.done(ticket);    // never started: a raise must not wait for it
            throw e;
        }
        return state.fences.doneWhenComplete(f, ticket);
    }

    /** {@link #write} once admitted under the fence: inline when that costs no waiting, else through the committer. */
    private CompletableFuture<Void> admittedWrite(long lba, ByteBuffer data, boolean fua, int blockSize) {
        byte[] bytes = toArray(data);
        if (ExtentWrites.takes(db, state.info(), lba, bytes.length)) {
            return ExtentWrites.submit(db, lba, bytes, plan -> submitWrite("write", lba, bytes.length / blockSize, fua, plan));
        }
        WritePaths.WritePlan<Void> plan = writePlan(lba, bytes);
        // FUA fsyncs the WAL: never on the caller's thread.
        if (!fua && bytes.length <= INLINE_BYTES_MAX) {
            CompletableFuture<Void> done = inflight.tryInline(() -> paths.inline(new WritePaths.Request("write", lba, bytes.length / blockSize), plan));
            if (done != null) {
                return done;
            }
        }
        return submitWrite("write", lba, bytes.length / blockSize, fua, plan);
    }

    /**
     * Admits a mutation carrying {@code token}: throws READ_ONLY on a read-only handle, and
     * {@link FencedException} when the token is below the fence. The returned ticket goes to
     * {@link FenceGate#done} exactly once, when the mutation has finished.
     */
    private int admit(String op, long token) {
        if (readOnly()) {
            throw readOnlyError(op);
        }
        return state.fences.admit(token);
    }

    /** {@link #admit}, then {@code op} on the I/O pool, counted in flight under the fence until it completes. */
    private <T> CompletableFuture<T> submitAdmitted(String op, long token, java.util.function.Supplier<T> task) {
        int ticket;
        try {
            ticket = admit(op, token);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        CompletableFuture<T> f;
        try {
            f = inflight.submit(task);
        } catch (RuntimeException | Error e) {
            state.fences.done(ticket);    // never started: a raise must not wait for it
            throw e;
        }
        return state.fences.doneWhenComplete(f, ticket);
    }

    @Override
    public CompletableFuture<Void> flush() {
        if (store.readOnlyReason() != null) {
            return CompletableFuture.completedFuture(null); // nothing was written since the store opened
        }
        return inflight.submit(() -> {
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
        return unmap(NO_TOKEN, lba, blockCount);
    }

    CompletableFuture<Void> unmap(long token, long lba, long blockCount) {
        return submitAdmitted("unmap", token, () -> {
            zeroRange("unmap", token, lba, blockCount, GrainWrites.Mode.UNMAP);
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long lba, long blockCount, boolean unmap) {
        return writeZeroes(NO_TOKEN, lba, blockCount, unmap);
    }

    CompletableFuture<Void> writeZeroes(long token, long lba, long blockCount, boolean unmap) {
        return submitAdmitted("write-zeroes", token, () -> {
            zeroRange("write-zeroes", token, lba, blockCount, unmap ? GrainWrites.Mode.UNMAP : GrainWrites.Mode.ZEROES);
            return null;
        });
    }

    @Override
    public CompletableFuture<CompareResult> compareAndWrite(long lba, ByteBuffer expected, ByteBuffer data) {
        return compareAndWrite(NO_TOKEN, lba, expected, data);
    }

    CompletableFuture<CompareResult> compareAndWrite(long token, long lba, ByteBuffer expected, ByteBuffer data) {
        IllegalArgumentException bad = WriteLengths.compareError(expected, data, logicalBlockSizeBytes(), name);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        CompletableFuture<CompareResult> full = store.refusedForSpace(readOnly(), "compare-and-write", lba, name);
        if (full != null) {
            return full;
        }
        int ticket;
        try {
            ticket = admit("compare-and-write", token);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        CompletableFuture<CompareResult> f;
        try {
            byte[] bytes = toArray(data);
            f = submitWrite("compare-and-write", lba, bytes.length / logicalBlockSizeBytes(), false,
                    compareAndWritePlan(lba, toArray(expected), bytes)).thenApply(r -> r == null ? CompareResult.MATCHED : r);
        } catch (RuntimeException | Error e) {
            state.fences.done(ticket);    // never started: a raise must not wait for it
            throw e;
        }
        return state.fences.doneWhenComplete(f, ticket);
    }

    /** The changes that write {@code bytes} at {@code lba}. */
    private WritePaths.WritePlan<Void> writePlan(long lba, byte[] bytes) {
        return (v, ops) -> {
            writes.dataOps(v, lba, bytes, ops);
            return null;
        };
    }

    /** Compares the blocks at {@code lba} with {@code expected} and, on a match, the changes that write {@code bytes}. */
    private WritePaths.WritePlan<CompareResult> compareAndWritePlan(long lba, byte[] expected, byte[] bytes) {
        return (v, ops) -> {
            // The grains are locked: nobody can write them between this read and our commit.
            int mismatch = java.util.Arrays.mismatch(reads.read(lba, bytes.length / v.blockSizeBytes()), expected);
            if (mismatch >= 0) {
                return CompareResult.miscompareAt(mismatch);
            }
            writes.dataOps(v, lba, bytes, ops);
            return CompareResult.MATCHED;
        };
    }

    @Override
    public CompletableFuture<List<LbaStatus>> getLbaStatus(long lba, long blockCountMax) {
        return inflight.submit(() -> {
            long stamp = state.lock.readLock();
            try {
                return lbaStatus.from(lba, blockCountMax);
            } finally {
                state.lock.unlockRead(stamp);
            }
        });
    }

    @Override
    public CompletableFuture<Void> resize(long newSizeBytes) {
        return resize(NO_TOKEN, newSizeBytes);
    }

    CompletableFuture<Void> resize(long token, long newSizeBytes) {
        return submitAdmitted("resize", token, () -> {
            store.resize(state.info().name(), newSizeBytes);
            return null;
        });
    }

    @Override
    public void close() {
        if (inflight.close()) {
            store.release(state, snapshot);
        }
    }

    // ---- operations on the caller's thread ----

    /** Small enough to read on the caller's thread: at most {@link #INLINE_BYTES_MAX}, and point lookups (no scan). */
    private boolean inlineReadSize(long lba, int blockCount) {
        long bytes = (long) blockCount * logicalBlockSizeBytes();
        if (lba < 0 || blockCount <= 0 || bytes > INLINE_BYTES_MAX || lba >= sizeBytes() / logicalBlockSizeBytes()) {
            return false; // out of range: the pool path refuses it, naming the range
        }
        return GrainRange.ofBlocks(state.info(), lba, blockCount).grainCount() < SCAN_READ_GRAINS_MIN;
    }

    /** A read on the caller's thread: {@link #DECLINED} when the state lock is taken (a snapshot or resize in progress). */
    private Object readNow(long lba, int blockCount, ByteBuffer dst, int at) {
        long stamp = state.lock.tryReadLock();
        if (stamp == 0) {
            return DECLINED;
        }
        try {
            checkRange("read", lba, blockCount);
            reads.read(lba, blockCount, dst, at, true);
            return null;
        } finally {
            state.lock.unlockRead(stamp);
        }
    }

    // ---- writes ----

    /**
     * Runs {@code plan} on an I/O thread holding the vdisk's state lock shared and the grains'
     * locks, then hands the changes to the group committer, which releases both locks once the
     * batch is in the WAL and completes the future with the plan's result.
     */
    private <T> CompletableFuture<T> submitWrite(String op, long lba, long blockCount, boolean fua, WritePaths.WritePlan<T> plan) {
        if (readOnly()) {
            return CompletableFuture.failedFuture(readOnlyError(op));
        }
        return inflight.tracked(inflight.<CompletableFuture<T>>submit(() -> paths.throughCommitter(new WritePaths.Request(op, lba, blockCount), fua, plan)).thenCompose(f -> f));
    }

    // ---- applying a replicated log on the caller's thread (EntryBatch) ----

    /** {@link EntryBatch#write}: the changes that write {@code data} at {@code lba}, prepared on this thread into {@code ops}. */
    void prepareWriteInto(long lba, ByteBuffer data, List<GroupCommitter.Op> ops) {
        IllegalArgumentException bad = WriteLengths.writeError(data, logicalBlockSizeBytes(), name);
        if (bad != null) {
            throw bad;
        }
        byte[] bytes = toArray(data);
        prepareNow("write", lba, bytes.length / logicalBlockSizeBytes(), ops, writePlan(lba, bytes));
    }

    /** {@link EntryBatch#compareAndWrite}: compares against the committed data and, on a match, prepares the write into {@code ops}. */
    CompareResult prepareCompareAndWriteInto(long lba, ByteBuffer expected, ByteBuffer data, List<GroupCommitter.Op> ops) {
        IllegalArgumentException bad = WriteLengths.compareError(expected, data, logicalBlockSizeBytes(), name);
        if (bad != null) {
            throw bad;
        }
        byte[] bytes = toArray(data);
        CompareResult r = prepareNow("compare-and-write", lba, bytes.length / logicalBlockSizeBytes(), ops,
                compareAndWritePlan(lba, toArray(expected), bytes));
        return r == null ? CompareResult.MATCHED : r;
    }

    /**
     * Runs {@code plan} on the calling thread with the state lock shared and the grains locked,
     * adding its changes to {@code ops}; releases the locks before returning, so the caller (an
     * {@link EntryBatch}) must be the only writer of this vdisk until it commits them.
     */
    private <T> T prepareNow(String op, long lba, long blockCount, List<GroupCommitter.Op> ops, WritePaths.WritePlan<T> plan) {
        if (readOnly()) {
            throw readOnlyError(op);
        }
        if (inflight.closed()) {
            throw new BlockDeviceException(BlockDeviceException.Kind.UNAVAILABLE, "vdisk " + name + " is closed");
        }
        return paths.into(new WritePaths.Request(op, lba, blockCount), ops, plan);
    }

    /**
     * Unmap and write-zeroes, in chunks of at most {@link #RANGE_CHUNK_GRAINS_MAX} grains, each
     * committed (through the group committer) before the next is prepared. Before each chunk but
     * the first the token is checked against the fence again.
     */
    private void zeroRange(String op, long token, long lba, long blockCount, GrainWrites.Mode mode) {
        if (readOnly()) {
            throw readOnlyError(op);
        }
        VdiskInfo v0 = state.info();
        long blocksPerChunk = (long) RANGE_CHUNK_GRAINS_MAX * v0.grainSizeBytes() / v0.blockSizeBytes();
        long end = lba + blockCount;
        for (long chunk = lba; chunk < end; ) {
            // Chunk boundaries on grain boundaries, so no grain is split across two chunks.
            long chunkEnd = Math.min(end, (chunk / blocksPerChunk + 1) * blocksPerChunk);
            if (chunk != lba) {
                // A raise since the admission waits for this mutation: if it fenced this token,
                // stop here rather than make the raise wait for the rest of a large range.
                state.fences.check(token);
            }
            long from = chunk;
            submitWriteNow(op, from, chunkEnd - from, (v, ops) -> {
                writes.zeroOps(v, from, chunkEnd - from, mode, ops);
                return null;
            });
            chunk = chunkEnd;
        }
        if (blockCount == 0) {
            checkRange(op, lba, 0);
        }
    }

    /** {@link #submitWrite} already on an I/O thread: prepares here and waits for the commit. */
    private <T> T submitWriteNow(String op, long lba, long blockCount, WritePaths.WritePlan<T> plan) {
        return paths.throughCommitter(new WritePaths.Request(op, lba, blockCount), false, plan).join();
    }

    // ---- helpers ----

    private void checkRange(String op, long lba, long blockCount) {
        long blocks = sizeBytes() / logicalBlockSizeBytes();
        if (lba < 0 || blockCount < 0 || lba > blocks || blockCount > blocks - lba) {
            throw new IllegalArgumentException(String.format("%s lba: %d + %d blocks (expected: within 0..%d) vdisk=%s",
                    op, lba, blockCount, blocks, name));
        }
    }

    private BlockDeviceException readOnlyError(String op) {
        String why = snapshot.isPresent() ? name + " is a read-only snapshot"
                : store.readOnlyReason() != null ? "vdisk " + name + ": " + store.readOnlyReason()
                : "vdisk " + name + " is a read-only replica (only its mirror applier writes it)";
        return new BlockDeviceException(BlockDeviceException.Kind.READ_ONLY, op + " refused: " + why);
    }

    private static byte[] toArray(ByteBuffer data) {
        ByteBuffer view = data.duplicate();
        byte[] bytes = new byte[view.remaining()];
        view.get(bytes);
        return bytes;
    }
}
