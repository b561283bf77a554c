package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletionException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.RocksIterator;

import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.FencedException;
import io.basalt.vdisk.frame.BlockFrame;

/** Large aligned writes in extent files ({@link ExtentWrites}, {@link ExtentFiles}). */
class ExtentFilesTest {
    @TempDir
    Path dir;

    private static final VdiskStore.Options EXTENTS = new VdiskStore.Options(64L << 20, 2, 0, true);

    @Test
    void largeAlignedWritesAreExtentPointersAndReadBackAfterReopen() {
        byte[] big = random(1 << 20, 1);
        byte[] small = random(8192, 2);
        try (VdiskStore store = VdiskStore.open(dir, EXTENTS)) {
            store.create("v", 8L << 20, 512, 4096);
            try (Vdisk disk = store.open("v")) {
                disk.write(2048, ByteBuffer.wrap(big), false).join();     // 1 MiB at 1 MiB: extents
                disk.write(0, ByteBuffer.wrap(small), false).join();      // 8 KiB: frames in RocksDB
                disk.write(4097, ByteBuffer.wrap(big), true).join();      // not grain-aligned: frames
            }
            Map<String, Long> kinds = kinds(store, "v");
            assertEquals(256L, kinds.getOrDefault("EXTENT", 0L), "kinds of the versions: " + kinds);
            assertEquals(2 + 257L, kinds.getOrDefault("RAW", 0L) + kinds.getOrDefault("LZ4", 0L), "kinds of the versions: " + kinds);
        }
        try (VdiskStore store = VdiskStore.open(dir, EXTENTS); Vdisk disk = store.open("v")) {
            assertArrayEquals(big, bytes(disk.read(2048, 2048).join()));
            assertArrayEquals(small, bytes(disk.read(0, 16).join()));
            assertArrayEquals(big, bytes(disk.read(4097, 2048).join()));
        }
    }

    @Test
    void filesNoPointerNamesAreDeletedAndTheCountsEqualThePointers() throws IOException {
        byte[] a = random(1 << 20, 3);
        try (VdiskStore store = VdiskStore.open(dir, EXTENTS)) {
            store.create("v", 4L << 20, 512, 4096);
            try (Vdisk disk = store.open("v")) {
                for (int pass = 0; pass < 4; pass++) {
                    for (int mib = 0; mib < 4; mib++) {
                        disk.write(mib * 2048L, ByteBuffer.wrap(random(1 << 20, pass * 10 + mib)), false).join();
                    }
                    store.createSnapshot("v", "s" + pass);
                    checkCounts(store);
                }
                disk.write(0, ByteBuffer.wrap(a), false).join();
                disk.unmap(2048, 2048).join();
                checkCounts(store);
                store.rollback("v", "s3");
                checkCounts(store);
                store.clone("v", "s2", "c");
                try (Vdisk clone = store.open("c")) {
                    clone.write(0, ByteBuffer.wrap(a), false).join();
                    assertArrayEquals(a, bytes(clone.read(0, 2048).join()));
                    assertArrayEquals(random(1 << 20, 21), bytes(clone.read(2048, 2048).join()));
                }
                checkCounts(store);
                store.remove("c");
                store.purgeSnapshots("v");
                store.awaitGc("v", Duration.ofMinutes(1));
                Map<Long, Long> live = checkCounts(store);
                assertEquals(4L << 20, live.values().stream().mapToLong(Long::longValue).sum(), "bytes referenced after the collection: " + live);
                for (int mib = 0; mib < 4; mib++) {
                    assertArrayEquals(random(1 << 20, 30 + mib), bytes(disk.read(mib * 2048L, 2048).join()), "MiB " + mib);
                }
                disk.unmap(0, 8192).join();
                checkCounts(store);
            }
            store.remove("v");
            store.db().extents.reclaim();
            assertTrue(store.db().extents.fileBytes().size() <= 1, "extent files left but the open one: " + store.db().extents.fileBytes());
        }
    }

