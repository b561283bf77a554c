package io.basalt.interop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import io.basalt.vdisk.store.Vdisk;
import io.basalt.vdisk.store.VdiskStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Images Basalt writes pass {@code qemu-img check} and compare equal; images {@code qemu-img} writes import byte for byte. */
class QemuInteropTest {
    private static final long SIZE_BYTES = 24L << 20;

    @TempDir Path dir;
    private VdiskStore store;

    @BeforeEach
    void open() {
        QemuImg.assumeInstalled();
        store = Disks.store(dir.resolve("store"));
    }

    @AfterEach
    void close() {
        if (store != null) {
            store.close();
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void exportedQcow2IsCleanAndEqualToTheRawExport(boolean compress) {
        store.create("src", SIZE_BYTES + 4096); // not a multiple of the 64 KiB cluster: the last cluster is partial
        try (Vdisk v = store.open("src")) {
            Disks.writeRandomExtents(v, new SplittableRandom(7), 60);
            byte[] expected = Disks.readAll(v);
            Path qcow2 = dir.resolve("out.qcow2");
            Path raw = dir.resolve("out.raw");
            ImageExport.Result r = ImageExport.export(v, qcow2, ImageFormat.QCOW2, compress, done -> { });
            ImageExport.export(v, raw, ImageFormat.RAW, false, done -> { });

            assertTrue(QemuImg.ok("check", "-f", "qcow2", qcow2.toString()).contains("No errors were found"));
            QemuImg.ok("compare", "-f", "qcow2", "-F", "raw", qcow2.toString(), raw.toString());
            assertArrayEquals(expected, readFile(raw));
            assertEquals(compress, r.compressedClusterCount() > 0);
            assertTrue(r.fileBytes() < SIZE_BYTES / 2, "thin: " + r.fileBytes() + " bytes for a sparse disk");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"plain", "compressed", "zstd", "v2", "v2-compressed", "cluster-512", "cluster-2M"})
    void qcow2MadeByQemuImgImportsEqualToItsSource(String variant) throws Exception {
        Path raw = dir.resolve("src.raw");
        Disks.writeRawFile(raw, SIZE_BYTES, new SplittableRandom(variant.hashCode()), 40);
        Path image = dir.resolve("img.qcow2");
        String options = switch (variant) {
            case "zstd" -> "compression_type=zstd";
            case "v2", "v2-compressed" -> "compat=0.10";
            case "cluster-512" -> "cluster_size=512";
            case "cluster-2M" -> "cluster_size=2M";
            default -> "compat=1.1";
        };
        boolean compress = variant.contains("compressed") || variant.equals("zstd");
        if (compress) {
            QemuImg.ok("convert", "-c", "-f", "raw", "-O", "qcow2", "-o", options, raw.toString(), image.toString());
        } else {
            QemuImg.ok("convert", "-f", "raw", "-O", "qcow2", "-o", options, raw.toString(), image.toString());
        }
        if (variant.equals("zstd")) {
            assertTrue(QemuImg.ok("info", image.toString()).contains("compression type: zstd"), "the image really is zstd-compressed");
        }
        assertImportsAs(image, readFile(raw), "img");
    }

    @ParameterizedTest
    @ValueSource(strings = {"raw", "qcow2"})
    void qcow2WithABackingFileImportsAsTheWholeChain(String backingFormat) throws Exception {
        Path base = dir.resolve("base.raw");
        Disks.writeRawFile(base, SIZE_BYTES, new SplittableRandom(11), 30);
        Path backing = base;
        if (backingFormat.equals("qcow2")) {
            backing = dir.resolve("base.qcow2");
            QemuImg.ok("convert", "-f", "raw", "-O", "qcow2", base.toString(), backing.toString());
        }
        // The overlay's content: the base with more extents written over it; convert -B stores only what differs.
        Path top = dir.resolve("top.raw");
        Files.copy(base, top);
        try (var raf = new java.io.RandomAccessFile(top.toFile(), "rw")) {
            SplittableRandom random = new SplittableRandom(12);
            for (int i = 0; i < 20; i++) {
                byte[] data = new byte[4096 * (1 + random.nextInt(16))];
                random.nextBytes(data);
                raf.seek(random.nextLong(SIZE_BYTES / 4096 - 16) * 4096);
                raf.write(data);
            }
        }
        Path overlay = dir.resolve("overlay.qcow2");
        QemuImg.ok("convert", "-f", "raw", "-O", "qcow2", "-B", backing.getFileName().toString(), "-F", backingFormat,
                top.toString(), overlay.toString());
        assertImportsAs(overlay, readFile(top), "overlay");
    }

    @Test
    void rawImageImportsThin() throws Exception {
        Path raw = dir.resolve("src.raw");
        Disks.writeRawFile(raw, SIZE_BYTES, new SplittableRandom(3), 40);
        assertImportsAs(raw, readFile(raw), "raw");
    }

    private void assertImportsAs(Path image, byte[] expected, String name) {
        try (Vdisk v = Disks.importInto(store, name, image, null)) {
            assertArrayEquals(expected, Disks.readAll(v), image + " imported");
            assertEquals(Disks.nonZeroBytes(expected), store.usage(name).usedBytes(), "allocated bytes: zeros stay holes");
        }
    }

    private static byte[] readFile(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
