package io.basalt.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.meta.VdiskRecord;

class ClusterNodeTest {
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
    void threeNodesHostMetaAndEveryPlacementGroup() throws Exception {
        cluster = TestCluster.start(TestCluster.config("t", 3, 4, 3, TestCluster.fastTuning()), dir);
        cluster.waitForAllLeaders(Duration.ofSeconds(30));
        for (int id = 1; id <= 3; id++) {
            List<ClusterNode.GroupStatus> status = cluster.node(id).status();
            assertEquals(List.of("meta", "pg-0", "pg-1", "pg-2", "pg-3"), status.stream().map(ClusterNode.GroupStatus::group).toList());
            assertTrue(status.stream().allMatch(ClusterNode.GroupStatus::alive), status.toString());
        }
        int leader = cluster.waitForLeader(cluster.pgGroup(0), Duration.ofSeconds(30));
        ClusterNode.GroupStatus pg0 = cluster.node(leader).status().get(1);
        assertEquals("LEADER", pg0.role());
        assertEquals("n" + leader, pg0.leader());
        assertEquals(3, pg0.peerCommitIndex().size(), pg0.toString());
    }

    @Test
    void namespaceSurvivesRestartOfEveryNode() throws Exception {
        ClusterConfig config = TestCluster.config("t", 3, 2, 3, TestCluster.fastTuning());
        cluster = TestCluster.start(config, dir);
        VdiskRecord created = cluster.client().createVdisk("disk0", 64L << 20);
        cluster.close();
        cluster = TestCluster.start(config, dir);
        assertEquals(created, cluster.client().vdisk("disk0").orElseThrow());
        assertTrue(cluster.client().vdisk("nope").isEmpty());
    }

    @Test
    void singleNodeClusterIsTheSameCodeWithOneVoter() throws Exception {
        cluster = TestCluster.start(TestCluster.config("one", 1, 2, 1, TestCluster.fastTuning()), dir);
        cluster.client().createVdisk("a", 1 << 20);
        cluster.client().createVdisk("b", 1 << 20);
        assertEquals(List.of("a", "b"), cluster.client().vdisks().stream().map(VdiskRecord::name).toList());
    }
}