    @Test
    void aFlippedExtentByteFailsTheReadNamingVdiskAndLbaAndScrubFindsIt() throws IOException {
        byte[] data = random(256 << 10, 5);
        try (VdiskStore store = VdiskStore.open(dir, EXTENTS)) {
            store.create("web1", 4L << 20, 512, 4096);
            try (Vdisk disk = store.open("web1")) {
                disk.write(1024, ByteBuffer.wrap(data), true).join(); // grains 128..191
                byte[] frame = store.db().db.get(store.db().blocks, Keys.block(store.info("web1").id(), 130, 1));
                assertEquals(BlockFrame.Kind.EXTENT, BlockFrame.kind(frame));
                flipByte(store.db().extents.path(BlockFrame.extentFile(frame)), BlockFrame.extentOffset(frame) + 100);

                CompletionException e = assertThrows(CompletionException.class, () -> disk.read(1024, 512).join());
                BlockDeviceException cause = assertInstanceOf(BlockDeviceException.class, e.getCause());
                assertEquals(BlockDeviceException.Kind.CORRUPTION, cause.kind());
                assertTrue(cause.getMessage().contains("checksum mismatch"), cause.getMessage());
                assertTrue(cause.getMessage().contains("vdisk web1 at lba 1040"), cause.getMessage());
                assertArrayEquals(java.util.Arrays.copyOf(data, 8192), bytes(disk.read(1024, 16).join()), "the intact grains still read");

                GrainScrub.Step step = GrainScrub.scan(store, GrainScrub.GrainKey.first(store.info("web1").id()), Long.MAX_VALUE, -1);
                assertEquals(1, step.bad().size(), "scrub's bad grains: " + step.bad());
                assertEquals(130, step.bad().get(0).key().grain());
            } catch (org.rocksdb.RocksDBException e) {
                throw new IOException(e);
            }
        }
    }

    @Test
    void aFencedLargeWriteAppendsNothing() throws IOException {
        try (VdiskStore store = VdiskStore.open(dir, EXTENTS)) {
            store.create("v", 4L << 20, 512, 4096);
            try (Vdisk disk = store.open("v")) {
                disk.raiseFence(5);
                CompletionException e = assertThrows(CompletionException.class,
                        () -> disk.withToken(4).write(0, ByteBuffer.wrap(random(1 << 20, 6)), false).join());
                assertInstanceOf(FencedException.class, e.getCause());
                assertEquals(0, store.db().extents.appendedBytes());
                disk.withToken(5).write(0, ByteBuffer.wrap(random(1 << 20, 6)), false).join();
                assertEquals(1 << 20, store.db().extents.appendedBytes());
            }
        }
    }

    /** Runs a reclaim pass and checks its counts against the pointers and the files on disk; returns the counts. */
    static Map<Long, Long> checkCounts(VdiskStore store) throws IOException {
        store.db().extents.reclaim();
        Map<Long, Long> referenced = referencedBytes(store.db());
        assertEquals(referenced, store.db().extents.liveBytes(), "live-byte counts against the pointers");
        Map<Long, Long> files = store.db().extents.fileBytes();
        for (long id : referenced.keySet()) {
            assertTrue(files.containsKey(id), "extent file " + id + " is referenced and gone: " + files);
        }
        return referenced;
    }

    /** The bytes every extent pointer of the store references, per extent file. */
    static Map<Long, Long> referencedBytes(StoreDb db) {
        Map<Long, Long> out = new TreeMap<>();
        try (RocksIterator it = db.db.newIterator(db.blocks, db.scanReadOptions)) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                if (BlockFrame.kind(it.value()) == BlockFrame.Kind.EXTENT) {
                    out.merge(BlockFrame.extentFile(it.value()), (long) BlockFrame.extentLength(it.value()), Long::sum);
                }
            }
        }
        return out;
    }

    private static Map<String, Long> kinds(VdiskStore store, String name) {
        Map<String, Long> out = new TreeMap<>();
        for (String v : store.versions(name)) {
            out.merge(v.substring(v.indexOf(':') + 1), 1L, Long::sum);
        }
        return out;
    }

    private static void flipByte(Path file, long at) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, at);
            b.put(0, (byte) (b.get(0) ^ 0x20));
            ch.write(b.rewind(), at);
        }
    }

    static byte[] random(int length, long seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }
}
