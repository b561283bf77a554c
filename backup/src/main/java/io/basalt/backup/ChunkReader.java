package io.basalt.backup;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.CompletableFuture;

import io.basalt.vdisk.BlockDevice;

/**
 * Reads the chunks of {@link ChunkRuns} from a device in batches of up to {@value #BATCH_BYTES}
 * bytes, keeping {@value #READS_AHEAD_MAX} batches in flight so the device works while the caller
 * hashes and compresses. Hands the batches to a sink in ascending order.
 */
final class ChunkReader {
    static final int BATCH_BYTES = 4 << 20;
    static final int READS_AHEAD_MAX = 2;

    /**
     * One batch of whole chunks: {@code data[0, length)} is the device's bytes at {@code offsetBytes}
     * (chunk-aligned; the last chunk may be short at the end of the disk); valid only during the call.
     */
    interface Sink {
        void batch(long offsetBytes, byte[] data, int length);
    }

    private record Batch(long offsetBytes, int lengthBytes, CompletableFuture<ByteBuffer> data) {}

    private ChunkReader() {}

    /** Reads every chunk of {@code runs}; returns the bytes read. */
    static long read(BlockDevice device, ChunkRuns runs, int chunkBytes, Sink sink) {
        int bs = device.logicalBlockSizeBytes();
        long size = device.sizeBytes();
        int batchBytes = Math.max(chunkBytes, BATCH_BYTES / chunkBytes * chunkBytes);
        Deque<Batch> inflight = new ArrayDeque<>();
        byte[] buf = new byte[batchBytes];
        long readBytes = 0;
        for (ChunkRuns.Run run : runs.runs()) {
            long from = run.first() * chunkBytes;
            long to = Math.min(run.end() * chunkBytes, size);
            for (long pos = from; pos < to; pos += batchBytes) {
                int n = (int) Math.min(batchBytes, to - pos);
                if (n % bs != 0 || pos % bs != 0) {
                    throw new IllegalStateException("batch at " + pos + " of " + n + " bytes (expected: whole blocks of " + bs + ") device=" + device.name());
                }
                inflight.add(new Batch(pos, n, device.read(pos / bs, n / bs)));
                if (inflight.size() > READS_AHEAD_MAX) {
                    readBytes += hand(inflight.poll(), buf, chunkBytes, sink);
                }
            }
        }
        while (!inflight.isEmpty()) {
            readBytes += hand(inflight.poll(), buf, chunkBytes, sink);
        }
        return readBytes;
    }

    private static int hand(Batch b, byte[] buf, int chunkBytes, Sink sink) {
        ByteBuffer data = b.data().join();
        if (data.remaining() != b.lengthBytes()) {
            throw new IllegalStateException("read at " + b.offsetBytes() + ": " + data.remaining() + " bytes (expected: " + b.lengthBytes() + ")");
        }
        data.get(data.position(), buf, 0, b.lengthBytes());
        sink.batch(b.offsetBytes(), buf, b.lengthBytes());
        return b.lengthBytes();
    }
}
