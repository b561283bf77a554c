package io.basalt.cluster.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.TestCluster;

/**
 * The workaround for Ratis's close deadlock reaches what it must: this Ratis still has the log's
 * cache-eviction thread where {@link LogEvictionStop} looks for it (an upgrade that moves it
 * fails here, not as a hang), and stopping it ends every group's eviction thread while the
 * server runs.
 */
class LogEvictionStopTest {
    @TempDir
    Path dir;

    private static List<String> evictionThreads(String node) {
        return Thread.getAllStackTraces().keySet().stream().map(Thread::getName)
                .filter(n -> n.startsWith(node + "@") && n.contains("cacheEviction")).toList();
    }

    @Test
    void stopsEveryGroupsLogCacheEvictionThread() throws Exception {
        assertTrue(LogEvictionStop.available(), "Ratis's SegmentedRaftLog.cacheEviction field");
        try (TestCluster cluster = TestCluster.start(TestCluster.config("e", 1, 2, 1, TestCluster.fastTuning()), dir)) {
            cluster.waitForAllLeaders(java.time.Duration.ofSeconds(30));
            assertEquals(3, evictionThreads("n1").size(), "meta and two PGs: " + evictionThreads("n1"));
            LogEvictionStop.beforeClose(cluster.node(1).server());
            TestCluster.waitUntil("eviction threads gone", java.time.Duration.ofSeconds(10), () -> evictionThreads("n1").isEmpty());
            // The groups still work without it.
            cluster.client().createVdisk("v", 1L << 20);
        }
    }
}
