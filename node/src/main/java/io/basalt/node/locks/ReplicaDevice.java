package io.basalt.node.locks;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.CompareResult;
import io.basalt.vdisk.LbaStatus;

/**
 * A cluster vdisk that is a mirror's read-only replica, as a gateway serves it: reads go to the
 * head, every mutation fails READ_ONLY (the target answers WRITE PROTECTED), as the engine's
 * replica mark does on the embedded store. Owns {@code head}.
 */
final class ReplicaDevice implements BlockDevice {
    private final BlockDevice head;
    private final String why;

    ReplicaDevice(BlockDevice head, String why) {
        this.head = head;
        this.why = why;
    }

    private <T> CompletableFuture<T> refused() {
        return CompletableFuture.failedFuture(new BlockDeviceException(BlockDeviceException.Kind.READ_ONLY, why));
    }

    @Override public String name() { return head.name(); }
    @Override public int logicalBlockSizeBytes() { return head.logicalBlockSizeBytes(); }
    @Override public long sizeBytes() { return head.sizeBytes(); }
    @Override public void refreshSize() { head.refreshSize(); }
    @Override public boolean readOnly() { return true; }
    @Override public CompletableFuture<ByteBuffer> read(long lba, int blockCount) { return head.read(lba, blockCount); }
    @Override public CompletableFuture<Void> read(long lba, int blockCount, ByteBuffer dst) { return head.read(lba, blockCount, dst); }
    @Override public CompletableFuture<Void> write(long lba, ByteBuffer data, boolean fua) { return refused(); }
    @Override public CompletableFuture<Void> flush() { return head.flush(); }
    @Override public CompletableFuture<Void> unmap(long lba, long blockCount) { return refused(); }
    @Override public CompletableFuture<Void> writeZeroes(long lba, long blockCount, boolean unmap) { return refused(); }
    @Override public CompletableFuture<CompareResult> compareAndWrite(long lba, ByteBuffer expected, ByteBuffer data) { return refused(); }
    @Override public CompletableFuture<List<LbaStatus>> getLbaStatus(long lba, long blockCountMax) { return head.getLbaStatus(lba, blockCountMax); }
    @Override public CompletableFuture<Void> resize(long newSizeBytes) { return refused(); }
    @Override public void close() { head.close(); }
}
