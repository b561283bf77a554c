package io.basalt.vdisk.store;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

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
 * <p>How the durability contract is met: every write is one RocksDB {@link WriteBatch} holding
 * all grains it touches (so a write is atomic, and never tears inside a grain), written to the
 * WAL before it is acknowledged (so it survives kill -9); FUA writes and {@link #flush()} fsync
 * the WAL (so they survive power loss). A write holds its vdisk's state lock shared and its
 * grains' stripe locks from the read of any partial grain to the commit.
 */
public final class Vdisk implements BlockDevice {
    /** Large unmaps and write-zeroes are split into batches of at most this many grains. */
    static final int RANGE_CHUNK_GRAINS_MAX = 1024;
    private static final byte[] EMPTY = new byte[0];

    private final VdiskStore store;
    private final StoreDb db;
    private final VdiskState state;
    private final Optional<SnapshotInfo> snapshot;
    private final String name;
    private final AtomicBoolean closed = new AtomicBoolean();

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

    @Override
    public boolean readOnly() {
        return snapshot.isPresent();
    }

    public VdiskInfo info() {
        return state.info();
    }

    // ---- the BlockDevice operations: validate on the caller's thread, run on the I/O pool ----

    @Override
    public CompletableFuture<ByteBuffer> read(long lba, int blockCount) {
        return submit(() -> {
            state.lock.readLock().lock();
            try {
                checkRange("read", lba, blockCount);
                return ByteBuffer.wrap(readLocked(lba, blockCount));
            } finally {
                state.lock.readLock().unlock();
            }
        });
    }

    @Override
    public CompletableFuture<Void> write(long lba, ByteBuffer data, boolean fua) {
        int blockSize = logicalBlockSizeBytes();
        if (data.remaining() % blockSize != 0) {
            return CompletableFuture.failedFuture(new IllegalArgumentException(
                    "write length: " + data.remaining() + " bytes (expected: a multiple of " + blockSize + ") vdisk=" + name));
        }
        byte[] bytes = toArray(data);
        return submit(() -> {
            runWrite("write", lba, bytes.length / blockSize, () -> writeRange(lba, bytes, Mode.DATA, fua));
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> flush() {
        return submit(() -> {
            try {
                db.syncWal();
            } catch (RocksDBException e) {
                throw ioError("flush", e);
            }
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> unmap(long lba, long blockCount) {
        return submit(() -> {
            runWrite("unmap", lba, blockCount, () -> writeRange(lba, blockCount, Mode.UNMAP));
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long lba, long blockCount, boolean unmap) {
        return submit(() -> {
            runWrite("write-zeroes", lba, blockCount, () -> writeRange(lba, blockCount, unmap ? Mode.UNMAP : Mode.ZEROES));
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
        byte[] expectedBytes = toArray(expected);
        byte[] bytes = toArray(data);
        return submit(() -> {
            CompareResult[] result = new CompareResult[1];
            runWrite("compare-and-write", lba, bytes.length / blockSize, () -> result[0] = compareAndWriteLocked(lba, expectedBytes, bytes));
            return result[0];
        });
    }

    @Override
    public CompletableFuture<List<LbaStatus>> getLbaStatus(long lba, long blockCountMax) {
        return submit(() -> {
            state.lock.readLock().lock();
            try {
                long blocks = sizeBytes() / logicalBlockSizeBytes();
                if (lba < 0 || lba >= blocks) {
                    throw new IllegalArgumentException("lba: " + lba + " (expected: 0.." + (blocks - 1) + ") vdisk=" + name);
                }
                if (blockCountMax <= 0) {
                    throw new IllegalArgumentException("blockCountMax: " + blockCountMax + " (expected: > 0) vdisk=" + name);
                }
                return lbaStatusLocked(lba, Math.min(blockCountMax, blocks - lba));
            } finally {
                state.lock.readLock().unlock();
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
            store.release(state, snapshot);
        }
    }

    // ---- reads ----

    private long readEpoch() {
        return snapshot.map(SnapshotInfo::epoch).orElseGet(() -> state.info().headEpoch());
    }

    private byte[] readLocked(long lba, int blockCount) {
        VdiskInfo v = state.info();
        int grainSize = v.grainSizeBytes();
        long offset = lba * v.blockSizeBytes();
        int length = Math.multiplyExact(blockCount, v.blockSizeBytes());
        byte[] out = new byte[length];
        if (length == 0) {
            return out;
        }
        byte[] grainBuf = null;
        try (ChainReader reader = state.reader(db, readEpoch())) {
            long firstGrain = offset / grainSize;
            long lastGrain = (offset + length - 1) / grainSize;
            for (long g = firstGrain; g <= lastGrain; g++) {
                long grainStart = g * grainSize;
                int from = (int) Math.max(0, offset - grainStart);
                int to = (int) Math.min(grainSize, offset + length - grainStart);
                int outPos = (int) (grainStart + from - offset);
                if (from == 0 && to == grainSize) {
                    decodeGrain(reader, g, out, outPos);
                } else {
                    if (grainBuf == null) {
                        grainBuf = new byte[grainSize];
                    }
                    decodeGrain(reader, g, grainBuf, 0);
                    System.arraycopy(grainBuf, from, out, outPos, to - from);
                }
            }
        }
        return out;
    }

    /** Decodes the visible version of grain {@code g} into {@code out}; zeros when there is none. */
    private void decodeGrain(ChainReader reader, long g, byte[] out, int outPos) {
        int grainSize = state.info().grainSizeBytes();
        ChainReader.Located loc;
        try {
            loc = reader.locate(g);
        } catch (BlockDeviceException e) {
            long lba = g * grainSize / state.info().blockSizeBytes();
            throw new BlockDeviceException(e.kind(), e.getMessage() + " reading vdisk " + name + " at lba " + lba + " (grain " + g + ")", e);
        }
        if (loc == null) {
            java.util.Arrays.fill(out, outPos, outPos + grainSize, (byte) 0);
            return;
        }
        try {
            BlockFrame.decode(loc.frame(), grainSize, out, outPos);
        } catch (FrameException e) {
            long lba = g * grainSize / state.info().blockSizeBytes();
            throw new BlockDeviceException(BlockDeviceException.Kind.CORRUPTION, String.format(
                    "%s reading vdisk %s at lba %d (grain %d, epoch %d, vdisk id %d)",
                    e.getMessage(), name, lba, g, loc.epoch(), loc.vdiskId()), e);
        }
    }

    // ---- writes ----

    private enum Mode { DATA, ZEROES, UNMAP }

    private void runWrite(String op, long lba, long blockCount, Runnable body) {
        if (readOnly()) {
            throw readOnlyError(op);
        }
        state.lock.readLock().lock();
        try {
            checkRange(op, lba, blockCount);
            body.run();
        } finally {
            state.lock.readLock().unlock();
        }
    }

    private void writeRange(long lba, byte[] data, Mode mode, boolean fua) {
        VdiskInfo v = state.info();
        long offset = lba * v.blockSizeBytes();
        if (data.length == 0) {
            return;
        }
        long firstGrain = offset / v.grainSizeBytes();
        long lastGrain = (offset + data.length - 1) / v.grainSizeBytes();
        int[] locks = store.grainLocks().lock(v.id(), firstGrain, lastGrain);
        try (WriteBatch batch = new WriteBatch(); ChainReader reader = state.reader(db, v.headEpoch())) {
            for (long g = firstGrain; g <= lastGrain; g++) {
                putGrain(batch, reader, v, g, offset, data, mode);
            }
            commit(batch, fua);
        } finally {
            store.grainLocks().unlock(locks);
        }
    }

    private void writeRange(long lba, long blockCount, Mode mode) {
        VdiskInfo v = state.info();
        long offset = lba * v.blockSizeBytes();
        long length = blockCount * v.blockSizeBytes();
        if (length == 0) {
            return;
        }
        long firstGrain = offset / v.grainSizeBytes();
        long lastGrain = (offset + length - 1) / v.grainSizeBytes();
        for (long chunk = firstGrain; chunk <= lastGrain; chunk += RANGE_CHUNK_GRAINS_MAX) {
            long chunkLast = Math.min(lastGrain, chunk + RANGE_CHUNK_GRAINS_MAX - 1);
            int[] locks = store.grainLocks().lock(v.id(), chunk, chunkLast);
            try (WriteBatch batch = new WriteBatch(); ChainReader reader = state.reader(db, v.headEpoch())) {
                for (long g : grainsToTouch(reader, v, mode, chunk, chunkLast, offset, length)) {
                    putGrain(batch, reader, v, g, offset, length, mode);
                }
                commit(batch, false);
            } finally {
                store.grainLocks().unlock(locks);
            }
        }
    }

    /**
     * The grains of {@code [first, last]} an unmap must visit: only those some level of the chain
     * holds a version of (the rest already read as deallocated zeros). Write-zeroes visits all.
     */
    private long[] grainsToTouch(ChainReader reader, VdiskInfo v, Mode mode, long first, long last, long offset, long length) {
        if (mode != Mode.UNMAP) {
            long[] all = new long[(int) (last - first + 1)];
            for (int i = 0; i < all.length; i++) {
                all[i] = first + i;
            }
            return all;
        }
        return store.grainsPresent(state, first, last);
    }

    /** Adds to {@code batch} what grain {@code g} becomes under a write of {@code data} at {@code offset}. */
    private void putGrain(WriteBatch batch, ChainReader reader, VdiskInfo v, long g, long offset, byte[] data, Mode mode) {
        int grainSize = v.grainSizeBytes();
        long grainStart = g * grainSize;
        int from = (int) Math.max(0, offset - grainStart);
        int to = (int) Math.min(grainSize, offset + data.length - grainStart);
        int dataPos = (int) (grainStart + from - offset);
        byte[] frame;
        if (from == 0 && to == grainSize) {
            frame = BlockFrame.encode(data, dataPos, grainSize);
        } else {
            byte[] grain = new byte[grainSize];
            decodeGrain(reader, g, grain, 0);
            System.arraycopy(data, dataPos, grain, from, to - from);
            frame = BlockFrame.encode(grain, 0, grainSize);
        }
        put(batch, v, g, frame);
    }

    /** Zeroes or deallocates the part of grain {@code g} inside {@code [offset, offset + length)}. */
    private void putGrain(WriteBatch batch, ChainReader reader, VdiskInfo v, long g, long offset, long length, Mode mode) {
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
            decodeGrain(reader, g, grain, 0);
            java.util.Arrays.fill(grain, from, to, (byte) 0);
            put(batch, v, g, BlockFrame.encode(grain, 0, grainSize));
        } else if (mode == Mode.ZEROES) {
            put(batch, v, g, BlockFrame.encode(new byte[grainSize], 0, grainSize));
        } else {
            deallocate(batch, reader, v, g, loc);
        }
    }

    /**
     * Deallocates a mapped grain at head. If the only version is the head's own and nothing below
     * can show through (no older version, no parent), deleting it is enough; otherwise a
     * tombstone at head hides what lies below.
     */
    private void deallocate(WriteBatch batch, ChainReader reader, VdiskInfo v, long g, ChainReader.Located loc) {
        long head = v.headEpoch();
        boolean onlyHeadVersion = loc.level() == 0 && loc.epoch() == head
                && reader.olderThan(loc, g) == null && !state.isClone();
        try {
            if (onlyHeadVersion) {
                batch.delete(db.blocks, Keys.block(v.id(), g, head));
                batch.delete(db.changes, Keys.change(v.id(), head, g));
            } else {
                put(batch, v, g, BlockFrame.tombstone());
            }
        } catch (RocksDBException e) {
            throw ioError("unmap", e);
        }
    }

    private void put(WriteBatch batch, VdiskInfo v, long g, byte[] frame) {
        try {
            batch.put(db.blocks, Keys.block(v.id(), g, v.headEpoch()), frame);
            batch.put(db.changes, Keys.change(v.id(), v.headEpoch(), g), EMPTY);
        } catch (RocksDBException e) {
            throw ioError("write", e);
        }
    }

    private void commit(WriteBatch batch, boolean fua) {
        if (batch.count() == 0) {
            return;
        }
        try {
            db.db.write(fua ? db.syncWriteOptions : db.writeOptions, batch);
        } catch (RocksDBException e) {
            throw ioError("write", e);
        }
    }

    private CompareResult compareAndWriteLocked(long lba, byte[] expected, byte[] data) {
        VdiskInfo v = state.info();
        long offset = lba * v.blockSizeBytes();
        long firstGrain = offset / v.grainSizeBytes();
        long lastGrain = (offset + data.length - 1) / v.grainSizeBytes();
        int[] locks = store.grainLocks().lock(v.id(), firstGrain, lastGrain);
        try {
            byte[] current = readLocked(lba, data.length / v.blockSizeBytes());
            int mismatch = java.util.Arrays.mismatch(current, expected);
            if (mismatch >= 0) {
                return CompareResult.miscompareAt(mismatch);
            }
            try (WriteBatch batch = new WriteBatch(); ChainReader reader = state.reader(db, v.headEpoch())) {
                for (long g = firstGrain; g <= lastGrain; g++) {
                    putGrain(batch, reader, v, g, offset, data, Mode.DATA);
                }
                commit(batch, false);
            }
            return CompareResult.MATCHED;
        } finally {
            store.grainLocks().unlock(locks);
        }
    }

    // ---- provisioning status ----

    private List<LbaStatus> lbaStatusLocked(long lba, long blockCount) {
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
            return CompletableFuture.supplyAsync(task, store.executor());
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(new BlockDeviceException(BlockDeviceException.Kind.UNAVAILABLE,
                    "vdisk " + name + ": I/O queue full or store closed", e));
        }
    }

    private BlockDeviceException readOnlyError(String op) {
        return new BlockDeviceException(BlockDeviceException.Kind.READ_ONLY, op + " refused: " + name + " is a read-only snapshot");
    }

    private BlockDeviceException ioError(String op, RocksDBException e) {
        boolean noSpace = e.getStatus() != null && e.getStatus().getCode() == org.rocksdb.Status.Code.IOError
                && String.valueOf(e.getMessage()).contains("No space");
        return new BlockDeviceException(noSpace ? BlockDeviceException.Kind.NO_SPACE : BlockDeviceException.Kind.IO,
                op + " failed on vdisk " + name + ": " + e.getMessage(), e);
    }

    private static byte[] toArray(ByteBuffer data) {
        ByteBuffer view = data.duplicate();
        byte[] bytes = new byte[view.remaining()];
        view.get(bytes);
        return bytes;
    }
}
