package io.basalt.node.metrics;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.CompareResult;
import io.basalt.vdisk.LbaStatus;

/**
 * A device that counts its reads and writes (latency, bytes) on meters made beforehand: per I/O
 * one clock read at the call and one at completion, and one completion callback; Micrometer's
 * timers and counters are lock-free. Everything else passes through unchanged.
 */
public final class MeteredDevice implements BlockDevice {
    private final BlockDevice device;
    private final NodeMetrics.IoMeters meters;

    public MeteredDevice(BlockDevice device, NodeMetrics.IoMeters meters) {
        this.device = device;
        this.meters = meters;
    }

    public BlockDevice device() {
        return device;
    }

    @Override
    public CompletableFuture<ByteBuffer> read(long lba, int blockCount) {
        long startNs = System.nanoTime();
        long bytes = (long) blockCount * device.logicalBlockSizeBytes();
        return device.read(lba, blockCount).whenComplete((r, e) -> read(startNs, bytes, e));
    }

    @Override
    public CompletableFuture<Void> read(long lba, int blockCount, ByteBuffer dst) {
        long startNs = System.nanoTime();
        long bytes = (long) blockCount * device.logicalBlockSizeBytes();
        return device.read(lba, blockCount, dst).whenComplete((r, e) -> read(startNs, bytes, e));
    }

    @Override
    public CompletableFuture<Void> write(long lba, ByteBuffer data, boolean fua) {
        long startNs = System.nanoTime();
        int bytes = data.remaining();
        return device.write(lba, data, fua).whenComplete((r, e) -> written(startNs, bytes, e));
    }

    @Override
    public CompletableFuture<Void> writeAtomic(long lba, ByteBuffer data, boolean fua) {
        long startNs = System.nanoTime();
        int bytes = data.remaining();
        return device.writeAtomic(lba, data, fua).whenComplete((r, e) -> written(startNs, bytes, e));
    }

    /** Failed I/Os count in latency (an operator wants to see slow failures) but move no bytes. */
    private void read(long startNs, long bytes, Throwable failure) {
        meters.readLatency().record(System.nanoTime() - startNs, TimeUnit.NANOSECONDS);
        if (failure == null) {
            meters.readBytes().increment(bytes);
        }
    }

    private void written(long startNs, long bytes, Throwable failure) {
        meters.writeLatency().record(System.nanoTime() - startNs, TimeUnit.NANOSECONDS);
        if (failure == null) {
            meters.writeBytes().increment(bytes);
        }
    }

    @Override public String name() { return device.name(); }
    @Override public int logicalBlockSizeBytes() { return device.logicalBlockSizeBytes(); }
    @Override public long sizeBytes() { return device.sizeBytes(); }
    @Override public void refreshSize() { device.refreshSize(); }
    @Override public long blockCount() { return device.blockCount(); }
    @Override public boolean readOnly() { return device.readOnly(); }
    @Override public int atomicWriteBytesMax() { return device.atomicWriteBytesMax(); }
    @Override public int atomicWriteUnitBytes() { return device.atomicWriteUnitBytes(); }
    @Override public int atomicWriteBoundaryBytes() { return device.atomicWriteBoundaryBytes(); }
    @Override public CompletableFuture<Void> flush() { return device.flush(); }
    @Override public CompletableFuture<Void> unmap(long lba, long blockCount) { return device.unmap(lba, blockCount); }
    @Override public CompletableFuture<Void> writeZeroes(long lba, long blockCount, boolean unmap) { return device.writeZeroes(lba, blockCount, unmap); }
    @Override public CompletableFuture<CompareResult> compareAndWrite(long lba, ByteBuffer expected, ByteBuffer data) {
        return device.compareAndWrite(lba, expected, data);
    }
    @Override public CompletableFuture<List<LbaStatus>> getLbaStatus(long lba, long blockCountMax) { return device.getLbaStatus(lba, blockCountMax); }
    @Override public CompletableFuture<Void> resize(long newSizeBytes) { return device.resize(newSizeBytes); }
    @Override public void close() { device.close(); }
}
