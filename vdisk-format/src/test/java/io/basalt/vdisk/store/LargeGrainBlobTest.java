package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.CompactRangeOptions;
import org.rocksdb.FlushOptions;
import org.rocksdb.RocksDBException;

/**
 * Grain values of {@link StoreDb#BLOB_VALUE_BYTES_MIN} and more live in blob files: they read
 * back across a reopen, small grains stay in the tables, and overwritten values free their
 * blob space once compaction has dropped the old versions.
 */
class LargeGrainBlobTest {
    private static final int GRAIN = 64 * 1024;
    private static final int DISK_BYTES = 4 << 20;

    @TempDir
    Path dir;

    @Test
    void largeGrainsGoToBlobFilesAndReadBackAfterReopen() throws Exception {
        byte[] data = random(1, DISK_BYTES);
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("big", DISK_BYTES, 512, GRAIN);
            try (Vdisk disk = store.open("big")) {
                disk.write(0, ByteBuffer.wrap(data), false).join();
            }
            flush(store);
        }
        assertTrue(blobBytes() >= DISK_BYTES, "blob files hold the grains: " + blobBytes() + " bytes in " + dir);
        try (VdiskStore store = VdiskStore.open(dir); Vdisk disk = store.open("big")) {
            byte[] read = new byte[DISK_BYTES];
            disk.read(0, DISK_BYTES / 512).join().get(read);
            assertArrayEquals(data, read);
        }
    }

    @Test
    void smallGrainsStayInTheTables() throws Exception {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("small", DISK_BYTES, 512, 4096);
            try (Vdisk disk = store.open("small")) {
                disk.write(0, ByteBuffer.wrap(random(2, DISK_BYTES)), false).join();
            }
            flush(store);
        }
        assertEquals(0, blobBytes(), "no blob file for 4 KiB grains in " + dir);
    }

    @Test
    void overwrittenGrainsFreeTheirBlobSpaceAfterCompaction() throws Exception {
        byte[] last = null;
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("big", DISK_BYTES, 512, GRAIN);
            try (Vdisk disk = store.open("big")) {
                for (int round = 0; round < 8; round++) {
                    last = random(10 + round, DISK_BYTES);
                    disk.write(0, ByteBuffer.wrap(last), false).join();
                    flush(store);
                }
                // Background compactions may already have dropped some rounds' files here.
                assertTrue(blobBytes() >= DISK_BYTES, "8 rounds flushed: " + blobBytes() + " bytes of blob files");
                // kForce: tables a background compaction already put in the last level are rewritten too; left alone
                // (the default), they keep linking the blob files of rounds overwritten since.
                try (CompactRangeOptions all = new CompactRangeOptions().setBottommostLevelCompaction(CompactRangeOptions.BottommostLevelCompaction.kForce)) {
                    store.db().db.compactRange(store.db().blocks, null, null, all);
                }
                // RocksDB deletes a blob file once no table links it any more, which may be after compactRange returns
                // (obsolete files can be purged in the background): look for up to 10 s.
                long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
                long kept = blobBytes();
                while (kept > 2L * DISK_BYTES && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                    kept = blobBytes();
                }
                assertTrue(kept <= 2L * DISK_BYTES, "after compaction only the live round's blobs remain: " + kept + " bytes");
                byte[] read = new byte[DISK_BYTES];
                disk.read(0, DISK_BYTES / 512).join().get(read);
                assertArrayEquals(last, read);
            }
        }
    }

    @Test
    void aSnapshotKeepsItsLargeGrainsThroughOverwritesAndCompaction() throws Exception {
        byte[] before = random(20, DISK_BYTES);
        byte[] after = random(21, DISK_BYTES);
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("big", DISK_BYTES, 512, GRAIN);
            try (Vdisk disk = store.open("big")) {
                disk.write(0, ByteBuffer.wrap(before), false).join();
                flush(store);
                store.createSnapshot("big", "s");
                for (int round = 0; round < 4; round++) {
                    disk.write(0, ByteBuffer.wrap(after), false).join();
                    flush(store);
                }
                try (CompactRangeOptions all = new CompactRangeOptions()) {
                    store.db().db.compactRange(store.db().blocks, null, null, all);
                }
            }
        }
        try (VdiskStore store = VdiskStore.open(dir); Vdisk head = store.open("big"); Vdisk snap = store.open("big@s")) {
            byte[] read = new byte[DISK_BYTES];
            head.read(0, DISK_BYTES / 512).join().get(read);
            assertArrayEquals(after, read, "head");
            snap.read(0, DISK_BYTES / 512).join().get(read);
            assertArrayEquals(before, read, "snapshot s");
        }
    }

    /**
     * The space of random overwrites comes back by itself once the snapshots between them are
     * removed: three passes over the disk in random order (a snapshot between passes, each pass's
     * memtable flushed as a full one would be), half the disk unmapped, the snapshots purged; then
     * no manual flush or compaction, and the blob files must fall to 1.3 times the live data.
     * Before {@link BlobReclaim} they stayed at the three passes' bytes (the collector's deletions
     * sat in a memtable that never filled, and blob GC's age cutoff never reached the last pass's
     * half-dead files).
     */
    @Test
    void randomOverwritesFreeTheirBlobSpaceOnceTheSnapshotsAreRemoved() throws Exception {
        int diskBytes = 8 << 20;
        int grains = diskBytes / GRAIN;
        byte[][] live = new byte[grains][];
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("big", diskBytes, 512, GRAIN);
            try (Vdisk disk = store.open("big")) {
                for (int pass = 0; pass < 3; pass++) {
                    if (pass > 0) {
                        store.createSnapshot("big", "s" + pass);
                    }
                    for (int grain : shuffled(grains, 30 + pass)) {
                        live[grain] = random(1000L * pass + grain, GRAIN);
                        disk.write((long) grain * GRAIN / 512, ByteBuffer.wrap(live[grain]), false).join();
                    }
                    flush(store);
                }
                int[] unmapped = shuffled(grains, 40);
                for (int i = 0; i < grains / 2; i++) {
                    disk.unmap((long) unmapped[i] * GRAIN / 512, GRAIN / 512).join();
                    live[unmapped[i]] = new byte[GRAIN];
                }
                assertTrue(blobBytes() >= 3L * diskBytes, "three passes in blob files: " + blobBytes() + " bytes");
                store.purgeSnapshots("big");
                store.awaitGc("big", java.time.Duration.ofSeconds(30));
                long bound = (long) (1.3 * diskBytes / 2);
                long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
                long kept = blobBytes();
                while (kept > bound && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                    kept = blobBytes();
                }
                assertTrue(kept <= bound, "blob files hold " + kept + " bytes 30 s after the collection, for " + diskBytes / 2
                        + " live bytes (expected: <= " + bound + ")");
                byte[] read = new byte[GRAIN];
                for (int grain = 0; grain < grains; grain++) {
                    disk.read((long) grain * GRAIN / 512, GRAIN / 512).join().get(read);
                    assertArrayEquals(live[grain], read, "grain " + grain);
                }
            }
        }
    }

    private static int[] shuffled(int n, long seed) {
        java.util.List<Integer> list = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(i);
        }
        java.util.Collections.shuffle(list, new Random(seed));
        return list.stream().mapToInt(Integer::intValue).toArray();
    }

    private static void flush(VdiskStore store) throws RocksDBException {
        try (FlushOptions wait = new FlushOptions().setWaitForFlush(true)) {
            store.db().db.flush(wait, store.db().blocks);
        }
    }

    private long blobBytes() throws IOException {
        try (var files = Files.list(dir)) {
            return files.filter(p -> p.toString().endsWith(".blob")).mapToLong(p -> p.toFile().length()).sum();
        }
    }

    private static byte[] random(long seed, int bytes) {
        byte[] data = new byte[bytes];
        new Random(seed).nextBytes(data);
        return data;
    }
}
