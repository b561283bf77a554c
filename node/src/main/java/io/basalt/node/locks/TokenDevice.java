package io.basalt.node.locks;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.CompareResult;
import io.basalt.vdisk.LbaStatus;
import io.basalt.vdisk.store.Vdisk;

/**
 * An engine vdisk handle whose every mutation carries the token {@code token} gives at that
 * moment ({@link Vdisk#withToken}); the engine refuses it with a FencedException when the token is
 * below the vdisk's fence. Owns the handle.
 */
final class TokenDevice implements BlockDevice {
    private final Vdisk vdisk;
    private final LongSupplier token;

    TokenDevice(Vdisk vdisk, LongSupplier token) {
        this.vdisk = vdisk;
        this.token = token;
    }

    private BlockDevice view() {
        return vdisk.withToken(token.getAsLong());
    }

    @Override public String name() { return vdisk.name(); }
    @Override public int logicalBlockSizeBytes() { return vdisk.logicalBlockSizeBytes(); }
    @Override public long sizeBytes() { return vdisk.sizeBytes(); }
    @Override public boolean readOnly() { return vdisk.readOnly(); }
    @Override public int atomicWriteBytesMax() { return vdisk.atomicWriteBytesMax(); }
    @Override public int atomicWriteUnitBytes() { return vdisk.atomicWriteUnitBytes(); }
    @Override public int atomicWriteBoundaryBytes() { return vdisk.atomicWriteBoundaryBytes(); }
    @Override public CompletableFuture<ByteBuffer> read(long lba, int blockCount) { return vdisk.read(lba, blockCount); }
    @Override public CompletableFuture<Void> read(long lba, int blockCount, ByteBuffer dst) { return vdisk.read(lba, blockCount, dst); }
    @Override public CompletableFuture<Void> flush() { return vdisk.flush(); }
    @Override public CompletableFuture<List<LbaStatus>> getLbaStatus(long lba, long max) { return vdisk.getLbaStatus(lba, max); }
    @Override public CompletableFuture<Void> writeAtomic(long lba, ByteBuffer data, boolean fua) { return view().writeAtomic(lba, data, fua); }
    @Override public CompletableFuture<Void> write(long lba, ByteBuffer data, boolean fua) { return view().write(lba, data, fua); }
    @Override public CompletableFuture<Void> unmap(long lba, long blockCount) { return view().unmap(lba, blockCount); }
    @Override public CompletableFuture<Void> writeZeroes(long lba, long blockCount, boolean unmap) { return view().writeZeroes(lba, blockCount, unmap); }
    @Override public CompletableFuture<CompareResult> compareAndWrite(long lba, ByteBuffer expected, ByteBuffer data) {
        return view().compareAndWrite(lba, expected, data);
    }
    @Override public CompletableFuture<Void> resize(long newSizeBytes) { return view().resize(newSizeBytes); }

    @Override
    public void close() {
        vdisk.close();
    }
}
