package io.basalt.iscsi;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.CompareResult;
import io.basalt.vdisk.LbaStatus;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;

/**
 * A thread-safe, sparse, in-memory {@link BlockDevice} for tests: a map from LBA to block.
 * Unwritten and unmapped blocks read as zeros; every write and compare-and-write takes the
 * write lock, so compare-and-write is atomic against all other writes. Operations run on the
 * given executor, so callers see truly asynchronous completions.
 */
public final class MemoryBlockDevice implements BlockDevice {

    private final String name;
    private final int blockSize;
    private final Executor executor;
    private final boolean readOnly;
    private final TreeMap<Long, byte[]> blocks = new TreeMap<>();
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private volatile long sizeBytes;
    private volatile int atomicUnitBytes;
    private volatile int atomicBytesMax;
    private volatile int atomicBoundaryBytes;

    public MemoryBlockDevice(String name, int blockSize, long sizeBytes, Executor executor) {
        this(name, blockSize, sizeBytes, executor, false);
    }

    public MemoryBlockDevice(String name, int blockSize, long sizeBytes, Executor executor, boolean readOnly) {
        if (blockSize != 512 && blockSize != 4096) {
            throw new IllegalArgumentException("blockSize: " + blockSize + " (expected: 512 or 4096)");
        }
        if (sizeBytes <= 0 || sizeBytes % blockSize != 0) {
            throw new IllegalArgumentException("sizeBytes: " + sizeBytes + " (expected: a positive multiple of " + blockSize + ")");
        }
        this.name = name;
        this.blockSize = blockSize;
        this.sizeBytes = sizeBytes;
        this.executor = executor;
        this.readOnly = readOnly;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int logicalBlockSizeBytes() {
        return blockSize;
    }

    @Override
    public long sizeBytes() {
        return sizeBytes;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    /** Number of blocks holding data (mapped). */
    public int mappedBlockCount() {
        lock.readLock().lock();
        try {
            return blocks.size();
        } finally {
            lock.readLock().unlock();
        }
    }

    private <T> CompletableFuture<T> async(Supplier<T> op) {
        return CompletableFuture.supplyAsync(op, executor);
    }

    private void checkRange(long lba, long count) {
        if (lba < 0 || count < 0 || lba > blockCount() || count > blockCount() - lba) {
            throw new IllegalArgumentException("lba: " + lba + " count: " + count + " (expected: within " + blockCount() + " blocks) device=" + name);
        }
    }

    private void checkWritable() {
        if (readOnly) {
            throw new BlockDeviceException(BlockDeviceException.Kind.READ_ONLY, "device=" + name + " is read-only");
        }
    }

    @Override
    public CompletableFuture<ByteBuffer> read(long lba, int blockCount) {
        return async(() -> {
            checkRange(lba, blockCount);
            ByteBuffer out = ByteBuffer.allocate(blockCount * blockSize);
            lock.readLock().lock();
            try {
                for (Map.Entry<Long, byte[]> e : blocks.subMap(lba, lba + blockCount).entrySet()) {
                    out.put((int) (e.getKey() - lba) * blockSize, e.getValue());
                }
            } finally {
                lock.readLock().unlock();
            }
            return out;
        });
    }

    /**
     * Offers {@link #writeAtomic}: a write under the write lock is all-or-nothing for readers (they
     * take the read lock) and other writers; there is no crash to survive in memory.
     */
    public MemoryBlockDevice offerAtomicWrites(int unitBytes, int bytesMax) {
        this.atomicUnitBytes = unitBytes;
        this.atomicBytesMax = bytesMax;
        return this;
    }

    /** As {@link #offerAtomicWrites(int, int)}, inside aligned windows of {@code boundaryBytes} only (a cluster vdisk's rule). */
    public MemoryBlockDevice offerAtomicWrites(int unitBytes, int bytesMax, int boundaryBytes) {
        this.atomicBoundaryBytes = boundaryBytes;
        return offerAtomicWrites(unitBytes, bytesMax);
    }

    @Override
    public int atomicWriteBoundaryBytes() {
        return atomicBoundaryBytes;
    }

    @Override
    public int atomicWriteBytesMax() {
        return atomicBytesMax;
    }

    @Override
    public int atomicWriteUnitBytes() {
        return atomicUnitBytes > 0 ? atomicUnitBytes : blockSize;
    }

    @Override
    public CompletableFuture<Void> writeAtomic(long lba, ByteBuffer data, boolean fua) {
        if (atomicBytesMax <= 0) {
            return BlockDevice.super.writeAtomic(lba, data, fua);
        }
        int unit = atomicWriteUnitBytes();
        long first = lba * blockSize;
        boolean crosses = atomicBoundaryBytes > 0 && data.hasRemaining()
                && first / atomicBoundaryBytes != (first + data.remaining() - 1) / atomicBoundaryBytes;
        if (first % unit != 0 || data.remaining() % unit != 0 || data.remaining() > atomicBytesMax || crosses) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("atomic write: lba " + lba + ", " + data.remaining()
                    + " bytes (expected: aligned whole units of " + unit + " bytes, <= " + atomicBytesMax + ")"));
        }
        return write(lba, data, fua);
    }

