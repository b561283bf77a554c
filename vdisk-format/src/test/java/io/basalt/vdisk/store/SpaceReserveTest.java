package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.vdisk.BlockDeviceException;

/**
 * The embedded store on a disk that fills up: on a small tmpfs (a real filesystem with a real
 * size; mounting needs root, which CI has), writes must be refused with a clear NO_SPACE error
 * before RocksDB meets ENOSPC, reads, unmaps and removals must go on, nothing acknowledged may be
 * lost, the store must open again, and writes must work again once there is room.
 */
class SpaceReserveTest {
    private static final int BLOCK = 512;
    private static final long TMPFS_BYTES = 256L << 20;
    private static final long RESERVE_BYTES = 24L << 20;
    private static final int CHUNK = 1 << 20;
    @TempDir
    Path dir;
    private Path mount;

    @BeforeEach
    void mountTmpfs() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "mounting a tmpfs needs root (CI runs as root)");
        mount = Files.createDirectory(dir.resolve("fs"));
        run("mount", "-t", "tmpfs", "-o", "size=" + (TMPFS_BYTES >> 20) + "m", "basalt-space-test", mount.toString());
    }

    @AfterEach
    void unmount() throws Exception {
        if (mount != null) {
            run("umount", "-l", mount.toString());
        }
    }

    private static void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
    }

    private VdiskStore open() {
        return VdiskStore.open(mount.resolve("store"), VdiskStore.Options.defaults().withReserveBytes(RESERVE_BYTES));
    }

    /** The free-space reserve's clock, stepped by the test past the reserve's cached reading. */
    private static final class SteppedClock {
        private final AtomicLong nanos = new AtomicLong();

        long nanos() {
            return nanos.get();
        }

        /** Makes the reserve's next question read the free space afresh. */
        void stepPastTheCachedReading() {
            nanos.addAndGet(TimeUnit.MILLISECONDS.toNanos(SpaceReserve.REFRESH_MILLIS) + 1);
        }
    }

    private static byte[] chunk(int i) {
        byte[] b = new byte[CHUNK];
        new Random(i).nextBytes(b); // incompressible: every chunk takes its size on disk
        return b;
    }

    private static BlockDeviceException failure(Runnable r) {
        CompletionException e = assertThrows(CompletionException.class, r::run);
        return assertInstanceOf(BlockDeviceException.class, e.getCause());
    }

    /**
     * Writing until refused: the refusal is NO_SPACE naming free space, path and reserve, comes
     * before RocksDB meets ENOSPC (its memtables count as taken: their flush needs the space
     * again), and every acknowledged write reads back, also after the store is reopened.
     */
    @Test
    void writesStopWithNoSpaceBeforeTheDiskIsFullAndTheStoreOpensAgain() {
        int acknowledged = 0;
        try (VdiskStore store = open()) {
            store.create("v", 1L << 30);
            try (Vdisk v = store.open("v")) {
                Refused filled = writeChunksUntilRefused(v);
                acknowledged = filled.acknowledged();
                BlockDeviceException refused = filled.refusal();
                assertTrue(refused.getMessage().contains("reserve of 24 MiB") && refused.getMessage().contains(mount.toString()),
                        refused.getMessage());
                assertTrue(acknowledged >= 32, "refused after only " + acknowledged + " MiB: " + refused.getMessage());
                for (int i = 0; i < acknowledged; i++) {
                    assertArrayEquals(chunk(i), read(v, (long) i * CHUNK / BLOCK), "chunk " + i);
                }
            }
        }
        try (VdiskStore store = open(); Vdisk v = store.open("v")) {
            for (int i = 0; i < acknowledged; i++) {
                assertArrayEquals(chunk(i), read(v, (long) i * CHUNK / BLOCK), "chunk " + i + " after reopening");
            }
        }
    }

    /**
     * Another file takes the space: writes, compare-and-writes, flattens and copying rollbacks are
     * refused and change nothing; reads, unmaps, snapshots, a discarding rollback and removals go
     * on; once the file is gone, writes work again.
     */
    @Test
    void belowTheReserveOnlyWhatStoresDataIsRefusedAndWritesResumeWhenSpaceIsBack() throws Exception {
        SteppedClock clock = new SteppedClock();
        try (VdiskStore store = VdiskStore.open(mount.resolve("store"),
                VdiskStore.Options.defaults().withReserveBytes(RESERVE_BYTES), clock::nanos)) {
            store.create("v", 64L << 20);
            byte[] before = chunk(1);
            try (Vdisk v = store.open("v")) {
                v.write(0, ByteBuffer.wrap(before), false).join();
            }
            store.createSnapshot("v", "s1");
            store.clone("v", "s1", "c");
            store.createSnapshot("v", "s2");
            Path filler = mount.resolve("filler");
            clock.stepPastTheCachedReading();
            fill(filler, store.spaceReserve().freeBytes() - RESERVE_BYTES / 2);
            clock.stepPastTheCachedReading();
            assertTrue(store.spaceReserve().isShort(), "free " + store.spaceReserve().freeBytes());

            try (Vdisk v = store.open("v")) {
                BlockDeviceException w = failure(() -> v.write(8, ByteBuffer.wrap(new byte[4096]), false).join());
                assertEquals(BlockDeviceException.Kind.NO_SPACE, w.kind());
                assertTrue(w.getMessage().contains("write at lba 8 of vdisk v"), w.getMessage());
                BlockDeviceException caw = failure(() -> v.compareAndWrite(0, ByteBuffer.wrap(before, 0, BLOCK),
                        ByteBuffer.allocate(BLOCK)).join());
                assertEquals(BlockDeviceException.Kind.NO_SPACE, caw.kind());
                assertArrayEquals(before, read(v, 0), "a refused write changed the data");
                v.unmap(1024, 1024).join(); // frees space: never refused
            }
            BlockDeviceException flatten = assertThrows(BlockDeviceException.class, () -> store.flatten("c", g -> {}));
            assertEquals(BlockDeviceException.Kind.NO_SPACE, flatten.kind());
            BlockDeviceException copying = assertThrows(BlockDeviceException.class, () -> store.rollback("v", "s1"));
            assertTrue(copying.getMessage().contains("later snapshots are kept"), copying.getMessage());
            store.createSnapshot("v", "s3");
            store.rollback("v", "s3"); // no later snapshot: only deletes
            store.remove("c");
            store.removeSnapshot("v", "s3");

            Files.delete(filler);
            clock.stepPastTheCachedReading();
            try (Vdisk v = store.open("v")) {
                byte[] after = chunk(2);
                v.write(0, ByteBuffer.wrap(after), false).join();
                assertArrayEquals(after, read(v, 0));
            }
        }
    }

    /**
     * The disk filled up behind the store's back (another file, or no reserve): it cannot even
     * write its manifest, so it opens read-only; the data reads back, writes and namespace changes
     * are refused naming why, and once there is room it opens for writing again, nothing lost.
     */
    @Test
    void aStoreOnAFullDiskOpensReadOnlyAndWritesAgainOnceThereIsRoom() throws Exception {
        Path storeDir = mount.resolve("store");
        VdiskStore.Options noReserve = VdiskStore.Options.defaults().withReserveBytes(0);
        try (VdiskStore store = VdiskStore.open(storeDir, noReserve)) {
            store.create("v", 64L << 20);
            try (Vdisk v = store.open("v")) {
                for (int i = 0; i < 8; i++) {
                    v.write((long) i * CHUNK / BLOCK, ByteBuffer.wrap(chunk(i)), false).join();
                }
            }
        }
        Path filler = mount.resolve("filler");
        assertThrows(IOException.class, () -> fill(filler, TMPFS_BYTES));
        try (VdiskStore store = VdiskStore.open(storeDir, noReserve)) {
            assertTrue(store.readOnlyReason() != null && store.readOnlyReason().contains("disk was full"), String.valueOf(store.readOnlyReason()));
            try (Vdisk v = store.open("v")) {
                assertTrue(v.readOnly());
                for (int i = 0; i < 8; i++) {
                    assertArrayEquals(chunk(i), read(v, (long) i * CHUNK / BLOCK), "chunk " + i + " read-only");
                }
                BlockDeviceException w = failure(() -> v.write(0, ByteBuffer.allocate(4096), false).join());
                assertEquals(BlockDeviceException.Kind.READ_ONLY, w.kind());
                assertTrue(w.getMessage().contains("disk was full"), w.getMessage());
                v.flush().join();
            }
            StoreException create = assertThrows(StoreException.class, () -> store.create("w", 1L << 20));
            assertTrue(create.getMessage().contains("read-only"), create.getMessage());
        }
        Files.delete(filler);
        try (VdiskStore store = VdiskStore.open(storeDir, noReserve); Vdisk v = store.open("v")) {
            assertEquals(null, store.readOnlyReason());
            v.write(0, ByteBuffer.wrap(chunk(9)), false).join();
            assertArrayEquals(chunk(9), read(v, 0));
            for (int i = 1; i < 8; i++) {
                assertArrayEquals(chunk(i), read(v, (long) i * CHUNK / BLOCK), "chunk " + i + " after the disk had room again");
            }
        }
    }

    /**
     * The disk fills up under a running store that has no reserve (another program took the space,
     * or a burst came between two checks of the reserve): RocksDB's memtable flush meets ENOSPC, and
     * from then on every write is refused with NO_SPACE, also a small one. Once the space is freed
     * the store recovers by itself, without being reopened (RocksDB retries the failed flush in the
     * background), and every write acknowledged before reads back, then and after reopening.
     */
    @Test
    void aRunningStoreThatMetEnospcWritesAgainOnItsOwnOnceSpaceIsFreed() throws Exception {
        Path filler = mount.resolve("filler");
        fill(filler, 48L << 20);
        Path storeDir = mount.resolve("store");
        VdiskStore.Options noReserve = VdiskStore.Options.defaults().withReserveBytes(0);
        int acknowledged = 0;
        try (VdiskStore store = VdiskStore.open(storeDir, noReserve)) {
            store.create("v", 1L << 30);
            try (Vdisk v = store.open("v")) {
                acknowledged = writeChunksUntilRefused(v).acknowledged();
                BlockDeviceException small = failure(() -> v.write(0, ByteBuffer.wrap(new byte[4096]), false).join());
                assertEquals(BlockDeviceException.Kind.NO_SPACE, small.kind(), "a small write while the store is stopped: " + small.getMessage());

                Files.delete(filler);
                byte[] after = chunk(1000);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (true) {
                    try {
                        v.write(0, ByteBuffer.wrap(after), false).join();
                        break;
                    } catch (CompletionException e) {
                        BlockDeviceException stillFull = assertInstanceOf(BlockDeviceException.class, e.getCause());
                        assertEquals(BlockDeviceException.Kind.NO_SPACE, stillFull.kind(), stillFull.getMessage());
                        assertTrue(System.nanoTime() < deadline, "no write for 60 s after 48 MiB were freed: " + stillFull.getMessage());
                        Thread.sleep(250);
                    }
                }
                assertArrayEquals(after, read(v, 0));
                for (int i = 1; i < acknowledged; i++) {
                    assertArrayEquals(chunk(i), read(v, (long) i * CHUNK / BLOCK), "chunk " + i + " after the store recovered");
                }
            }
        }
        try (VdiskStore store = VdiskStore.open(storeDir, noReserve); Vdisk v = store.open("v")) {
            assertArrayEquals(chunk(1000), read(v, 0), "chunk 0 after reopening");
            for (int i = 1; i < acknowledged; i++) {
                assertArrayEquals(chunk(i), read(v, (long) i * CHUNK / BLOCK), "chunk " + i + " after reopening");
            }
        }
    }

    @Test
    void aReserveOfZeroChecksNothingAndANegativeOneIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> VdiskStore.Options.defaults().withReserveBytes(-2));
        assertTrue(e.getMessage().contains("-2"), e.getMessage());
        try (VdiskStore store = VdiskStore.open(mount.resolve("off"), VdiskStore.Options.defaults().withReserveBytes(0))) {
            assertEquals(null, store.spaceReserve());
        }
    }

    /** Chunks written from offset 0 until one is refused, and that refusal (NO_SPACE). */
    private record Refused(int acknowledged, BlockDeviceException refusal) {}

    private static Refused writeChunksUntilRefused(Vdisk v) {
        for (int i = 0; i < TMPFS_BYTES / CHUNK; i++) {
            try {
                v.write((long) i * CHUNK / BLOCK, ByteBuffer.wrap(chunk(i)), false).join();
            } catch (CompletionException e) {
                BlockDeviceException refused = assertInstanceOf(BlockDeviceException.class, e.getCause());
                assertEquals(BlockDeviceException.Kind.NO_SPACE, refused.kind(), refused.getMessage());
                return new Refused(i, refused);
            }
        }
        throw new AssertionError("a " + (TMPFS_BYTES >> 20) + " MiB filesystem took " + TMPFS_BYTES / CHUNK + " MiB without a refusal");
    }

    private static byte[] read(Vdisk v, long lba) {
        ByteBuffer b = v.read(lba, CHUNK / BLOCK).join();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    private static void fill(Path file, long bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            for (long left = bytes; left > 0; left -= buf.capacity()) {
                buf.clear().limit((int) Math.min(buf.capacity(), left));
                ch.write(buf);
            }
        }
    }
}
