package io.basalt.interop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import io.basalt.vdisk.store.Vdisk;
import io.basalt.vdisk.store.VdiskStore;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Export then import is the identity, for every format and kind (raw; qcow2 plain and compressed;
 * VMDK monolithicSparse and streamOptimized): a random sparse vdisk of any whole-sector size
 * comes back byte for byte, and the copy allocates no more than the original (zeros written as
 * data become holes).
 */
class RoundTripProperties {

    /** One write: {@code blockCount} 512-byte blocks at {@code lba}, filled by {@code fill} (0: zeros written as data). */
    record Extent(long lbaFraction, int blockCount, byte fill, boolean random) {}

    record Disk(long blockCount, List<Extent> extents) {}

    enum Kind {
        RAW(ImageFormat.RAW, false), QCOW2(ImageFormat.QCOW2, false), QCOW2_COMPRESSED(ImageFormat.QCOW2, true),
        VMDK_SPARSE(ImageFormat.VMDK, false), VMDK_STREAM(ImageFormat.VMDK, true);

        final ImageFormat format;
        final boolean compress;

        Kind(ImageFormat format, boolean compress) {
            this.format = format;
            this.compress = compress;
        }
    }

    @Provide
    Arbitrary<Disk> disks() {
        // Up to 40 MiB in whole sectors: partial grains and clusters at the end, one or two VMDK grain tables (32 MiB each).
        Arbitrary<Long> blocks = Arbitraries.longs().between(1, 40L << 11);
        Arbitrary<Extent> extent = Combinators.combine(Arbitraries.longs().between(0, 1_000_000), Arbitraries.integers().between(1, 300),
                Arbitraries.bytes(), Arbitraries.of(true, false)).as(Extent::new);
        return Combinators.combine(blocks, extent.list().ofMaxSize(24)).as(Disk::new);
    }

    @Property(tries = 60)
    void exportThenImportIsTheIdentity(@ForAll("disks") Disk disk, @ForAll Kind kind) throws IOException {
        Path dir = Files.createTempDirectory("roundtrip");
        try (VdiskStore store = Disks.store(dir.resolve("store"))) {
            store.create("src", disk.blockCount() * 512);
            try (Vdisk src = store.open("src")) {
                write(src, disk);
                byte[] expected = Disks.readAll(src);
                Path image = dir.resolve("image");
                ImageExport.export(src, image, kind.format, kind.compress, done -> { });
                if (kind.format != ImageFormat.RAW) {
                    assertEquals(kind.format, ImageFormat.detect(image), "detected by magic");
                }
                try (Vdisk back = Disks.importInto(store, "back", image, kind.format)) {
                    assertArrayEquals(expected, Disks.readAll(back), kind + " round trip of " + disk);
                }
                long used = store.usage("back").usedBytes();
                assertTrue(used <= store.usage("src").usedBytes() && used <= roundUpToGrain(Disks.nonZeroBytes(expected)),
                        kind + ": the copy allocates " + used + " bytes (original: " + store.usage("src").usedBytes() + ")");
            }
        } finally {
            deleteTree(dir);
        }
    }

    private static long roundUpToGrain(long bytes) {
        return (bytes + Disks.GRANULE_BYTES - 1) / Disks.GRANULE_BYTES * Disks.GRANULE_BYTES;
    }

    private static void write(Vdisk v, Disk disk) {
        for (Extent e : disk.extents()) {
            long lba = e.lbaFraction() * disk.blockCount() / 1_000_001;
            int blocks = (int) Math.min(e.blockCount(), disk.blockCount() - lba);
            byte[] data = new byte[blocks * 512];
            if (e.random()) {
                new java.util.SplittableRandom(e.fill()).nextBytes(data);
            } else {
                Arrays.fill(data, e.fill());
            }
            v.write(lba, ByteBuffer.wrap(data), false).join();
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
