package io.basalt.interop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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

/**
 * VMDKs Basalt writes (monolithicSparse, and streamOptimized with --compress) pass {@code qemu-img
 * check} and compare equal; VMDKs {@code qemu-img} writes, of both kinds, import byte for byte;
 * malformed fields are refused naming them.
 */
class QemuVmdkTest {
    private static final long SIZE_BYTES = 40L << 20; // more than one grain table (32 MiB each)

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

    @ParameterizedTest(name = "streamOptimized={0}")
    @ValueSource(booleans = {false, true})
    void exportedVmdkIsCleanEqualToTheRawExportAndImportsBack(boolean streamOptimized) throws IOException {
        store.create("src", SIZE_BYTES + 4096); // the last grain is partial
        try (Vdisk v = store.open("src")) {
            Disks.writeRandomExtents(v, new SplittableRandom(17), 60);
            byte[] expected = Disks.readAll(v);
            Path vmdk = dir.resolve("out.vmdk");
            Path raw = dir.resolve("out.raw");
            ImageExport.Result r = ImageExport.export(v, vmdk, ImageFormat.VMDK, streamOptimized, done -> { });
            ImageExport.export(v, raw, ImageFormat.RAW, false, done -> { });

            String info = QemuImg.ok("info", "-f", "vmdk", vmdk.toString());
            assertTrue(info.contains("create type: " + (streamOptimized ? "streamOptimized" : "monolithicSparse")), info);
            assertTrue(QemuImg.ok("check", "-f", "vmdk", vmdk.toString()).contains("No errors were found"));
            QemuImg.ok("compare", "-f", "vmdk", "-F", "raw", vmdk.toString(), raw.toString());
            assertTrue(r.fileBytes() < SIZE_BYTES / 2, "thin: " + r.fileBytes() + " bytes for a sparse disk");
            assertEquals(Files.size(vmdk), r.fileBytes());

            try (Vdisk back = Disks.importInto(store, "back", vmdk, null)) {
                assertArrayEquals(expected, Disks.readAll(back));
                assertEquals(Disks.nonZeroBytes(expected), store.usage("back").usedBytes(), "zeros stay holes");
            }
        }
    }

