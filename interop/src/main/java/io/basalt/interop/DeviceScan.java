package io.basalt.interop;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongConsumer;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.LbaStatus;

/**
 * Walks a block device's allocation map (GET LBA STATUS) and hands every cluster that holds
 * non-zero data to a sink, in ascending order. Deallocated runs are skipped without reading;
 * mapped clusters that read as zeros are skipped after reading. Reads at most
 * {@value #BATCH_BYTES} bytes at a time.
 *
 * <p>The device works while the sink writes: the status of the next scan chunk is asked for
 * before the current chunk's data is read, and up to {@value #READS_AHEAD_MAX} reads are in
 * flight ahead of the sink. Done one after the other, a 1 GiB export spent about as long waiting
 * for the status walk and the reads as the sink spent writing (docs/performance.md).
 */
final class DeviceScan {
    static final int BATCH_BYTES = 1 << 20;
    /** Reads issued ahead of the sink: bounds the memory held to this many batches. */
    static final int READS_AHEAD_MAX = 4;

    /** Receives one cluster of data: {@code data[at, at + length)} is the device's bytes at {@code offsetBytes}; only valid during the call. */
    interface Sink {
        void cluster(long offsetBytes, byte[] data, int at, int length);
    }

    private DeviceScan() {}

    static void scan(BlockDevice device, int clusterBytes, Sink sink, LongConsumer progress) {
        int bs = device.logicalBlockSizeBytes();
        if (clusterBytes % bs != 0 || BATCH_BYTES % clusterBytes != 0) {
            throw new IllegalArgumentException("clusterBytes: " + clusterBytes + " (expected: a multiple of the block size " + bs
                    + " dividing " + BATCH_BYTES + ")");
        }
        long size = device.sizeBytes();
        long blocks = device.blockCount();
        long lba = 0;
        long nextUnread = 0;
        CompletableFuture<List<LbaStatus>> pending = device.getLbaStatus(0, blocks);
        try {
            while (lba < blocks) {
                List<LbaStatus> runs = pending.join();
                if (runs.isEmpty() || runs.getFirst().lba() != lba) {
                    throw new IllegalStateException("lba status from " + lba + ": " + runs + " (expected: runs starting at " + lba + ") device=" + device.name());
                }
                LbaStatus last = runs.getLast();
                long chunkEnd = Math.min(last.lba() + last.blockCount(), blocks);
                pending = chunkEnd < blocks ? device.getLbaStatus(chunkEnd, blocks - chunkEnd) : null;
                List<Batch> batches = new ArrayList<>();
                for (LbaStatus run : runs) {
                    long end = Math.min(run.lba() + run.blockCount(), blocks);
                    if (run.provisioning() == LbaStatus.Provisioning.MAPPED) {
                        long from = Math.max(run.lba() * bs / clusterBytes * clusterBytes, nextUnread);
                        long to = Math.min((end * bs + clusterBytes - 1) / clusterBytes * clusterBytes, size);
                        for (long pos = from; pos < to; pos += BATCH_BYTES) {
                            batches.add(new Batch(pos, (int) Math.min(BATCH_BYTES, to - pos)));
                        }
                        nextUnread = Math.max(nextUnread, to);
                    }
                    lba = end;
                }
                readBatches(device, batches, clusterBytes, sink);
                progress.accept(lba * bs);
            }
        } finally {
            if (pending != null) {
                pending.exceptionally(e -> null).join(); // not left running against a device the caller closes
            }
        }
    }

    /** A read of {@code lengthBytes} at {@code offsetBytes}, both multiples of the block size. */
    private record Batch(long offsetBytes, int lengthBytes) {}

    /** Reads the batches, {@value #READS_AHEAD_MAX} in flight, and hands their non-zero clusters to the sink in order. */
    private static void readBatches(BlockDevice device, List<Batch> batches, int clusterBytes, Sink sink) {
        int bs = device.logicalBlockSizeBytes();
        byte[] buf = new byte[BATCH_BYTES];
        ArrayDeque<CompletableFuture<ByteBuffer>> inFlight = new ArrayDeque<>();
        int issued = 0;
        try {
            for (Batch b : batches) {
                while (issued < batches.size() && inFlight.size() < READS_AHEAD_MAX) {
                    Batch next = batches.get(issued++);
                    inFlight.add(device.read(next.offsetBytes / bs, next.lengthBytes / bs));
                }
                ByteBuffer data = inFlight.removeFirst().join();
                int n = b.lengthBytes;
                if (data.remaining() != n) {
                    throw new IllegalStateException("read at " + b.offsetBytes + ": " + data.remaining() + " bytes (expected: " + n
                            + ") device=" + device.name());
                }
                data.get(data.position(), buf, 0, n);
                for (int at = 0; at < n; at += clusterBytes) {
                    int length = Math.min(clusterBytes, n - at);
                    if (!ImageImport.isZero(buf, at, length)) {
                        sink.cluster(b.offsetBytes + at, buf, at, length);
                    }
                }
            }
        } finally {
            // A failed sink leaves reads in flight; they finish before the caller may close the device.
            for (CompletableFuture<ByteBuffer> f : inFlight) {
                f.exceptionally(e -> null).join();
            }
        }
    }
}
