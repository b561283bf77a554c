package io.basalt.cluster.raft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;

import org.apache.ratis.server.RaftServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.TestCluster;
import io.basalt.cluster.client.ClusterVdisk;
import io.basalt.cluster.pg.PgStore;
import io.basalt.vdisk.store.Vdisk;

/** Snapshots: a far-behind follower catches up by one; big entries take them by log bytes. */
class SnapshotInstallTest {
    private static final int BLOCK = 4096;
    @TempDir
    Path dir;
    private TestCluster cluster;

    @AfterEach
    void stop() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void aFollowerThatMissedPurgedEntriesCatchesUpBySnapshot() throws Exception {
        // One PG, a checkpoint every 100 entries, 1 MiB log segments: the log is purged quickly.
        var tuning = new ClusterConfig.Tuning(Duration.ofMillis(400), Duration.ofSeconds(2), Duration.ofSeconds(20), 100, 1L << 20, ClusterConfig.Tuning.PG_INFLIGHT_ENTRIES_DEFAULT);
        cluster = TestCluster.start(TestCluster.config("snap", 3, 1, 3, tuning), dir);
        cluster.client().createVdisk("disk0", 16L << 20, BLOCK, BLOCK);
        ClusterVdisk disk = cluster.client().open("disk0");
        Random r = new Random(3);
        TreeMap<Long, byte[]> model = new TreeMap<>();
        write(disk, r, model, 20);
        int leader = cluster.waitForLeader(cluster.pgGroup(0), Duration.ofSeconds(20));
        int lagging = leader % 3 + 1;
        TestCluster.waitUntil("node " + lagging + " applied what the leader did", Duration.ofSeconds(20),
                () -> applied(lagging) >= applied(leader));
        long left = applied(lagging);
        cluster.stopNode(lagging);

        // One write per entry (nothing else in flight): well over a thousand entries.
        write(disk, r, model, 1500);
        int now = cluster.waitForLeader(cluster.pgGroup(0), Duration.ofSeconds(20));
        TestCluster.waitUntil("the leader purged the entries the lagging node needs", Duration.ofSeconds(30),
                () -> division(now).getRaftLog().getStartIndex() > left + 1);

        cluster.startNode(lagging);
        TestCluster.waitUntil("node " + lagging + " caught up", Duration.ofSeconds(60), () -> applied(lagging) >= applied(now));
        long installed = division(lagging).getStateMachine().getLatestSnapshot().getIndex();
        assertTrue(installed > left, "snapshot at " + installed + " (expected: > " + left + ", where the node left)");

        // Read the caught-up replica's own engine: every acknowledged write is there.
        PgStore store = ((PgStateMachine) division(lagging).getStateMachine()).store();
        try (Vdisk v = store.engine().open(PgStore.engineName(disk.record().id()))) {
            for (var e : model.entrySet()) {
                ByteBuffer got = v.read(e.getKey(), 1).join();
                byte[] bytes = new byte[got.remaining()];
                got.get(bytes);
                assertArrayEquals(e.getValue(), bytes, "lba " + e.getKey() + " on node " + lagging);
            }
        }
    }

    private static void write(ClusterVdisk disk, Random r, TreeMap<Long, byte[]> model, int count) {
        for (int i = 0; i < count; i++) {
            long lba = r.nextInt((int) disk.blockCount());
            byte[] data = new byte[BLOCK];
            r.nextBytes(data);
            disk.write(lba, ByteBuffer.wrap(data), false).join();
            model.put(lba, data);
        }
    }

