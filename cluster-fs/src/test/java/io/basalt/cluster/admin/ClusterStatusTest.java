package io.basalt.cluster.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.TestCluster;

class ClusterStatusTest {
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
    void reportsEveryGroupOkThenDegradedThenUnavailableAsNodesStop() throws Exception {
        cluster = TestCluster.start(TestCluster.config("t", 3, 3, 3, TestCluster.fastTuning()), dir);
        cluster.waitForAllLeaders(Duration.ofSeconds(30));
        cluster.client().createVdisk("disk0", 16L << 20);
        awaitStatus("every group ok", s -> s.count(ClusterStatus.Health.OK) == 4);
        ClusterStatus ok = ClusterStatus.collect(cluster.config());
        assertEquals(List.of("meta", "pg-0", "pg-1", "pg-2"), ok.groups().stream().map(ClusterStatus.GroupState::name).toList());
        for (ClusterStatus.GroupState g : ok.groups()) {
            assertEquals(List.of(1, 2, 3), g.replicaNodeIds(), g.toString());
            assertTrue(g.leader().isPresent(), g.toString());
            assertTrue(g.commitIndex() > 0, g.toString());
            assertTrue(g.replicas().stream().allMatch(r -> r.up() && r.lag() >= 0), g.toString());
        }
        assertTrue(ok.render().startsWith("cluster t: nodes 3 up, 0 down; groups 4 ok, 0 degraded, 0 unavailable"), ok.render());

        cluster.stopNode(3);
        awaitStatus("every group degraded, with a leader", s -> s.count(ClusterStatus.Health.DEGRADED) == 4);
        ClusterStatus degraded = ClusterStatus.collect(cluster.config());
        System.out.print(degraded.render());
        assertFalse(degraded.anyUnavailable());
        ClusterStatus.NodeState n3 = degraded.nodes().get(2);
        assertEquals(3, n3.id());
        assertFalse(n3.up());
        assertTrue(n3.reason() != null && !n3.reason().isBlank(), n3.toString());
        for (ClusterStatus.GroupState g : degraded.groups()) {
            assertEquals("node 3 down", g.why(), g.toString());
            assertTrue(g.leader().isPresent() && g.leader().getAsInt() != 3, g.toString());
        }
        assertTrue(degraded.render().contains("3(down)"), degraded.render());

        cluster.stopNode(2);
        ClusterStatus unavailable = ClusterStatus.collect(cluster.config());
        System.out.print(unavailable.render());
        assertTrue(unavailable.anyUnavailable());
        assertEquals(4, unavailable.count(ClusterStatus.Health.UNAVAILABLE), unavailable.render());
    }

    /** Waits until the status satisfies {@code ok}; on timeout the assertion shows the last status. */
    private void awaitStatus(String what, java.util.function.Predicate<ClusterStatus> ok) throws InterruptedException {
        ClusterStatus[] last = new ClusterStatus[1];
        try {
            TestCluster.waitUntil(what, Duration.ofSeconds(30), () -> ok.test(last[0] = ClusterStatus.collect(cluster.config())));
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; last status:\n" + last[0].render(), e);
        }
    }
}
