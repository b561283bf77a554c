package io.basalt.interop;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongConsumer;

import io.basalt.vdisk.BlockDevice;

/**
 * Copies an image into a block device that reads as zeros (a new thin vdisk): only runs of
 * non-zero {@value #GRANULE_BYTES}-byte granules are written, so holes, zero clusters and zeros
 * written as data all stay unallocated. Reads {@value #CHUNK_BYTES} bytes at a time and keeps at
 * most {@value #INFLIGHT_WRITES_MAX} writes in flight: memory is bounded whatever the image's size.
 */
public final class ImageImport {
    static final int CHUNK_BYTES = 1 << 20;
    static final int GRANULE_BYTES = 4096;
    static final int INFLIGHT_WRITES_MAX = 8;

    /** What an import did: the disk's size, the bytes written (non-zero data), the time it took. */
    public record Result(long sizeBytes, long writtenBytes, Duration elapsed) {}

    private ImageImport() {}

    /**
     * Copies {@code source} into {@code target}, whose size must equal the image's; reports the bytes
     * covered so far to {@code progress}. {@code target} must read as zeros where nothing is written.
     */
    public static Result copy(ImageSource source, BlockDevice target, LongConsumer progress) {
        long start = System.nanoTime();
        long size = source.sizeBytes();
        int bs = target.logicalBlockSizeBytes();
        if (target.sizeBytes() != size) {
            throw new IllegalArgumentException("target size: " + target.sizeBytes() + " bytes (expected: the image's " + size + ") device=" + target.name());
        }
        if (GRANULE_BYTES % bs != 0) {
            throw new IllegalArgumentException("block size: " + bs + " (expected: a divisor of " + GRANULE_BYTES + ") device=" + target.name());
        }
        ArrayDeque<CompletableFuture<Void>> inflight = new ArrayDeque<>();
        long written = 0;
        for (long pos = 0; pos < size; pos += CHUNK_BYTES) {
            int length = (int) Math.min(CHUNK_BYTES, size - pos);
            byte[] chunk = new byte[length];
            source.read(pos, chunk, 0, length);
            written += writeNonZeroRuns(target, pos, chunk, inflight);
            progress.accept(pos + length);
        }
        inflight.forEach(CompletableFuture::join);
        target.flush().join();
        return new Result(size, written, Duration.ofNanos(System.nanoTime() - start));
    }

    private static long writeNonZeroRuns(BlockDevice target, long chunkOffset, byte[] chunk, ArrayDeque<CompletableFuture<Void>> inflight) {
        int bs = target.logicalBlockSizeBytes();
        long written = 0;
        int at = 0;
        while (at < chunk.length) {
            while (at < chunk.length && isZero(chunk, at, Math.min(GRANULE_BYTES, chunk.length - at))) {
                at += GRANULE_BYTES;
            }
            int runStart = at;
            while (at < chunk.length && !isZero(chunk, at, Math.min(GRANULE_BYTES, chunk.length - at))) {
                at += GRANULE_BYTES;
            }
            int runEnd = Math.min(at, chunk.length);
            if (runEnd > runStart) {
                while (inflight.size() >= INFLIGHT_WRITES_MAX) {
                    inflight.removeFirst().join();
                }
                // The image's size is a multiple of the block size (checked by the caller), so every run is whole blocks.
                inflight.addLast(target.write((chunkOffset + runStart) / bs, ByteBuffer.wrap(chunk, runStart, runEnd - runStart), false));
                written += runEnd - runStart;
            }
        }
        return written;
    }

    static boolean isZero(byte[] b, int from, int length) {
        return java.util.Arrays.mismatch(b, from, from + length, ZEROS, 0, length) < 0;
    }

    private static final byte[] ZEROS = new byte[CHUNK_BYTES];
}
