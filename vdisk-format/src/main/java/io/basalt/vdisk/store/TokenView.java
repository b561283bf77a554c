package io.basalt.vdisk.store;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.CompareResult;
import io.basalt.vdisk.LbaStatus;

/**
 * {@link Vdisk#withToken}: a view of one {@link Vdisk} handle whose every mutation carries
 * {@link #token} (admitted only if it is at least the vdisk's fence, see
 * {@link io.basalt.vdisk.FencedException}); reads, flush and GET LBA STATUS are the handle's own.
 */
final class TokenView implements BlockDevice {
    private final Vdisk vdisk;
    private final LongSupplier token;
    private final boolean ownsHandle;

    TokenView(Vdisk vdisk, LongSupplier token, boolean ownsHandle) {
        this.vdisk = vdisk;
        this.token = token;
        this.ownsHandle = ownsHandle;
    }

    @Override public String name() { return vdisk.name(); }
    @Override public int logicalBlockSizeBytes() { return vdisk.logicalBlockSizeBytes(); }
    @Override public long sizeBytes() { return vdisk.sizeBytes(); }
    @Override public void refreshSize() { vdisk.refreshSize(); }
    @Override public boolean readOnly() { return vdisk.readOnly(); }
    @Override public int atomicWriteBytesMax() { return vdisk.atomicWriteBytesMax(); }
    @Override public int atomicWriteUnitBytes() { return vdisk.atomicWriteUnitBytes(); }
    @Override public int atomicWriteBoundaryBytes() { return vdisk.atomicWriteBoundaryBytes(); }

    @Override
    public CompletableFuture<ByteBuffer> read(long lba, int blockCount) {
        return vdisk.read(lba, blockCount);
    }

    @Override
    public CompletableFuture<Void> read(long lba, int blockCount, ByteBuffer dst) {
        return vdisk.read(lba, blockCount, dst);
    }

    @Override
    public CompletableFuture<Void> writeAtomic(long lba, ByteBuffer data, boolean fua) {
        return vdisk.writeAtomic(token.getAsLong(), lba, data, fua);
    }

    @Override
    public CompletableFuture<Void> write(long lba, ByteBuffer data, boolean fua) {
        return vdisk.write(token.getAsLong(), lba, data, fua);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return vdisk.flush();
    }

    @Override
    public CompletableFuture<Void> unmap(long lba, long blockCount) {
        return vdisk.unmap(token.getAsLong(), lba, blockCount);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long lba, long blockCount, boolean unmap) {
        return vdisk.writeZeroes(token.getAsLong(), lba, blockCount, unmap);
    }

    @Override
    public CompletableFuture<CompareResult> compareAndWrite(long lba, ByteBuffer expected, ByteBuffer data) {
        return vdisk.compareAndWrite(token.getAsLong(), lba, expected, data);
    }

    @Override
    public CompletableFuture<List<LbaStatus>> getLbaStatus(long lba, long blockCountMax) {
        return vdisk.getLbaStatus(lba, blockCountMax);
    }

    @Override
    public CompletableFuture<Void> resize(long newSizeBytes) {
        return vdisk.resize(token.getAsLong(), newSizeBytes);
    }

    /** Closes the handle when the view owns it ({@link Vdisk#withTokenOwningHandle}); otherwise does nothing. */
    @Override
    public void close() {
        if (ownsHandle) {
            vdisk.close();
        }
    }

    @Override
    public String toString() {
        return vdisk.name() + " with fencing token " + token.getAsLong();
    }
}
