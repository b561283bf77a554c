package io.basalt.cluster.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.apache.ratis.server.raftlog.RaftLog;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.TestCluster;
import io.basalt.cluster.client.ClusterVdisk;
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

    /**
     * A write is one log entry on every replica. Ratis by default also appends a metadata entry
     * recording the commit index after each commit, which with one entry in flight per PG doubled
     * the log entries, appends and fsyncs of every write (docs/decisions/no-raft-metadata-entries.md).
     */
    @Test
    void aWriteIsOneLogEntry() throws Exception {
        cluster = TestCluster.start(TestCluster.config("t", 3, 1, 3, TestCluster.fastTuning()), dir);
        cluster.client().createVdisk("disk0", 16L << 20);
        ClusterVdisk disk = cluster.client().open("disk0");
        disk.write(0, ByteBuffer.allocate(4096), false).join();
        int leader = cluster.waitForLeader(cluster.pgGroup(0), Duration.ofSeconds(30));
        long before = cluster.division(leader, cluster.pgGroup(0)).getRaftLog().getNextIndex();
        int writes = 20;
        for (int i = 0; i < writes; i++) {
            disk.write(8L * i, ByteBuffer.allocate(4096), false).join();
        }
        long written = cluster.division(leader, cluster.pgGroup(0)).getRaftLog().getNextIndex() - before;
        assertEquals(writes, written, "log entries appended for " + writes + " writes, one at a time");
        for (int id = 1; id <= 3; id++) {
            RaftLog log = cluster.division(id, cluster.pgGroup(0)).getRaftLog();
            TestCluster.waitUntil("node " + id + "'s log to end where the leader's does", Duration.ofSeconds(10),
                    () -> log.getNextIndex() >= before + writes);
            assertEquals(before + writes, log.getNextIndex(), "node " + id + "'s log end");
        }
    }

    @Test
    void singleNodeClusterIsTheSameCodeWithOneVoter() throws Exception {
        cluster = TestCluster.start(TestCluster.config("one", 1, 2, 1, TestCluster.fastTuning()), dir);
        cluster.client().createVdisk("a", 1 << 20);
        cluster.client().createVdisk("b", 1 << 20);
        assertEquals(List.of("a", "b"), cluster.client().vdisks().stream().map(VdiskRecord::name).toList());
    }
}
