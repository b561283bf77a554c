package io.basalt.backup;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.CompareResult;
import io.basalt.vdisk.LbaStatus;

/** A device passing every call to another; tests override what they break. */
class ForwardingDevice implements BlockDevice {
    private final BlockDevice d;

    ForwardingDevice(BlockDevice d) {
        this.d = d;
    }

    @Override public String name() { return d.name(); }
    @Override public int logicalBlockSizeBytes() { return d.logicalBlockSizeBytes(); }
    @Override public long sizeBytes() { return d.sizeBytes(); }
    @Override public boolean readOnly() { return d.readOnly(); }
    @Override public CompletableFuture<ByteBuffer> read(long lba, int blockCount) { return d.read(lba, blockCount); }
    @Override public CompletableFuture<Void> write(long lba, ByteBuffer data, boolean fua) { return d.write(lba, data, fua); }
    @Override public CompletableFuture<Void> flush() { return d.flush(); }
    @Override public CompletableFuture<Void> unmap(long lba, long blockCount) { return d.unmap(lba, blockCount); }
    @Override public CompletableFuture<Void> writeZeroes(long lba, long blockCount, boolean unmap) { return d.writeZeroes(lba, blockCount, unmap); }
    @Override public CompletableFuture<CompareResult> compareAndWrite(long lba, ByteBuffer e, ByteBuffer data) { return d.compareAndWrite(lba, e, data); }
    @Override public CompletableFuture<List<LbaStatus>> getLbaStatus(long lba, long max) { return d.getLbaStatus(lba, max); }
    @Override public CompletableFuture<Void> resize(long newSizeBytes) { return d.resize(newSizeBytes); }
    @Override public void close() { d.close(); }
}