    private RaftServer.Division division(int node) {
        try {
            return cluster.division(node, cluster.pgGroup(0));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private long applied(int node) {
        return division(node).getInfo().getLastAppliedIndex();
    }

    /**
     * Big entries bound the log by bytes, not only by entry count: with 1 MiB segments a PG takes
     * a snapshot after 32 MiB of entries and purges its log, though the entry-count trigger
     * (100,000) never fires.
     */
    @Test
    void eightyMebibytesOfWritesTakeSnapshotsAndKeepTheLogSmall() throws Exception {
        long segment = 1L << 20;
        var tuning = new ClusterConfig.Tuning(Duration.ofMillis(400), Duration.ofSeconds(2), Duration.ofSeconds(20), 100_000, segment,
                ClusterConfig.Tuning.PG_INFLIGHT_ENTRIES_DEFAULT);
        cluster = TestCluster.start(TestCluster.config("logbytes", 1, 1, 1, tuning), dir);
        cluster.client().createVdisk("disk0", 128L << 20, BLOCK, BLOCK);
        ClusterVdisk disk = cluster.client().open("disk0");
        Random r = new Random(7);
        byte[] last = new byte[1 << 20];
        int mib = 80;
        for (int i = 0; i < mib; i++) {
            r.nextBytes(last);
            disk.write((long) i * 256, ByteBuffer.wrap(last), false).join();
        }
        RaftServer.Division pg = cluster.division(1, cluster.pgGroup(0));
        long entries = pg.getInfo().getLastAppliedIndex();
        TestCluster.waitUntil("a snapshot and a purge of the log", Duration.ofSeconds(30),
                () -> pg.getStateMachine().getLatestSnapshot() != null && pg.getRaftLog().getStartIndex() > 0);
        long logBytes = sizeOf(pg.getRaftStorage().getStorageDir().getCurrentDir().toPath());
        assertTrue(logBytes < 48L << 20, "log on disk: " + logBytes + " bytes after " + mib + " MiB in " + entries
                + " entries (expected: < 48 MiB: snapshots every " + StoreStateMachine.SEGMENTS_PER_SNAPSHOT + " segments of " + segment + " bytes)");
        ByteBuffer got = disk.read((long) (mib - 1) * 256, 256).join();
        byte[] bytes = new byte[got.remaining()];
        got.get(bytes);
        assertArrayEquals(last, bytes, "the last MiB written");
    }

    /**
     * A checkpoint the disk refuses (here: the snapshot directory is a file; in a chaos run the
     * fault file system refused RocksDB's hard links) leaves the replica applying and serving:
     * thrown out of the state machine as anything but an IOException, Ratis closed the replica for
     * good, and all three replicas of a group, reaching the same index together, closed at once.
     */
    @Test
    void aSnapshotTheDiskRefusesLeavesTheReplicaServingAndIsTakenLater() throws Exception {
        var tuning = new ClusterConfig.Tuning(Duration.ofMillis(400), Duration.ofSeconds(2), Duration.ofSeconds(20), 100, 1L << 20,
                ClusterConfig.Tuning.PG_INFLIGHT_ENTRIES_DEFAULT);
        cluster = TestCluster.start(TestCluster.config("snapfail", 1, 1, 1, tuning), dir);
        cluster.client().createVdisk("disk0", 16L << 20, BLOCK, BLOCK);
        ClusterVdisk disk = cluster.client().open("disk0");
        RaftServer.Division pg = cluster.division(1, cluster.pgGroup(0));
        Path snapshots = pg.getStateMachine().getStateMachineStorage().getSnapshotDir().toPath();
        deleteTree(snapshots);
        Files.writeString(snapshots, "not a directory");

        Random r = new Random(11);
        TreeMap<Long, byte[]> model = new TreeMap<>();
        write(disk, r, model, 300); // three times the snapshot threshold: every attempt fails
        assertTrue(pg.getStateMachine().getLatestSnapshot() == null, "no snapshot can have been taken: " + pg.getStateMachine().getLatestSnapshot());
        assertTrue(pg.getInfo().isAlive(), "the replica is still running after its snapshots failed");
        readBack(disk, model);

        Files.delete(snapshots);
        Files.createDirectories(snapshots);
        TestCluster.waitUntil("a snapshot once the disk takes one again", Duration.ofSeconds(30), () -> {
            write(disk, r, model, 20);
            return pg.getStateMachine().getLatestSnapshot() != null;
        });
        readBack(disk, model);
    }

    private static void readBack(ClusterVdisk disk, TreeMap<Long, byte[]> model) {
        for (var e : model.entrySet()) {
            ByteBuffer got = disk.read(e.getKey(), 1).join();
            byte[] bytes = new byte[got.remaining()];
            got.get(bytes);
            assertArrayEquals(e.getValue(), bytes, "lba " + e.getKey());
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private static long sizeOf(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).sum();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
