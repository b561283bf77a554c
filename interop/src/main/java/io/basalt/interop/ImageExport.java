package io.basalt.interop;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.LongConsumer;

import io.basalt.vdisk.BlockDevice;

/**
 * Writes a block device (a vdisk or a snapshot) to an image file, thin: only clusters that hold
 * non-zero data are written. A raw image gets holes (a sparse file) where the device has none;
 * qcow2 and VMDK images leave those clusters (grains) unallocated. A failed export deletes the
 * partial file.
 */
public final class ImageExport {
    /** The unit of hole detection, the qcow2 cluster size and the VMDK grain size. */
    static final int CLUSTER_BYTES = Qcow2Writer.CLUSTER_BYTES;

    /** What an export did: the disk's size, the data clusters written (of which compressed), the file's size, the time. */
    public record Result(long sizeBytes, long dataClusterCount, long compressedClusterCount, long fileBytes, Duration elapsed) {
        public long dataBytes() {
            return dataClusterCount * CLUSTER_BYTES;
        }
    }

    private ImageExport() {}

    /** Exports {@code device} to {@code file} (replaced if it exists); reports the device bytes scanned so far to {@code progress}. */
    public static Result export(BlockDevice device, Path file, ImageFormat format, boolean compress, LongConsumer progress) {
        if (compress && format == ImageFormat.RAW) {
            throw new IllegalArgumentException("--compress: with format raw (expected: qcow2 or vmdk)");
        }
        long start = System.nanoTime();
        boolean done = false;
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(0);
            Result r = switch (format) {
                case RAW -> raw(device, raf, progress, start);
                case QCOW2 -> qcow2(device, raf.getChannel(), compress, progress, start);
                case VMDK -> vmdk(device, raf.getChannel(), compress, file.getFileName().toString(), progress, start);
            };
            raf.getChannel().force(true);
            done = true;
            return r;
        } catch (IOException e) {
            throw new InteropException(file + ": " + e.getMessage(), e);
        } finally {
            if (!done) {
                deleteQuietly(file);
            }
        }
    }

    private static Result raw(BlockDevice device, RandomAccessFile raf, LongConsumer progress, long start) throws IOException {
        raf.setLength(device.sizeBytes()); // sparse: what is not written below stays a hole
        FileChannel channel = raf.getChannel();
        long[] clusters = {0};
        DeviceScan.scan(device, CLUSTER_BYTES, (offset, data, at, length) -> {
            ByteBuffer buf = ByteBuffer.wrap(data, at, length);
            try {
                while (buf.hasRemaining()) {
                    channel.write(buf, offset + buf.position() - at);
                }
            } catch (IOException e) {
                throw new InteropException("write at offset " + offset + ": " + e.getMessage(), e);
            }
            clusters[0]++;
        }, progress);
        return new Result(device.sizeBytes(), clusters[0], 0, device.sizeBytes(), Duration.ofNanos(System.nanoTime() - start));
    }

    private static Result qcow2(BlockDevice device, FileChannel channel, boolean compress, LongConsumer progress, long start) {
        try (Qcow2Writer writer = new Qcow2Writer(channel, device.sizeBytes(), compress)) {
            DeviceScan.scan(device, CLUSTER_BYTES, writer::cluster, progress);
            long fileBytes = writer.finish();
            return new Result(device.sizeBytes(), writer.dataClusterCount, writer.compressedClusterCount, fileBytes,
                    Duration.ofNanos(System.nanoTime() - start));
        }
    }

    /** monolithicSparse, or with {@code compress} streamOptimized (compressed grains; what OVF and OVA carry). */
    private static Result vmdk(BlockDevice device, FileChannel channel, boolean compress, String name, LongConsumer progress, long start) {
        try (VmdkWriter writer = new VmdkWriter(channel, device.sizeBytes(), compress, name)) {
            DeviceScan.scan(device, CLUSTER_BYTES, writer::grain, progress);
            long fileBytes = writer.finish();
            return new Result(device.sizeBytes(), writer.grainCount, compress ? writer.grainCount : 0, fileBytes,
                    Duration.ofNanos(System.nanoTime() - start));
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            // The export's own error is the one to report; a leftover partial file is named in it by path.
        }
    }
}