    @Override
    public CompletableFuture<Void> write(long lba, ByteBuffer data, boolean fua) {
        return async(() -> {
            checkWritable();
            int count = data.remaining() / blockSize;
            if (data.remaining() % blockSize != 0) {
                throw new IllegalArgumentException("data: " + data.remaining() + " bytes (expected: whole blocks of " + blockSize + ")");
            }
            checkRange(lba, count);
            lock.writeLock().lock();
            try {
                store(lba, data);
            } finally {
                lock.writeLock().unlock();
            }
            return null;
        });
    }

    private void store(long lba, ByteBuffer data) {
        int count = data.remaining() / blockSize;
        for (int i = 0; i < count; i++) {
            byte[] b = new byte[blockSize];
            data.get(data.position() + i * blockSize, b);
            blocks.put(lba + i, b);
        }
    }

    @Override
    public CompletableFuture<Void> flush() {
        return async(() -> null);
    }

    @Override
    public CompletableFuture<Void> unmap(long lba, long blockCount) {
        return async(() -> {
            checkWritable();
            checkRange(lba, blockCount);
            lock.writeLock().lock();
            try {
                blocks.subMap(lba, lba + blockCount).clear();
            } finally {
                lock.writeLock().unlock();
            }
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long lba, long blockCount, boolean unmap) {
        if (unmap) {
            return unmap(lba, blockCount);
        }
        return async(() -> {
            checkWritable();
            checkRange(lba, blockCount);
            lock.writeLock().lock();
            try {
                for (long i = 0; i < blockCount; i++) {
                    blocks.put(lba + i, new byte[blockSize]);
                }
            } finally {
                lock.writeLock().unlock();
            }
            return null;
        });
    }

    @Override
    public CompletableFuture<CompareResult> compareAndWrite(long lba, ByteBuffer expected, ByteBuffer data) {
        return async(() -> {
            checkWritable();
            int count = expected.remaining() / blockSize;
            if (expected.remaining() != data.remaining() || expected.remaining() % blockSize != 0) {
                throw new IllegalArgumentException("expected/data: " + expected.remaining() + "/" + data.remaining() + " bytes (expected: equal, whole blocks)");
            }
            checkRange(lba, count);
            lock.writeLock().lock();
            try {
                for (int i = 0; i < count; i++) {
                    byte[] have = blocks.getOrDefault(lba + i, new byte[blockSize]);
                    for (int j = 0; j < blockSize; j++) {
                        if (have[j] != expected.get(expected.position() + i * blockSize + j)) {
                            return CompareResult.miscompareAt((long) i * blockSize + j);
                        }
                    }
                }
                store(lba, data);
                return CompareResult.MATCHED;
            } finally {
                lock.writeLock().unlock();
            }
        });
    }

    @Override
    public CompletableFuture<List<LbaStatus>> getLbaStatus(long lba, long blockCountMax) {
        return async(() -> {
            checkRange(lba, 1);
            long end = Math.min(blockCount(), lba + Math.max(1, blockCountMax));
            List<LbaStatus> runs = new ArrayList<>();
            lock.readLock().lock();
            try {
                long at = lba;
                while (at < end) {
                    boolean mapped = blocks.containsKey(at);
                    long next = at + 1;
                    while (next < end && blocks.containsKey(next) == mapped) {
                        next = mapped ? next + 1 : Math.min(end, nextMapped(next));
                    }
                    runs.add(new LbaStatus(at, next - at, mapped ? LbaStatus.Provisioning.MAPPED : LbaStatus.Provisioning.DEALLOCATED));
                    at = next;
                }
            } finally {
                lock.readLock().unlock();
            }
            return runs;
        });
    }

    private long nextMapped(long from) {
        Long k = blocks.ceilingKey(from);
        return k == null ? Long.MAX_VALUE : k;
    }

    @Override
    public CompletableFuture<Void> resize(long newSizeBytes) {
        return async(() -> {
            if (newSizeBytes <= 0 || newSizeBytes % blockSize != 0) {
                throw new IllegalArgumentException("newSizeBytes: " + newSizeBytes + " (expected: a positive multiple of " + blockSize + ")");
            }
            lock.writeLock().lock();
            try {
                if (!blocks.tailMap(newSizeBytes / blockSize).isEmpty()) {
                    throw new IllegalArgumentException("newSizeBytes: " + newSizeBytes + " (expected: no data past the new end) device=" + name);
                }
                sizeBytes = newSizeBytes;
            } finally {
                lock.writeLock().unlock();
            }
            return null;
        });
    }

    @Override
    public void close() {
    }
}
