package io.basalt.interop;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.random.RandomGenerator;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.Vdisk;
import io.basalt.vdisk.store.VdiskStore;

/** Embedded stores, random sparse contents and whole-disk reads for the interop tests. */
final class Disks {
    /** No space reserve: tests share a disk with other builds. */
    static final VdiskStore.Options OPTIONS = new VdiskStore.Options(16L << 20, 2, 0);
    static final int GRANULE_BYTES = 4096;

    private Disks() {}

    static VdiskStore store(Path dir) {
        return VdiskStore.open(dir, OPTIONS);
    }

    /**
     * Writes {@code extentCount} extents of random length (1..64 granules) at random granule offsets,
     * each either random bytes or zeros written as data (which must still stay a hole on export).
     */
    static void writeRandomExtents(BlockDevice disk, RandomGenerator random, int extentCount) {
        long granules = disk.sizeBytes() / GRANULE_BYTES;
        int bs = disk.logicalBlockSizeBytes();
        for (int i = 0; i < extentCount; i++) {
            long at = random.nextLong(granules);
            int length = (int) Math.min(1 + random.nextInt(64), granules - at);
            byte[] data = new byte[length * GRANULE_BYTES];
            if (random.nextInt(5) > 0) {
                random.nextBytes(data);
            }
            disk.write(at * GRANULE_BYTES / bs, ByteBuffer.wrap(data), false).join();
        }
    }

    /** Writes random extents into a raw file of {@code sizeBytes}, sparse elsewhere. */
    static void writeRawFile(Path file, long sizeBytes, RandomGenerator random, int extentCount) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(sizeBytes);
            long granules = sizeBytes / GRANULE_BYTES;
            for (int i = 0; i < extentCount; i++) {
                long at = random.nextLong(granules);
                byte[] data = new byte[(int) Math.min(1 + random.nextInt(64), granules - at) * GRANULE_BYTES];
                random.nextBytes(data);
                raf.seek(at * GRANULE_BYTES);
                raf.write(data);
            }
        }
    }

    static byte[] readAll(BlockDevice disk) {
        ByteBuffer b = disk.read(0, Math.toIntExact(disk.blockCount())).join();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    static byte[] readAll(ImageSource source) {
        byte[] out = new byte[Math.toIntExact(source.sizeBytes())];
        source.read(0, out, 0, out.length);
        return out;
    }

    /** Bytes in non-zero {@value #GRANULE_BYTES}-byte granules: what a thin copy of {@code data} must allocate. */
    static long nonZeroBytes(byte[] data) {
        long n = 0;
        for (int at = 0; at < data.length; at += GRANULE_BYTES) {
            if (!ImageImport.isZero(data, at, Math.min(GRANULE_BYTES, data.length - at))) {
                n += Math.min(GRANULE_BYTES, data.length - at);
            }
        }
        return n;
    }

    /** Imports {@code image} into a new vdisk {@code name} of the image's size and returns it open. */
    static Vdisk importInto(VdiskStore store, String name, Path image, ImageFormat format) {
        try (ImageSource source = ImageSource.open(image, format)) {
            store.create(name, source.sizeBytes());
            Vdisk v = store.open(name);
            ImageImport.copy(source, v, done -> { });
            return v;
        }
    }
}