    @Test
    void emptyDisksExportAndImportAsEmpty() {
        store.create("empty", 1L << 20);
        try (Vdisk v = store.open("empty")) {
            for (boolean stream : new boolean[] {false, true}) {
                Path vmdk = dir.resolve("empty-" + stream + ".vmdk");
                ImageExport.export(v, vmdk, ImageFormat.VMDK, stream, done -> { });
                assertTrue(QemuImg.ok("check", "-f", "vmdk", vmdk.toString()).contains("No errors were found"));
                try (ImageSource s = ImageSource.open(vmdk, null)) {
                    assertArrayEquals(new byte[1 << 20], Disks.readAll(s));
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"subformat=monolithicSparse", "subformat=streamOptimized", "subformat=monolithicSparse,zeroed_grain=on"})
    void vmdkMadeByQemuImgImportsEqualToItsSource(String options) throws Exception {
        Path raw = dir.resolve("src.raw");
        Disks.writeRawFile(raw, SIZE_BYTES, new SplittableRandom(options.hashCode()), 40);
        Path vmdk = dir.resolve("img.vmdk");
        QemuImg.ok("convert", "-f", "raw", "-O", "vmdk", "-o", options, raw.toString(), vmdk.toString());
        assertEquals(ImageFormat.VMDK, ImageFormat.detect(vmdk));
        byte[] expected = Files.readAllBytes(raw);
        try (Vdisk v = Disks.importInto(store, "img", vmdk, null)) {
            assertArrayEquals(expected, Disks.readAll(v));
            assertEquals(Disks.nonZeroBytes(expected), store.usage("img").usedBytes(), "zeros stay holes");
        }
    }

    /** qemu-img writes the CID with %x, so one in sixteen of its images has fewer than 8 digits: those import too. */
    @Test
    void shortCidWrittenByQemuImgImports() throws Exception {
        Path raw = dir.resolve("src.raw");
        Disks.writeRawFile(raw, 4L << 20, new SplittableRandom(5), 8);
        Path vmdk = dir.resolve("short-cid.vmdk");
        QemuImg.ok("convert", "-f", "raw", "-O", "vmdk", raw.toString(), vmdk.toString());
        byte[] image = Files.readAllBytes(vmdk);
        String text = new String(image, java.nio.charset.StandardCharsets.ISO_8859_1);
        java.util.regex.Matcher cid = java.util.regex.Pattern.compile("(?m)^CID=[0-9a-f]+\n").matcher(text);
        assertTrue(cid.find(), "qemu-img's descriptor has a CID line");
        String shortCid = "CID=abc\n";
        String padded = shortCid + "\n".repeat(cid.group().length() - shortCid.length()); // same length: blank lines after it
        System.arraycopy(padded.getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, image, cid.start(), padded.length());
        Files.write(vmdk, image);
        assertTrue(QemuImg.ok("check", "-f", "vmdk", vmdk.toString()).contains("No errors were found"), "qemu-img reads it too");
        try (Vdisk v = Disks.importInto(store, "short", vmdk, null)) {
            assertArrayEquals(Files.readAllBytes(raw), Disks.readAll(v));
        }
    }

    @Test
    void refusesMalformedFieldsNamingThem() throws IOException {
        Path raw = dir.resolve("src.raw");
        Disks.writeRawFile(raw, 4L << 20, new SplittableRandom(3), 8);
        Path good = dir.resolve("good.vmdk");
        QemuImg.ok("convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw.toString(), good.toString());
        byte[] image = Files.readAllBytes(good);

        assertRefused(with(image, 4, 4), "header version: 4 (expected: 1, 2 or 3)");
        assertRefused(with(image, 20, 3), "header grainSize: 3 sectors");
        assertRefused(with(image, 44, 100), "header numGTEsPerGT: 100 (expected: 512)");
        assertRefused(java.util.Arrays.copyOf(image, image.length - 512), "marker size"); // the last grain cut short

        // Basalt's streamOptimized keeps the grain directory's place in a footer (qemu-img's keeps it in the header).
        store.create("d", 4L << 20);
        Path ours = dir.resolve("ours.vmdk");
        try (Vdisk v = store.open("d")) {
            Disks.writeRandomExtents(v, new SplittableRandom(4), 8);
            ImageExport.export(v, ours, ImageFormat.VMDK, true, done -> { });
        }
        byte[] stream = Files.readAllBytes(ours);
        assertRefused(java.util.Arrays.copyOf(stream, stream.length - 512), "footer marker: size 0 type 0");
        assertRefused(java.util.Arrays.copyOf(image, 100), "header: 512 bytes at offset 0");
        byte[] parent = image.clone();
        int at = new String(parent, java.nio.charset.StandardCharsets.ISO_8859_1).indexOf("parentCID=ffffffff");
        System.arraycopy("parentCID=12345678".getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, parent, at, 18);
        assertRefused(parent, "parentCID: 12345678 (expected: ffffffff");

        Path descriptorOnly = dir.resolve("flat.vmdk");
        Files.writeString(descriptorOnly, "# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n");
        InteropException e = assertThrows(InteropException.class, () -> ImageFormat.detect(descriptorOnly));
        assertTrue(e.getMessage().contains("a VMDK descriptor file"), e.getMessage());
    }

    private static byte[] with(byte[] image, int offset, int littleEndianInt) {
        byte[] b = image.clone();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(offset, littleEndianInt);
        return b;
    }

    private void assertRefused(byte[] bytes, String expectedInMessage) throws IOException {
        Path bad = dir.resolve("bad.vmdk");
        Files.write(bad, bytes);
        InteropException e = assertThrows(InteropException.class, () -> {
            try (ImageSource s = ImageSource.open(bad, ImageFormat.VMDK)) {
                Disks.readAll(s);
            }
        });
        assertTrue(e.getMessage().contains(expectedInMessage), "message: " + e.getMessage() + " (expected to name: " + expectedInMessage + ")");
        assertTrue(e.getMessage().startsWith(bad.toString()) && !e.getMessage().contains("\n"), "one line naming the file: " + e.getMessage());
    }
}
