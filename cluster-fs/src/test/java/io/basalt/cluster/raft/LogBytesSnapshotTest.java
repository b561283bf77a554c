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
import java.util.stream.Stream;

import org.apache.ratis.server.RaftServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.TestCluster;
import io.basalt.cluster.client.ClusterVdisk;

/**
 * Big entries bound the log by bytes, not only by entry count: with 1 MiB segments a PG takes a
 * snapshot after 32 MiB of entries and purges its log, though the entry-count trigger (100,000)
 * never fires.
 */
class LogBytesSnapshotTest {
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
    void eightyMebibytesOfWritesTakeSnapshotsAndKeepTheLogSmall() throws Exception {
        long segment = 1L << 20;
        var tuning = new ClusterConfig.Tuning(Duration.ofMillis(400), Duration.ofSeconds(2), Duration.ofSeconds(20), 100_000, segment,
                ClusterConfig.Tuning.PG_INFLIGHT_ENTRIES_DEFAULT);
        cluster = TestCluster.start(TestCluster.config("logbytes", 1, 1, 1, tuning), dir);
        cluster.client().createVdisk("disk0", 128L << 20, 4096, 4096);
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
