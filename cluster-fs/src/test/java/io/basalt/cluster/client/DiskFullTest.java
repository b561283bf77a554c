package io.basalt.cluster.client;

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
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.TestCluster;
import io.basalt.vdisk.BlockDeviceException;

/**
 * A cluster whose disk fills up: on a small tmpfs (a real filesystem with a real size; mounting
 * needs root, which CI has), another file takes the space, and the nodes must refuse writes with
 * a clear "no space" error before their Raft logs or stores meet ENOSPC, keep serving reads and
 * unmaps, lose nothing, and write again once the space is back.
 */
class DiskFullTest {
    private static final int BLOCK = 512;
    private static final long TMPFS_BYTES = 2L << 30;
    private static final long RESERVE_BYTES = 512L << 20;
    @TempDir
    Path dir;
    private Path mount;
    private TestCluster cluster;

    @BeforeEach
    void mountTmpfs() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "mounting a tmpfs needs root (CI runs as root)");
        mount = Files.createDirectory(dir.resolve("fs"));
        run("mount", "-t", "tmpfs", "-o", "size=" + (TMPFS_BYTES >> 20) + "m", "basalt-diskfull-test", mount.toString());
    }

    @AfterEach
    void stop() throws Exception {
        try {
            if (cluster != null) {
                cluster.close();
            }
        } finally {
            if (mount != null) {
                run("umount", "-l", mount.toString());
            }
        }
    }

    private static void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
    }

    @Test
    void aFullDiskRefusesWritesClearlyKeepsReadsAndUnmapsAndLosesNothing() throws Exception {
        cluster = TestCluster.start(TestCluster.config("full", 3, 3, 3, TestCluster.fastTuning()), mount.resolve("cluster"), RESERVE_BYTES);
        cluster.client().createVdisk("disk0", 64L << 20, BLOCK, 4096);
        ClusterVdisk disk = cluster.client().open("disk0");
        Random r = new Random(7);
        byte[] before = new byte[64 << 10];
        r.nextBytes(before);
        // Spread over the stripes, so every PG holds some of it.
        long[] lbas = {0, 8 << 20 >> 9, 24 << 20 >> 9, 40 << 20 >> 9};
        for (long lba : lbas) {
            disk.write(lba, ByteBuffer.wrap(before), false).join();
        }

        // Something else takes the space: leave less free than the reserve.
        Path filler = mount.resolve("filler");
        long free = Files.getFileStore(mount).getUsableSpace();
        fill(filler, free - (RESERVE_BYTES - (128L << 20)));
        Thread.sleep(300); // the reserve rereads free space every 100 ms

        byte[] refused = new byte[4096];
        Arrays.fill(refused, (byte) 0x5a);
        for (long lba : lbas) {
            CompletionException e = assertThrows(CompletionException.class, () -> disk.write(lba, ByteBuffer.wrap(refused), false).join());
            BlockDeviceException full = assertInstanceOf(BlockDeviceException.class, e.getCause());
            assertEquals(BlockDeviceException.Kind.NO_SPACE, full.kind(), full.getMessage());
            assertTrue(full.getMessage().contains("MiB free on ") && full.getMessage().contains("reserve of 512 MiB"), full.getMessage());
        }
        // Opening the vdisk (a gateway starting) and reading go on, and see no trace of the
        // refused writes; unmaps (which free space) go on.
        try (ClusterVdisk again = cluster.client().open("disk0")) {
            for (long lba : lbas) {
                assertArrayEquals(before, bytes(again.read(lba, before.length / BLOCK).join()));
            }
        }
        disk.unmap(lbas[3], before.length / BLOCK).join();
        assertArrayEquals(new byte[before.length], bytes(disk.read(lbas[3], before.length / BLOCK).join()));

        // Space back: writes go on, within seconds (each leader learns from the meta group that
        // the other nodes are no longer full).
        Files.delete(filler);
        awaitWritable(disk, lbas, refused);
        for (long lba : lbas) {
            byte[] expected = lba == lbas[3] ? new byte[before.length] : before.clone();
            System.arraycopy(refused, 0, expected, 0, refused.length);
            assertArrayEquals(expected, bytes(disk.read(lba, before.length / BLOCK).join()));
        }
    }

    @Test
    void aFullFollowerStopsWritesToItsGroupsOnEveryLeader() throws Exception {
        // Only node 1's directory is on the small filesystem; nodes 2 and 3 have plenty. Node 1
        // replicates every PG, so every PG must refuse data writes while node 1 is full — also
        // the PGs node 2 or 3 leads, which learn it from node 1's report to the meta group.
        Path clusterDir = Files.createDirectory(dir.resolve("cluster"));
        Files.createSymbolicLink(clusterDir.resolve("node1"), mount);
        cluster = TestCluster.start(TestCluster.config("follower", 3, 3, 3, TestCluster.fastTuning()), clusterDir, RESERVE_BYTES);
        cluster.client().createVdisk("disk0", 64L << 20, BLOCK, 4096);
        ClusterVdisk disk = cluster.client().open("disk0");
        long stripeBlocks = (long) io.basalt.cluster.ClusterConfig.STRIPE_GRAINS_DEFAULT * 4096 / BLOCK;
        byte[] data = new byte[4096];
        Arrays.fill(data, (byte) 0x33);
        for (int s = 0; s < 6; s++) {
            disk.write(s * stripeBlocks, ByteBuffer.wrap(data), false).join();
        }
        int ledElsewhere = 0;
        for (int pg = 0; pg < 3; pg++) {
            if (cluster.leaderOf(io.basalt.cluster.raft.RaftSetup.pgGroupId(cluster.config(), pg)).orElse(1) != 1) {
                ledElsewhere++;
            }
        }
        assertTrue(ledElsewhere > 0, "some PG must be led by node 2 or 3 for this test to mean anything");

        Path filler = mount.resolve("filler");
        fill(filler, Files.getFileStore(mount).getUsableSpace() - (RESERVE_BYTES - (128L << 20)));
        // Node 1 reports within a second; the other leaders read the full list every second.
        List<String> refusals = new java.util.ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (refusals.size() < 6 && System.nanoTime() < deadline) {
            refusals.clear();
            for (int s = 0; s < 6; s++) {
                try {
                    disk.write(s * stripeBlocks, ByteBuffer.wrap(new byte[4096]), false).join();
                } catch (CompletionException e) {
                    BlockDeviceException full = assertInstanceOf(BlockDeviceException.class, e.getCause());
                    assertEquals(BlockDeviceException.Kind.NO_SPACE, full.kind(), full.getMessage());
                    refusals.add(full.getMessage());
                }
            }
            Thread.sleep(200);
        }
        assertEquals(6, refusals.size(), "every stripe's write refused within 15 s: " + refusals);
        assertTrue(refusals.stream().anyMatch(m -> m.contains("replica node 1 reported less free space than its reserve")), refusals.toString());

        // And back once node 1 has room again.
        Files.delete(filler);
        long[] stripes = new long[6];
        for (int s = 0; s < 6; s++) {
            stripes[s] = s * stripeBlocks;
        }
        awaitWritable(disk, stripes, data);
        assertTrue(cluster.client().nodeSpaces().stream().noneMatch(io.basalt.cluster.meta.NodeSpace::full), cluster.client().nodeSpaces().toString());
    }

    /**
     * Every placement-group store on a node will flush into the same filesystem, each into a new
     * table file and a new preallocated WAL (72 MiB with the engine's 64 MiB write buffer): the
     * node's free space counts that as taken, so writes stop before a flush meets ENOSPC.
     */
    @Test
    void freeSpaceCountsWhatEachStoresNextFlushNeeds() throws Exception {
        cluster = TestCluster.start(TestCluster.config("headroom", 1, 3, 1, TestCluster.fastTuning()), mount.resolve("cluster"), RESERVE_BYTES);
        cluster.client().createVdisk("disk0", 64L << 20, BLOCK, 4096);
        // The reserve caches the filesystem's free space for 100 ms: wait for a reading taken after
        // the stores opened rather than for the cache's age.
        long[] counted = new long[1];
        try {
            TestCluster.waitUntil("free space to count the next flushes of 3 PG stores", Duration.ofSeconds(5), () -> {
                try {
                    counted[0] = Files.getFileStore(mount).getUsableSpace() - cluster.node(1).diskReserve().freeBytes();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                return counted[0] >= 3 * (70L << 20);
            });
        } catch (AssertionError e) {
            throw new AssertionError("free space counts " + (counted[0] >> 20) + " MiB for the next flushes of 3 PG stores"
                    + " (expected: >= 3 x 70 MiB of preallocated WAL)", e);
        }
    }

    /** Writes {@code data} at every lba, again until all succeed; only NO_SPACE refusals may come first, for at most 15 s. */
    private static void awaitWritable(ClusterVdisk disk, long[] lbas, byte[] data) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        List<String> refused = new java.util.ArrayList<>();
        do {
            refused.clear();
            for (long lba : lbas) {
                try {
                    disk.write(lba, ByteBuffer.wrap(data), false).join();
                } catch (CompletionException e) {
                    BlockDeviceException full = assertInstanceOf(BlockDeviceException.class, e.getCause());
                    assertEquals(BlockDeviceException.Kind.NO_SPACE, full.kind(), full.getMessage());
                    refused.add(full.getMessage());
                }
            }
            if (!refused.isEmpty()) {
                Thread.sleep(200);
            }
        } while (!refused.isEmpty() && System.nanoTime() < deadline);
        assertEquals(List.of(), refused, "every write accepted within 15 s of freeing the space");
    }

    private static void fill(Path file, long bytes) throws IOException {
        ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long done = 0; done < bytes; ) {
                chunk.clear().limit((int) Math.min(chunk.capacity(), bytes - done));
                done += ch.write(chunk);
            }
        }
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }
}
