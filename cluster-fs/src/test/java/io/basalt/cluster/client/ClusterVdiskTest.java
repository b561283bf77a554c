package io.basalt.cluster.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.Placement;
import io.basalt.cluster.TestCluster;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.CompareResult;
import io.basalt.vdisk.LbaStatus;

class ClusterVdiskTest {
    private static final int BLOCK = 512;
    @TempDir
    Path dir;
    private TestCluster cluster;

    @AfterEach
    void stop() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
    }

    private ClusterVdisk startWithDisk(int nodes, int replicas, ClusterConfig.Tuning tuning) throws Exception {
        cluster = TestCluster.start(TestCluster.config("t", nodes, 4, replicas, tuning), dir);
        cluster.client().createVdisk("disk0", 64L << 20, BLOCK, 4096);
        return cluster.client().open("disk0");
    }

    private static byte[] pattern(Random r, int bytes) {
        byte[] b = new byte[bytes];
        r.nextBytes(b);
        return b;
    }

    private static byte[] read(ClusterVdisk d, long lba, int blocks) {
        ByteBuffer b = d.read(lba, blocks).join();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    /** Writes 8 KiB at many places, 32 at a time, and remembers what each holds. */
    private static TreeMap<Long, byte[]> writeMany(ClusterVdisk d, Random r, int count) {
        TreeMap<Long, byte[]> model = new TreeMap<>();
        List<CompletableFuture<Void>> inFlight = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            long lba = (long) r.nextInt((int) (d.blockCount() / 16)) * 16;
            byte[] data = pattern(r, 16 * BLOCK);
            model.put(lba, data);
            inFlight.add(d.write(lba, ByteBuffer.wrap(data), false));
            if (inFlight.size() == 32) {
                inFlight.forEach(CompletableFuture::join);
                inFlight.clear();
            }
        }
        inFlight.forEach(CompletableFuture::join);
        return model;
    }

    private static void assertReadsBack(ClusterVdisk d, TreeMap<Long, byte[]> model) {
        for (var e : model.entrySet()) {
            assertArrayEquals(e.getValue(), read(d, e.getKey(), e.getValue().length / BLOCK), "lba " + e.getKey());
        }
    }

    @Test
    void acknowledgedWritesReadBackAfterThePgLeaderIsKilled() throws Exception {
        ClusterVdisk disk = startWithDisk(3, 3, TestCluster.fastTuning());
        Random r = new Random(42);
        TreeMap<Long, byte[]> model = writeMany(disk, r, 300);
        assertReadsBack(disk, model);

        int pg = new Placement(cluster.config()).pgOf(disk.record().rootId(), 0);
        int leader = cluster.waitForLeader(cluster.pgGroup(pg), Duration.ofSeconds(20));
        cluster.stopNode(leader);

        assertReadsBack(disk, model);
        model.putAll(writeMany(disk, r, 100));
        assertReadsBack(disk, model);
        int newLeader = cluster.waitForLeader(cluster.pgGroup(pg), Duration.ofSeconds(20));
        assertNotEquals(leader, newLeader);

        // The killed node comes back and catches up; then another node dies: still all there.
        cluster.startNode(leader);
        int other = leader % 3 + 1;
        TestCluster.waitUntil("node " + leader + " caught up on pg-" + pg, Duration.ofSeconds(30), () -> applied(leader, pg) >= applied(other, pg));
        cluster.stopNode(other);
        assertReadsBack(disk, model);
    }

    @Test
    void acknowledgedWritesSurviveAStopOfEveryNode() throws Exception {
        ClusterVdisk disk = startWithDisk(3, 3, TestCluster.fastTuning());
        TreeMap<Long, byte[]> model = writeMany(disk, new Random(9), 200);
        ClusterConfig config = cluster.config();
        cluster.close();
        cluster = TestCluster.start(config, dir);
        ClusterVdisk again = cluster.client().open("disk0");
        assertReadsBack(again, model);
        model.putAll(writeMany(again, new Random(10), 50));
        assertReadsBack(again, model);
    }

    @Test
    void writesContinueAndTheNamespaceWorksAfterTheMetaLeaderIsKilled() throws Exception {
        ClusterVdisk disk = startWithDisk(3, 3, TestCluster.fastTuning());
        Random r = new Random(5);
        TreeMap<Long, byte[]> model = writeMany(disk, r, 50);
        int metaLeader = cluster.waitForLeader(io.basalt.cluster.raft.RaftSetup.metaGroupId(cluster.config()), Duration.ofSeconds(20));
        cluster.stopNode(metaLeader);
        model.putAll(writeMany(disk, r, 50));
        assertReadsBack(disk, model);
        cluster.client().createVdisk("disk1", 1 << 20);
        assertEquals(List.of("disk0", "disk1"), cluster.client().vdisks().stream().map(v -> v.name()).toList());
        int newMetaLeader = cluster.waitForLeader(io.basalt.cluster.raft.RaftSetup.metaGroupId(cluster.config()), Duration.ofSeconds(20));
        assertNotEquals(metaLeader, newMetaLeader);
    }

    @Test
    void writesInFlightContinueAcrossAPgLeaderKill() throws Exception {
        ClusterVdisk disk = startWithDisk(3, 3, TestCluster.fastTuning());
        int writes = 600;
        List<Long> lbas = new ArrayList<>();
        for (long i = 0; i < writes; i++) {
            lbas.add(i * 16); // distinct addresses: each acknowledged write has exactly one expected content
        }
        java.util.Collections.shuffle(lbas, new Random(13));
        java.util.concurrent.ConcurrentHashMap<Long, byte[]> acked = new java.util.concurrent.ConcurrentHashMap<>();
        java.util.concurrent.atomic.AtomicInteger failed = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicReference<Throwable> firstFailure = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.concurrent.Semaphore inFlight = new java.util.concurrent.Semaphore(32);
        Thread writer = new Thread(() -> {
            Random r = new Random(14);
            for (long lba : lbas) {
                byte[] data = pattern(r, 16 * BLOCK);
                inFlight.acquireUninterruptibly();
                disk.write(lba, ByteBuffer.wrap(data), false).whenComplete((x, ex) -> {
                    if (ex == null) {
                        acked.put(lba, data);
                    } else {
                        failed.incrementAndGet();
                        firstFailure.compareAndSet(null, ex);
                    }
                    inFlight.release();
                });
            }
            inFlight.acquireUninterruptibly(32);
        }, "test-writer");
        writer.start();
        try {
            TestCluster.waitUntil("100 writes acknowledged", Duration.ofSeconds(60), () -> acked.size() >= 100);
            int pg = new Placement(cluster.config()).pgOf(disk.record().rootId(), 0);
            cluster.stopNode(cluster.waitForLeader(cluster.pgGroup(pg), Duration.ofSeconds(20)));
        } finally {
            writer.join(120_000);
        }
        assertFalse(writer.isAlive(), "writer finished");
        assertEquals(0, failed.get(), () -> "no write failed across the leader change; first: " + firstFailure.get());
        assertEquals(writes, acked.size());
        assertReadsBack(disk, new TreeMap<>(acked));
    }

    private long applied(int node, int pg) {
        try {
            return cluster.division(node, cluster.pgGroup(pg)).getInfo().getLastAppliedIndex();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void ioAcrossStripesIsSplitAndReassembled() throws Exception {
        ClusterVdisk disk = startWithDisk(3, 3, TestCluster.fastTuning());
        long stripeBlocks = (long) ClusterConfig.STRIPE_GRAINS_DEFAULT * 4096 / BLOCK;
        var pieces = disk.pieces(stripeBlocks - 8, 2 * (int) stripeBlocks);
        assertEquals(List.of(stripeBlocks - 8, stripeBlocks, stripeBlocks + 512, stripeBlocks + 1024, stripeBlocks + 1536, 2 * stripeBlocks,
                2 * stripeBlocks + 512, 2 * stripeBlocks + 1024, 2 * stripeBlocks + 1536), pieces.stream().map(ClusterVdisk.Piece::lba).toList());
        byte[] data = pattern(new Random(7), (int) (2 * stripeBlocks * BLOCK));
        disk.write(stripeBlocks - 8, ByteBuffer.wrap(data), true).join();
        assertArrayEquals(data, read(disk, stripeBlocks - 8, (int) (2 * stripeBlocks)));
        // The unwritten block before it reads as zeros.
        assertArrayEquals(new byte[BLOCK], read(disk, stripeBlocks - 9, 1));
    }

    @Test
    void unmapWriteZeroesAndCompareAndWrite() throws Exception {
        ClusterVdisk disk = startWithDisk(3, 3, TestCluster.fastTuning());
        byte[] a = pattern(new Random(1), 64 * BLOCK);
        disk.write(0, ByteBuffer.wrap(a), false).join();
        disk.unmap(8, 8).join();
        byte[] got = read(disk, 0, 64);
        assertArrayEquals(new byte[8 * BLOCK], java.util.Arrays.copyOfRange(got, 8 * BLOCK, 16 * BLOCK));
        assertArrayEquals(java.util.Arrays.copyOfRange(a, 16 * BLOCK, 64 * BLOCK), java.util.Arrays.copyOfRange(got, 16 * BLOCK, 64 * BLOCK));
        List<LbaStatus> status = disk.getLbaStatus(8, 8).join();
        assertEquals(LbaStatus.Provisioning.DEALLOCATED, status.get(0).provisioning(), status.toString());

        disk.writeZeroes(0, 8, false).join();
        assertArrayEquals(new byte[8 * BLOCK], read(disk, 0, 8));

        byte[] b = pattern(new Random(2), BLOCK);
        CompareResult miss = disk.compareAndWrite(20, ByteBuffer.wrap(b), ByteBuffer.wrap(b)).join();
        assertFalse(miss.matched());
        assertArrayEquals(java.util.Arrays.copyOfRange(a, 20 * BLOCK, 21 * BLOCK), read(disk, 20, 1));
        CompareResult hit = disk.compareAndWrite(20, ByteBuffer.wrap(java.util.Arrays.copyOfRange(a, 20 * BLOCK, 21 * BLOCK)), ByteBuffer.wrap(b)).join();
        assertTrue(hit.matched());
        assertArrayEquals(b, read(disk, 20, 1));
    }

    /**
     * A host whose I/O timed out through a majority outage (its Ratis client's retries ran out,
     * which closes that client for good) writes again once the quorum is back.
     */
    @Test
    void aHostWhoseRetriesRanOutInAnOutageWritesAgainOnceTheQuorumIsBack() throws Exception {
        startWithDisk(3, 3, TestCluster.fastTuning());
        ClusterConfig.Tuning t = cluster.config().tuning();
        ClusterConfig.Tuning impatient = t.withTimeouts(t.requestTimeout(), Duration.ofMillis(2500));
        try (ClusterClient host = ClusterClient.open(cluster.config().withTuning(impatient))) {
            ClusterVdisk disk = host.open("disk0");
            byte[] a = pattern(new Random(5), 8 * BLOCK);
            disk.write(0, ByteBuffer.wrap(a), false).join();
            int pg = new Placement(cluster.config()).pgOf(disk.record().rootId(), 0);
            var first = host.pgRaftClient(pg);
            cluster.stopNode(2);
            cluster.stopNode(3);
            var failed = assertThrows(java.util.concurrent.CompletionException.class, () -> disk.write(0, ByteBuffer.wrap(a), false).join());
            assertInstanceOf(io.basalt.vdisk.BlockDeviceException.class, failed.getCause());
            // The write failed at the I/O timeout; its Ratis client retries on until its policy runs
            // out and closes it, and only then is it replaced. The quorum comes back after that.
            TestCluster.waitUntil("pg-" + pg + "'s Ratis client gave up and was replaced", Duration.ofSeconds(30),
                    () -> host.pgRaftClient(pg) != first);
            cluster.startNode(2);
            cluster.startNode(3);
            cluster.waitForAllLeaders(Duration.ofSeconds(30));
            byte[] b = pattern(new Random(6), 8 * BLOCK);
            Throwable last = null;
            for (int attempt = 0; attempt < 10; attempt++) {
                try {
                    disk.write(0, ByteBuffer.wrap(b), false).join();
                    last = null;
                    break;
                } catch (java.util.concurrent.CompletionException e) {
                    last = e.getCause();
                    Thread.sleep(1000);
                }
            }
            assertEquals(null, last, "writes after the quorum came back");
            assertArrayEquals(b, read(disk, 0, 8));
        }
    }

    /**
     * Atomic writes are whole grains inside one 256 KiB window (stripes of 1 MiB here); I/O is
     * cut at every window boundary, so a read's piece holds all of a window it overlaps.
     */
    @Test
    void atomicWritesAreWholeGrainsInsideOneWindowAndIoIsCutAtWindows() throws Exception {
        ClusterVdisk disk = startWithDisk(1, 1, TestCluster.fastTuning());
        assertEquals(4096, disk.atomicWriteUnitBytes());
        assertEquals(256 << 10, disk.atomicWriteBytesMax());
        assertEquals(256 << 10, disk.atomicWriteBoundaryBytes());
        long window = 512;   // blocks
        assertEquals(List.of(window - 128, window, 2 * window), disk.pieces(window - 128, 2 * (int) window).stream().map(ClusterVdisk.Piece::lba).toList());

        byte[] whole = pattern(new Random(5), 256 << 10);
        disk.writeAtomic(window, ByteBuffer.wrap(whole), false).join();
        assertArrayEquals(whole, read(disk, window, (int) window));
        byte[] grain = pattern(new Random(6), 4096);
        disk.writeAtomic(2 * window - 8, ByteBuffer.wrap(grain), true).join();
        assertArrayEquals(grain, read(disk, 2 * window - 8, 8));

        var crossing = assertInstanceOf(IllegalArgumentException.class, cause(disk.writeAtomic(2 * window - 8, ByteBuffer.allocate(8192), false)));
        assertTrue(crossing.getMessage().contains("atomic write: lba 1016, 8192 bytes (expected: whole grains of 4096 bytes, grain-aligned, "
                + "inside one aligned window of 262144 bytes) vdisk=disk0"), crossing.getMessage());
        assertInstanceOf(IllegalArgumentException.class, cause(disk.writeAtomic(1, ByteBuffer.allocate(4096), false)), "misaligned");
        assertInstanceOf(IllegalArgumentException.class, cause(disk.writeAtomic(0, ByteBuffer.allocate(512), false)), "part of a grain");
        assertInstanceOf(IllegalArgumentException.class, cause(disk.writeAtomic(0, ByteBuffer.allocate(512 << 10), false)), "over the window");
        assertArrayEquals(new byte[8192], read(disk, 0, 16), "refused atomic writes wrote nothing");
    }

    /**
     * A read sees all or nothing of an atomic write, wherever it starts: readers of a range
     * starting 64 KiB before the window (cut at the window's edges, not every 256 KiB from its
     * start) and of the window itself, while a writer flips the window between two patterns.
     */
    @Test
    void concurrentReadsNeverSeeHalfOfAnAtomicWrite() throws Exception {
        ClusterVdisk disk = startWithDisk(3, 3, TestCluster.fastTuning());
        long window = 512;
        int bytes = 256 << 10;
        disk.writeAtomic(window, ByteBuffer.wrap(filled(bytes, 'A')), false).join();
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            try {
                for (int i = 0; i < 150; i++) {
                    disk.writeAtomic(window, ByteBuffer.wrap(filled(bytes, i % 2 == 0 ? 'B' : 'A')), false).join();
                }
            } finally {
                stop.set(true);
            }
        });
        int[] reads = new int[2];
        List<CompletableFuture<Void>> readers = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            int reader = r;
            long from = r == 0 ? window - 128 : window;   // 64 KiB before the window, or the window itself
            int blocks = r == 0 ? (int) window + 256 : (int) window;
            int skip = (int) (window - from) * BLOCK;
            readers.add(CompletableFuture.runAsync(() -> {
                while (!stop.get()) {
                    byte[] got = read(disk, from, blocks);
                    for (int i = skip + 1; i < skip + bytes; i++) {
                        if (got[i] != got[skip]) {
                            throw new AssertionError("reader " + reader + ": torn read at byte " + (i - skip) + " of the window: "
                                    + (char) got[skip] + " then " + (char) got[i]);
                        }
                    }
                    reads[reader]++;
                }
            }));
        }
        writer.get(2, java.util.concurrent.TimeUnit.MINUTES);
        for (CompletableFuture<Void> r : readers) {
            r.get(1, java.util.concurrent.TimeUnit.MINUTES);
        }
        assertTrue(reads[0] > 10 && reads[1] > 10, "too few reads overlapped the writes: " + reads[0] + ", " + reads[1]);
    }

    private static byte[] filled(int bytes, char c) {
        byte[] b = new byte[bytes];
        java.util.Arrays.fill(b, (byte) c);
        return b;
    }

    /** Reading into the caller's buffer (what the iSCSI target does) across a stripe boundary, at a non-zero position. */
    @Test
    void readsIntoTheCallersBufferAcrossStripes() throws Exception {
        ClusterVdisk disk = startWithDisk(3, 3, TestCluster.fastTuning());
        byte[] data = pattern(new Random(4), 64 * BLOCK);
        disk.write(2048 - 32, ByteBuffer.wrap(data), false).join();
        ByteBuffer dst = ByteBuffer.allocate(100 + 64 * BLOCK).position(100);
        disk.read(2048 - 32, 64, dst).join();
        assertEquals(100, dst.position(), "dst position is not moved");
        assertArrayEquals(data, java.util.Arrays.copyOfRange(dst.array(), 100, 100 + 64 * BLOCK));
        var tooSmall = assertThrows(java.util.concurrent.CompletionException.class, () -> disk.read(0, 64, ByteBuffer.allocate(BLOCK)).join());
        assertTrue(tooSmall.getCause().getMessage().contains("64 blocks = 32768 bytes"), tooSmall.getCause().getMessage());
    }

    /**
     * A short unmap goes only to its stripes' PGs, one spanning at least as many stripes as PGs
     * goes whole to every PG: both deallocate exactly their range (stripes of 2,048 blocks here).
     */
    @Test
    void unmapsAcrossFewAndManyStripesZeroExactlyTheirRange() throws Exception {
        ClusterVdisk disk = startWithDisk(3, 3, TestCluster.fastTuning());
        int blocks = 8 * 2048;
        byte[] model = pattern(new Random(3), blocks * BLOCK);
        for (int at = 0; at < blocks; at += 512) {
            disk.write(at, ByteBuffer.wrap(model, at * BLOCK, 512 * BLOCK), false).join();
        }
        long[][] unmaps = {{1000, 3000}, {6000, 5 * 2048}, {2047, 2}};
        for (long[] u : unmaps) {
            disk.unmap(u[0], u[1]).join();
            java.util.Arrays.fill(model, (int) u[0] * BLOCK, (int) (u[0] + u[1]) * BLOCK, (byte) 0);
        }
        for (int at = 0; at < blocks; at += 512) {
            assertArrayEquals(java.util.Arrays.copyOfRange(model, at * BLOCK, (at + 512) * BLOCK), read(disk, at, 512), "blocks from " + at);
        }
    }

    @Test
    void aSingleNodeClientReadsItsOwnReplicasInProcess() throws Exception {
        startWithDisk(1, 1, TestCluster.fastTuning());
        try (ClusterClient local = ClusterClient.open(cluster.config(), cluster.node(1))) {
            ClusterVdisk disk = local.open("disk0");
            Random r = new Random(21);
            TreeMap<Long, byte[]> model = writeMany(disk, r, 100);
            assertReadsBack(disk, model);
            long inProcess = 0;
            for (int pg = 0; pg < cluster.config().pgCount(); pg++) {
                inProcess += local.pg(pg).localReads.get();
            }
            assertEquals(model.size(), inProcess, "every read was served in process");
            // A client of a replicated cluster never takes that path (see the other tests).
        }
    }

    /**
     * A client in node 1's process (a gateway on a storage node) sends requests for the PGs
     * node 1 leads to its server in-process, and everything else over gRPC; when node 1's server
     * stops, every request goes to the other nodes' leaders and nothing acknowledged is lost.
     */
    @Test
    void aClientOnAReplicatedNodeSendsToItsOwnLeadersInProcessAndFallsBackWhenItStops() throws Exception {
        startWithDisk(3, 3, TestCluster.fastTuning());
        cluster.waitForAllLeaders(Duration.ofSeconds(30));
        List<Integer> ledByNode1 = new ArrayList<>();
        for (int pg = 0; pg < cluster.config().pgCount(); pg++) {
            if (cluster.leaderOf(cluster.pgGroup(pg)).orElseThrow() == 1) {
                ledByNode1.add(pg);
            }
        }
        assertFalse(ledByNode1.isEmpty(), "node 1 leads some PG (leaders are spread by priority)");
        try (ClusterClient gateway = ClusterClient.open(cluster.config(), cluster.node(1))) {
            ClusterVdisk disk = gateway.open("disk0");
            Random r = new Random(77);
            TreeMap<Long, byte[]> model = writeMany(disk, r, 200);
            assertReadsBack(disk, model);
            for (int pg = 0; pg < cluster.config().pgCount(); pg++) {
                long local = gateway.pg(pg).localRequests.get();
                if (ledByNode1.contains(pg)) {
                    assertTrue(local > 0, "pg-" + pg + " (led by node 1) served in process");
                } else {
                    assertEquals(0, local, "pg-" + pg + " (led elsewhere) went over gRPC");
                }
            }

            cluster.stopNode(1);
            assertReadsBack(disk, model);
            model.putAll(writeMany(disk, r, 100));
            assertReadsBack(disk, model);
        }
    }

    @Test
    void rejectsOutOfRangeIoNamingTheValue() throws Exception {
        ClusterVdisk disk = startWithDisk(1, 1, TestCluster.fastTuning());
        var e = assertInstanceOf(IllegalArgumentException.class, cause(disk.read(disk.blockCount(), 1)));
        assertTrue(e.getMessage().contains("read lba: " + disk.blockCount() + " + 1 blocks (expected: within 0.." + disk.blockCount() + ") vdisk=disk0"), e.getMessage());
        var w = assertInstanceOf(IllegalArgumentException.class, cause(disk.write(0, ByteBuffer.allocate(100), false)));
        assertTrue(w.getMessage().contains("write length: 100 bytes"), w.getMessage());
    }

    @Test
    void reportsNoQuorumClearlyWhenAMajorityIsDown() throws Exception {
        var tuning = new ClusterConfig.Tuning(Duration.ofMillis(400), Duration.ofSeconds(1), Duration.ofSeconds(4), 100_000, 8L << 20, ClusterConfig.Tuning.PG_INFLIGHT_ENTRIES_DEFAULT);
        ClusterVdisk disk = startWithDisk(3, 3, tuning);
        disk.write(0, ByteBuffer.wrap(new byte[BLOCK]), false).join();
        cluster.stopNode(2);
        cluster.stopNode(3);
        var e = assertInstanceOf(BlockDeviceException.class, cause(disk.write(0, ByteBuffer.wrap(new byte[BLOCK]), false)));
        assertEquals(BlockDeviceException.Kind.TRANSIENT, e.kind());
        assertTrue(e.getMessage().matches("pg-\\d+ has no quorum or no reachable leader: .*"), e.getMessage());
    }

    /**
     * The I/O timeout bounds an op from its submission, also when it waits behind an entry the
     * group does not answer: a gateway must answer every command of a host within it (as BUSY),
     * not one I/O timeout per entry ahead of it in the queue.
     */
    @Test
    void opsQueuedBehindAnUnansweredEntryFailWithinTheIoTimeout() throws Exception {
        Duration ioTimeout = Duration.ofSeconds(4);
        var tuning = new ClusterConfig.Tuning(Duration.ofMillis(400), Duration.ofSeconds(1), ioTimeout, 100_000, 8L << 20, ClusterConfig.Tuning.PG_INFLIGHT_ENTRIES_DEFAULT);
        startWithDisk(3, 3, tuning);
        // A gateway on node 1, as `basalt cluster up` runs it.
        try (ClusterClient gateway = ClusterClient.open(cluster.config(), cluster.node(1))) {
            ClusterVdisk disk = gateway.open("disk0");
            disk.write(0, ByteBuffer.wrap(new byte[BLOCK]), false).join();
            cluster.stopNode(2);
            cluster.stopNode(3);
            long start = System.nanoTime();
            // Half a stripe each, in one stripe: one PG, and no two fit one entry, so the first
            // goes out and each of the others waits for the entry before it.
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                writes.add(disk.write(0, ByteBuffer.wrap(new byte[512 << 10]), false));
            }
            for (CompletableFuture<Void> w : writes) {
                var e = assertInstanceOf(BlockDeviceException.class, cause(w));
                assertEquals(BlockDeviceException.Kind.TRANSIENT, e.kind(), e.getMessage());
            }
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            assertTrue(took.compareTo(ioTimeout.multipliedBy(3).dividedBy(2)) < 0, "three writes failed after " + took.toMillis()
                    + " ms (expected: about the I/O timeout, " + ioTimeout.toMillis() + " ms, not one per entry)");
        }
    }

    private static Throwable cause(CompletableFuture<?> f) {
        try {
            f.join();
        } catch (CompletionException e) {
            return e.getCause();
        }
        throw new AssertionError("expected a failure");
    }
}
