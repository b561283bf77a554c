package io.basalt.backup;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.CompareResult;
import io.basalt.vdisk.LbaStatus;

/**
 * A backup as a read-only block device: chunks read from the repository (each checked), absent
 * chunks as zeros and reported deallocated by GET LBA STATUS, so anything that copies a device
 * thinly (an image export, a restore) copies a backup thinly. Reads run on the caller's thread.
 */
public final class BackupDevice implements BlockDevice {
    private final Repository repo;
    private final Manifest manifest;
    private final Map<Long, String> byChunk = new HashMap<>();
    private long cachedChunk = -1;
    private byte[] cachedData;

    public BackupDevice(Repository repo, Manifest manifest) {
        this.repo = repo;
        this.manifest = manifest;
        manifest.chunks().forEach(c -> byChunk.put(c.offsetBytes() / manifest.chunkBytes(), c.hash()));
    }

    @Override public String name() { return "backup " + manifest.id(); }
    @Override public int logicalBlockSizeBytes() { return manifest.blockSizeBytes(); }
    @Override public long sizeBytes() { return manifest.sizeBytes(); }
    @Override public boolean readOnly() { return true; }

    @Override
    public CompletableFuture<ByteBuffer> read(long lba, int blockCount) {
        int bs = manifest.blockSizeBytes();
        if (lba < 0 || blockCount < 0 || lba + blockCount > blockCount()) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("read lba " + lba + " + " + blockCount + " blocks (expected: within "
                    + blockCount() + " blocks) device=" + name()));
        }
        try {
            byte[] out = new byte[Math.multiplyExact(blockCount, bs)];
            int chunkBytes = manifest.chunkBytes();
            long pos = lba * bs;
            for (int done = 0; done < out.length; ) {
                long chunk = (pos + done) / chunkBytes;
                int inChunk = (int) ((pos + done) % chunkBytes);
                int n = Math.min(out.length - done, chunkBytes - inChunk);
                byte[] data = chunk(chunk);
                if (data != null) {
                    System.arraycopy(data, inChunk, out, done, Math.min(n, data.length - inChunk));
                }
                done += n;
            }
            return CompletableFuture.completedFuture(ByteBuffer.wrap(out));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** The raw bytes of chunk {@code index}, or null for a hole. */
    private byte[] chunk(long index) {
        String hash = byChunk.get(index);
        if (hash == null) {
            return null;
        }
        if (index != cachedChunk) {
            cachedData = repo.readChunk(hash);
            cachedChunk = index;
        }
        return cachedData;
    }

    @Override
    public CompletableFuture<List<LbaStatus>> getLbaStatus(long lba, long blockCountMax) {
        long blocks = blockCount();
        if (lba < 0 || lba >= blocks || blockCountMax <= 0) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("lba status from " + lba + " (expected: 0.." + (blocks - 1) + ") device=" + name()));
        }
        int bs = manifest.blockSizeBytes();
        long blocksPerChunk = manifest.chunkBytes() / bs;
        long end = Math.min(blocks, lba + blockCountMax);
        List<LbaStatus> out = new ArrayList<>();
        for (long at = lba; at < end; ) {
            long chunk = at / blocksPerChunk;
            long next = Math.min(end, (chunk + 1) * blocksPerChunk);
            LbaStatus.Provisioning p = byChunk.containsKey(chunk) ? LbaStatus.Provisioning.MAPPED : LbaStatus.Provisioning.DEALLOCATED;
            LbaStatus last = out.isEmpty() ? null : out.getLast();
            if (last != null && last.provisioning() == p) {
                out.set(out.size() - 1, new LbaStatus(last.lba(), next - last.lba(), p));
            } else {
                out.add(new LbaStatus(at, next - at, p));
            }
            at = next;
        }
        return CompletableFuture.completedFuture(out);
    }

    private CompletableFuture<Void> readOnlyRefusal() {
        return CompletableFuture.failedFuture(new UnsupportedOperationException(name() + " is read-only"));
    }

    @Override public CompletableFuture<Void> write(long lba, ByteBuffer data, boolean fua) { return readOnlyRefusal(); }
    @Override public CompletableFuture<Void> flush() { return CompletableFuture.completedFuture(null); }
    @Override public CompletableFuture<Void> unmap(long lba, long blockCount) { return readOnlyRefusal(); }
    @Override public CompletableFuture<Void> writeZeroes(long lba, long blockCount, boolean unmap) { return readOnlyRefusal(); }
    @Override public CompletableFuture<Void> resize(long newSizeBytes) { return readOnlyRefusal(); }

    @Override
    public CompletableFuture<CompareResult> compareAndWrite(long lba, ByteBuffer expected, ByteBuffer data) {
        return CompletableFuture.failedFuture(new UnsupportedOperationException(name() + " is read-only"));
    }

    @Override
    public void close() {
        cachedData = null;
    }
}
