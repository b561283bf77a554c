package io.basalt.interop;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.function.LongConsumer;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.LbaStatus;

/**
 * Walks a block device's allocation map (GET LBA STATUS) and hands every cluster that holds
 * non-zero data to a sink, in ascending order. Deallocated runs are skipped without reading;
 * mapped clusters that read as zeros are skipped after reading. Reads at most
 * {@value #BATCH_BYTES} bytes at a time.
 */
final class DeviceScan {
    static final int BATCH_BYTES = 1 << 20;

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
        while (lba < blocks) {
            List<LbaStatus> runs = device.getLbaStatus(lba, blocks - lba).join();
            if (runs.isEmpty() || runs.getFirst().lba() != lba) {
                throw new IllegalStateException("lba status from " + lba + ": " + runs + " (expected: runs starting at " + lba + ") device=" + device.name());
            }
            for (LbaStatus run : runs) {
                long end = Math.min(run.lba() + run.blockCount(), blocks);
                if (run.provisioning() == LbaStatus.Provisioning.MAPPED) {
                    long from = Math.max(run.lba() * bs / clusterBytes * clusterBytes, nextUnread);
                    long to = Math.min((end * bs + clusterBytes - 1) / clusterBytes * clusterBytes, size);
                    if (to > from) {
                        readSpan(device, from, to, clusterBytes, sink);
                        nextUnread = to;
                    }
                }
                lba = end;
            }
            progress.accept(lba * bs);
        }
    }

    private static void readSpan(BlockDevice device, long from, long to, int clusterBytes, Sink sink) {
        int bs = device.logicalBlockSizeBytes();
        byte[] batch = new byte[BATCH_BYTES];
        for (long pos = from; pos < to; pos += BATCH_BYTES) {
            int n = (int) Math.min(BATCH_BYTES, to - pos);
            ByteBuffer data = device.read(pos / bs, n / bs).join();
            data.get(data.position(), batch, 0, n);
            for (int at = 0; at < n; at += clusterBytes) {
                int length = Math.min(clusterBytes, n - at);
                if (!ImageImport.isZero(batch, at, length)) {
                    sink.cluster(pos + at, batch, at, length);
                }
            }
        }
    }
}
