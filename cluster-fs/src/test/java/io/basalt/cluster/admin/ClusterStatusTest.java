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
import io.basalt.cluster.probe.NodeProbe;

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

    @Test
    void aFollowerBehindTheLeadersSnapshotOrSilentIsDegraded() {
        org.apache.ratis.protocol.RaftGroupId g = org.apache.ratis.protocol.RaftGroupId.randomId();
        // What CI's stuck new replica looked like: node 4 at entry 40, the leader at 326 with a
        // snapshot at 199 (its log purged below it), node 4 answering heartbeats.
        assertEquals("node 4 is at entry 40, behind the leader's snapshot at 199 (needs a snapshot install)",
                degradedWhy(g, leaderView(g, 326, 40, 20, 199), 40));
        assertEquals("node 4 lags 6 entries and has not answered the leader for 7.5 s",
                degradedWhy(g, leaderView(g, 326, 320, 7_500, 199), 320));
        assertEquals("node 4 lags 1326 entries", degradedWhy(g, leaderView(g, 2_326, 1_000, 20, 199), 1_000));
        // Caught up, or a moment behind and answering: ok.
        for (long follower : new long[] {326, 320}) {
            ClusterStatus.GroupState ok = ClusterStatus.group("pg-0", g, views(g, leaderView(g, 326, follower, 20, 199), follower));
            assertEquals(ClusterStatus.Health.OK, ok.health(), ok.toString());
        }
    }

    private static String degradedWhy(org.apache.ratis.protocol.RaftGroupId g, NodeProbe.GroupView leader, long followerCommit) {
        ClusterStatus.GroupState s = ClusterStatus.group("pg-0", g, views(g, leader, followerCommit));
        assertEquals(ClusterStatus.Health.DEGRADED, s.health(), s.toString());
        return s.why();
    }

    private static NodeProbe.GroupView leaderView(org.apache.ratis.protocol.RaftGroupId g, long commit, long followerCommit,
                                                  long followerSilentMs, long snapshot) {
        return new NodeProbe.GroupView(g, org.apache.ratis.proto.RaftProtos.RaftPeerRole.LEADER, java.util.OptionalInt.of(1), 3,
                peers(), java.util.Map.of(1, commit, 4, followerCommit), java.util.Map.of(4, followerSilentMs), commit, snapshot, true);
    }

    private static java.util.Map<Integer, NodeProbe.NodeView> views(org.apache.ratis.protocol.RaftGroupId g, NodeProbe.GroupView leader,
                                                                    long followerCommit) {
        NodeProbe.GroupView follower = new NodeProbe.GroupView(g, org.apache.ratis.proto.RaftProtos.RaftPeerRole.FOLLOWER,
                java.util.OptionalInt.of(1), 0, peers(), java.util.Map.of(4, followerCommit), java.util.Map.of(), followerCommit, -1, true);
        return new java.util.TreeMap<>(java.util.Map.of(1, new NodeProbe.NodeView(1, "127.0.0.1:1", null, List.of(leader)),
                4, new NodeProbe.NodeView(4, "127.0.0.1:4", null, List.of(follower))));
    }

    private static List<org.apache.ratis.protocol.RaftPeer> peers() {
        return List.of(1, 4).stream().map(id -> org.apache.ratis.protocol.RaftPeer.newBuilder()
                .setId(io.basalt.cluster.raft.RaftSetup.peerId(id)).setAddress("127.0.0.1:" + id).build()).toList();
    }

    /** Free space below three reserves is NEARFULL (85 % used with the 5 % default), below one FULL. */
    @Test
    void nodesBelowThreeReservesAreNearfullAndBelowOneFull() {
        long gib = 1L << 30;
        List<ClusterStatus.NodeState> nodes = List.of(new ClusterStatus.NodeState(1, "a:1", true, "", 4),
                new ClusterStatus.NodeState(2, "b:1", true, "", 4), new ClusterStatus.NodeState(3, "c:1", true, "", 4));
        ClusterStatus status = new ClusterStatus("t", nodes, List.of(), java.util.Map.of()).withSpaces(List.of(
                new io.basalt.cluster.meta.NodeSpace(1, 40 * gib, 5 * gib, 100 * gib, 0),
                new io.basalt.cluster.meta.NodeSpace(2, 14 * gib, 5 * gib, 100 * gib, 0),
                new io.basalt.cluster.meta.NodeSpace(3, 4 * gib, 5 * gib, 100 * gib, 0)));
        assertEquals(List.of(2), status.nearFullNodes());
        assertEquals(List.of(3), status.fullNodes());
        String out = status.render();
        assertTrue(out.contains("FULL nodes [3]") && out.contains("NEARFULL nodes [2]"), out);
        assertTrue(out.lines().anyMatch(l -> l.startsWith("2 ") && l.contains("NEARFULL")), out);
        assertTrue(out.lines().anyMatch(l -> l.startsWith("1 ") && !l.contains("FULL")), out);
        assertFalse(new io.basalt.cluster.meta.NodeSpace(4, 0, 0, 100 * gib, 0).nearFull(), "a reserve of 0 is never nearfull");
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
