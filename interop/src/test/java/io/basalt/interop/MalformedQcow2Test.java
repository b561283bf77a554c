package io.basalt.interop;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import io.basalt.vdisk.store.Vdisk;
import io.basalt.vdisk.store.VdiskStore;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Each malformed field is refused with one line naming the field and its value, before any byte is read as data. */
class MalformedQcow2Test {
    @TempDir Path dir;
    private byte[] image;

    @BeforeEach
    void makeImage() {
        try (VdiskStore store = Disks.store(dir.resolve("store"))) {
            store.create("d", 8L << 20);
            try (Vdisk v = store.open("d")) {
                Disks.writeRandomExtents(v, new SplittableRandom(5), 10);
                Path file = dir.resolve("good.qcow2");
                ImageExport.export(v, file, ImageFormat.QCOW2, false, done -> { });
                image = Files.readAllBytes(file);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }

    @ParameterizedTest(name = "{0} = {2} at byte {1}")
    @CsvSource({
            "version,            4,   int,  4",
            "cluster_bits,      20,   int,  30",
            "cluster_bits,      20,   int,  8",
            "size,              24,   long, 4611686018427387904",
            "l1_size,           24,   long, 1099511627776",
            "crypt_method,      32,   int,  2",
            "l1_table_offset,   40,   long, 1099511627776",
            "l1_table_offset,   40,   long, 65544",
            "l1_table_offset,   40,   long, 0",
            "refcount_table_offset, 48, long, 1099511627776",
            "refcount_table_clusters, 56, int, 0",
            "refcount_table size, 56, int, 1000000",
            "nb_snapshots,      60,   int,  100000",
            "incompatible_features, 72, long, 32",
            "incompatible_features, 72, long, 2",
            "incompatible_features, 72, long, 16",
            "compression_type,  72,   long, 8",
            "refcount_order,    96,   int,  7",
            "header_length,    100,   int,  100",
            "header_length,    100,   int,  70000",
            "backing_file_offset, 8,  long, 70000",
            "size,              24,   long, 8389119",
            "autoclear_features, 88,  long, 2",
            "header extension 0x0 length, 112, long, 100000",
    })
    void refusesAMalformedHeaderFieldNamingIt(String field, int offset, String type, long value) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(image.clone());
        if (type.equals("int")) {
            b.putInt(offset, (int) value);
        } else {
            b.putLong(offset, value);
        }
        assertRefused(b.array(), field);
    }

    @Test
    void refusesL1OverlappingTheRefcountTable() throws IOException {
        ByteBuffer b = ByteBuffer.wrap(image.clone());
        b.putLong(40, b.getLong(48));
        assertRefused(b.array(), "not overlapping refcount_table");
    }

    @Test
    void refusesAnL2TablePastTheEndOfTheFile() throws IOException {
        ByteBuffer b = ByteBuffer.wrap(image.clone());
        long l1 = b.getLong(40);
        b.putLong((int) l1, (1L << 63) | (1L << 40));
        assertRefused(b.array(), "l1_table[0] (an L2 table)_offset");
    }

    @Test
    void refusesAMisalignedDataCluster() throws IOException {
        ByteBuffer b = ByteBuffer.wrap(image.clone());
        long l2 = b.getLong((int) b.getLong(40)) & 0x00fffffffffffe00L;
        int entry = firstAllocatedEntry(b, l2);
        b.putLong(entry, b.getLong(entry) + 512);
        assertRefused(b.array(), "l2 entry [0][");
    }

    @Test
    void refusesATruncatedFile() throws IOException {
        assertRefused(java.util.Arrays.copyOf(image, 50), "header: 50 bytes");
        assertRefused(java.util.Arrays.copyOf(image, image.length / 2), "_offset");
    }

    @Test
    void refusesAMissingBackingFile() throws IOException {
        ByteBuffer b = ByteBuffer.wrap(image.clone());
        byte[] name = "nowhere.qcow2".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        b.putLong(8, 4096).putInt(16, name.length).put(4096, name);
        assertRefused(b.array(), "backing file: 'nowhere.qcow2'");
    }

    @Test
    void refusesABackingFileNameThatIsNoPathShowingItOnOneLine() throws IOException {
        ByteBuffer b = ByteBuffer.wrap(image.clone());
        byte[] name = "a\nb\0c".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        b.putLong(8, 4096).putInt(16, name.length).put(4096, name);
        assertRefused(b.array(), "backing file: 'a\\x0ab\\x00c'");
    }

    @Test
    void refusesAZeroClusterFlagInAVersion2Image() throws IOException {
        ByteBuffer b = ByteBuffer.wrap(image.clone());
        // Version 2 has no header_length or feature fields: the 112-byte v3 header reads the same below byte 72.
        b.putInt(4, 2);
        long l2 = b.getLong((int) b.getLong(40)) & 0x00fffffffffffe00L;
        int entry = firstAllocatedEntry(b, l2);
        b.putLong(entry, b.getLong(entry) | 1);
        assertRefused(b.array(), "bit 0 (zero cluster) clear in a version 2 image");
    }

    @Test
    void refusesAnUnalignedEmptySnapshotTableAsQemuDoes() throws IOException {
        ByteBuffer b = ByteBuffer.wrap(image.clone());
        b.putLong(64, 12345);
        assertRefused(b.array(), "snapshots_offset: 12345");
    }

    private static int firstAllocatedEntry(ByteBuffer b, long l2) {
        for (int i = 0; i < Qcow2Writer.L2_ENTRIES; i++) {
            if (b.getLong((int) l2 + i * 8) != 0) {
                return (int) l2 + i * 8;
            }
        }
        throw new AssertionError("no allocated cluster in the first L2 table");
    }

    private void assertRefused(byte[] bytes, String expectedInMessage) throws IOException {
        Path bad = dir.resolve("bad.qcow2");
        Files.write(bad, bytes);
        InteropException e = assertThrows(InteropException.class, () -> {
            try (ImageSource s = ImageSource.open(bad, ImageFormat.QCOW2)) {
                Disks.readAll(s);
            }
        });
        assertTrue(e.getMessage().contains(expectedInMessage), "message: " + e.getMessage() + " (expected to name: " + expectedInMessage + ")");
        assertTrue(e.getMessage().startsWith(bad.toString()) && !e.getMessage().contains("\n"), "one line naming the file: " + e.getMessage());
    }
}
