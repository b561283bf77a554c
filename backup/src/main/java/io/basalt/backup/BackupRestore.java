package io.basalt.backup;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.function.LongConsumer;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.LbaStatus;

/**
 * {@code basalt backup restore}: writes a backup onto a device. Every chunk the backup names is
 * checked first ({@link BackupCheck#requireWhole}), so a damaged chunk is refused before a byte is
 * written. Onto a new (empty) device only the backup's chunks are written; into an existing one
 * each chunk-sized piece is compared and only what differs is written (zeros as unmaps).
 */
public final class BackupRestore {
    /** What a restore did: bytes compared, written as data, and zeroed (unmapped). */
    public record Result(long sizeBytes, long comparedBytes, long writtenBytes, long zeroedBytes, Duration elapsed) {}

    /** Writes a restore keeps in flight: the device works while the next chunk is read and checked. */
    static final int WRITES_INFLIGHT_MAX = 16;

    private BackupRestore() {}

    /** Restores {@code m} onto {@code target}, which is new and reads as zeros everywhere. */
    public static Result toEmpty(Repository repo, Manifest m, BlockDevice target, LongConsumer progress) {
        long start = System.nanoTime();
        checkShape(m, target);
        BackupCheck.requireWhole(repo, m, n -> {});
        int bs = m.blockSizeBytes();
        long written = 0;
        java.util.ArrayDeque<java.util.concurrent.CompletableFuture<Void>> inflight = new java.util.ArrayDeque<>();
        for (Manifest.ChunkRef c : m.chunks()) {
            byte[] data = repo.readChunk(c.hash());
            inflight.add(target.write(c.offsetBytes() / bs, ByteBuffer.wrap(data, 0, m.chunkLengthAt(c.offsetBytes())), false));
            if (inflight.size() >= WRITES_INFLIGHT_MAX) {
                inflight.poll().join();
            }
            written += data.length;
            progress.accept(c.offsetBytes() + data.length);
        }
        inflight.forEach(java.util.concurrent.CompletableFuture::join);
        target.flush().join();
        return new Result(m.sizeBytes(), 0, written, 0, Duration.ofNanos(System.nanoTime() - start));
    }

    /** Restores {@code m} into {@code target}, which holds some other data: writes only the pieces that differ. */
    public static Result into(Repository repo, Manifest m, BlockDevice target, LongConsumer progress) {
        long start = System.nanoTime();
        checkShape(m, target);
        BackupCheck.requireWhole(repo, m, n -> {});
        BackupDevice source = new BackupDevice(repo, m);
        int bs = m.blockSizeBytes();
        int chunkBytes = m.chunkBytes();
        ChunkRuns mapped = ChunkRuns.ofMapped(target, chunkBytes);
        long[] totals = new long[3]; // compared, written, zeroed
        for (long chunk = 0; chunk * chunkBytes < m.sizeBytes(); chunk++) {
            long offset = chunk * chunkBytes;
            int length = m.chunkLengthAt(offset);
            boolean inBackup = source.getLbaStatus(offset / bs, 1).join().getFirst().provisioning() == LbaStatus.Provisioning.MAPPED;
            if (inBackup || mapped.contains(chunk)) {
                restoreChunk(source, target, offset, length, totals);
            }
            progress.accept(offset + length);
        }
        target.flush().join();
        return new Result(m.sizeBytes(), totals[0], totals[1], totals[2], Duration.ofNanos(System.nanoTime() - start));
    }

    private static void restoreChunk(BlockDevice source, BlockDevice target, long offset, int length, long[] totals) {
        int bs = source.logicalBlockSizeBytes();
        byte[] want = bytes(source.read(offset / bs, length / bs).join());
        byte[] have = bytes(target.read(offset / bs, length / bs).join());
        totals[0] += length;
        if (Arrays.equals(want, have)) {
            return;
        }
        if (Chunks.isZero(want, 0, want.length)) {
            target.writeZeroes(offset / bs, length / bs, true).join();
            totals[2] += length;
        } else {
            target.write(offset / bs, ByteBuffer.wrap(want), false).join();
            totals[1] += length;
        }
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(b.position(), out);
        return out;
    }

    private static void checkShape(Manifest m, BlockDevice target) {
        if (target.sizeBytes() != m.sizeBytes() || target.logicalBlockSizeBytes() != m.blockSizeBytes()) {
            throw new IllegalArgumentException("restore " + m.id() + " into " + target.name() + ": " + target.sizeBytes() + " bytes of "
                    + target.logicalBlockSizeBytes() + "-byte blocks (expected: " + m.sizeBytes() + " bytes of " + m.blockSizeBytes()
                    + "-byte blocks, as the backup; resize the vdisk first)");
        }
        if (target.readOnly()) {
            throw new IllegalArgumentException("restore " + m.id() + " into " + target.name() + ": read-only (expected: a vdisk's head)");
        }
    }
}
