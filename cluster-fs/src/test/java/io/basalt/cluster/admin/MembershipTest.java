package io.basalt.cluster.admin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

import org.apache.ratis.grpc.server.GrpcServicesImpl;
import org.apache.ratis.proto.RaftProtos.AppendEntriesRequestProto;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.util.CodeInjectionForTesting;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.TestCluster;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.client.ClusterVdisk;
import io.basalt.cluster.raft.RaftSetup;

/**
 * Membership changes on a real in-process cluster while a writer keeps writes in flight: every
 * acknowledged write must read back afterwards, also when the replicas that moved are needed
 * for a quorum (an original node stopped), and no write may fail during the change.
 */
class MembershipTest {
    private static final int BLOCK = 512;
    private static final int WRITE_BLOCKS = 16;
    private static final int IN_FLIGHT_MAX = 32;

    @TempDir
    Path dir;
    private TestCluster cluster;
    private Writer writer;

    @AfterEach
    void stop() throws Exception {
        try {
            if (writer != null) {
                writer.stop();
            }
        } finally {
            if (cluster != null) {
                cluster.close();
            }
        }
    }

    /**
     * Writes 8 KiB to distinct addresses (each acknowledged write has one expected content),
     * {@link #IN_FLIGHT_MAX} at a time, until stopped.
     */
    static final class Writer {
        final Map<Long, byte[]> acked = new ConcurrentHashMap<>();
        final AtomicReference<Throwable> firstFailure = new AtomicReference<>();
        private final AtomicBoolean stopping = new AtomicBoolean();
        private final Semaphore inFlight = new Semaphore(IN_FLIGHT_MAX);
        private final Thread thread;

        Writer(ClusterVdisk disk, long seed) {
            long slots = disk.blockCount() / WRITE_BLOCKS;
            thread = new Thread(() -> {
                try {
                    run(disk, seed, slots);
                } catch (Throwable t) {
                    firstFailure.compareAndSet(null, t);
                }
            }, "membership-writer");
            thread.start();
        }

        private void run(ClusterVdisk disk, long seed, long slots) {
                Random r = new Random(seed);
                for (long i = 0; i < slots && !stopping.get(); i++) {
                    long lba = i * WRITE_BLOCKS;
                    byte[] data = new byte[WRITE_BLOCKS * BLOCK];
                    r.nextBytes(data);
                    inFlight.acquireUninterruptibly();
                    disk.write(lba, ByteBuffer.wrap(data), false).whenComplete((x, ex) -> {
                        if (ex == null) {
                            acked.put(lba, data);
                        } else {
                            firstFailure.compareAndSet(null, ex);
                        }
                        inFlight.release();
                    });
                }
                inFlight.acquireUninterruptibly(IN_FLIGHT_MAX);
        }

        void awaitMoreAcks(int more) throws InterruptedException {
            int target = acked.size() + more;
            try {
                TestCluster.waitUntil(target + " writes acknowledged", Duration.ofSeconds(120), () -> acked.size() >= target || !thread.isAlive());
            } catch (AssertionError e) {
                throw new AssertionError(e.getMessage() + "; first write failure: " + firstFailure.get(), firstFailure.get());
            }
            assertTrue(acked.size() >= target, "writer stopped early (out of addresses?): " + firstFailure.get());
        }

        void stop() throws InterruptedException {
            stopping.set(true);
            thread.join(120_000);
            assertFalse(thread.isAlive(), "writer finished");
        }
    }

    private ClusterVdisk start(int nodes, int pgs) throws Exception {
        // A snapshot every 200 entries and 1 MiB log segments: the log is purged soon, so a new
        // replica has to be caught up by a snapshot install.
        ClusterConfig.Tuning t = TestCluster.fastTuning();
        t = new ClusterConfig.Tuning(t.electionTimeoutMin(), t.requestTimeout(), t.ioTimeout(), 200, 1L << 20,
                t.pgInflightEntriesMax());
        cluster = TestCluster.start(TestCluster.config("m", nodes, pgs, 3, t), dir);
        cluster.client().createVdisk("disk0", 512L << 20, BLOCK, 4096);
        return cluster.client().open("disk0");
    }

    private static void assertReadsBack(ClusterVdisk d, Map<Long, byte[]> expected) {
        for (var e : expected.entrySet()) {
            ByteBuffer b = d.read(e.getKey(), WRITE_BLOCKS).join();
            byte[] got = new byte[b.remaining()];
            b.get(got);
            assertArrayEquals(e.getValue(), got, "lba " + e.getKey());
        }
    }

    private ClusterStatus awaitAllOk(ClusterConfig config, List<Integer> replicas) throws InterruptedException {
        ClusterStatus[] last = new ClusterStatus[1];
        try {
            TestCluster.waitUntil("every group ok on " + replicas, Duration.ofSeconds(60), () -> {
                last[0] = ClusterStatus.collect(config);
                return last[0].groups().stream().allMatch(g -> g.health() == ClusterStatus.Health.OK
                        && g.replicaNodeIds().stream().sorted().toList().equals(replicas));
            });
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; last status:\n" + last[0].render(), e);
        }
        return last[0];
    }

    /** Waits (while the writer runs) until some PG's leader has purged its log; returns that PG. */
    private int awaitPurgedLog(int pgs) throws Exception {
        int[] found = {-1};
        TestCluster.waitUntil("a PG leader purged its log", Duration.ofSeconds(120), () -> {
            for (int pg = 0; pg < pgs; pg++) {
                try {
                    var leader = cluster.leaderOf(cluster.pgGroup(pg));
                    if (leader.isPresent() && cluster.division(leader.get(), cluster.pgGroup(pg)).getRaftLog().getStartIndex() > 1) {
                        found[0] = pg;
                        return true;
                    }
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
            return false;
        });
        return found[0];
    }

    /**
     * Reads node {@code nodeId}'s own engines (not through a leader): once it has applied what
     * each PG's leader applied, every acknowledged write is in the PG that placement gives it.
     */
    private void assertEngineHolds(int nodeId, ClusterVdisk disk, Map<Long, byte[]> acked) throws Exception {
        io.basalt.cluster.Placement placement = new io.basalt.cluster.Placement(cluster.config());
        int pgs = cluster.config().pgCount();
        for (int pg = 0; pg < pgs; pg++) {
            var group = cluster.pgGroup(pg);
            int leader = cluster.waitForLeader(group, Duration.ofSeconds(20));
            try {
                TestCluster.waitUntil("node " + nodeId + " applied pg-" + pg, Duration.ofSeconds(60), () -> {
                    try {
                        return cluster.division(nodeId, group).getInfo().getLastAppliedIndex()
                                >= cluster.division(leader, group).getInfo().getLastAppliedIndex();
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
            } catch (AssertionError e) {
                throw new AssertionError(e.getMessage() + "; node " + nodeId + ": " + describe(nodeId, group) + "; leader node " + leader
                        + ": " + describe(leader, group) + "; threads of the group sending to and on node " + nodeId + ":\n" + appenderStacks(group, nodeId)
                        + "\nRatis log of the group on node " + nodeId + " and of its appender:\n"
                        + TestCluster.ratisLog(80, group.toString(), "n" + nodeId), e);
            }
        }
        int checked = 0;
        for (var e : acked.entrySet()) {
            long grain = e.getKey() * BLOCK / 4096;
            int pg = placement.pgOf(disk.record().rootId(), grain);
            var store = io.basalt.cluster.raft.StateMachines.pgStore(cluster.division(nodeId, cluster.pgGroup(pg)).getStateMachine());
            try (var v = store.engine().open(io.basalt.cluster.pg.PgStore.engineName(disk.record().id()))) {
                ByteBuffer got = v.read(e.getKey(), WRITE_BLOCKS).join();
                byte[] bytes = new byte[got.remaining()];
                got.get(bytes);
                assertArrayEquals(e.getValue(), bytes, "lba " + e.getKey() + " in pg-" + pg + " on node " + nodeId);
                checked++;
            }
        }
        assertEquals(acked.size(), checked);
    }

    /**
     * Stacks of the threads sending {@code group} to {@code nodeId} (Ratis names them
     * "nX@group-...->nY-...") and of that node's own threads of the group ("nY@group-...").
     */
    private static String appenderStacks(org.apache.ratis.protocol.RaftGroupId group, int nodeId) {
        StringBuilder b = new StringBuilder();
        Thread.getAllStackTraces().forEach((t, stack) -> {
            if (t.getName().contains(group + "->n" + nodeId) || t.getName().startsWith("n" + nodeId + "@" + group)) {
                b.append(t.getName()).append(' ').append(t.getState()).append('\n');
                for (StackTraceElement f : stack) {
                    b.append("    at ").append(f).append('\n');
                }
            }
        });
        return b.toString();
    }

    private String describe(int nodeId, org.apache.ratis.protocol.RaftGroupId group) {
        try {
            var d = cluster.division(nodeId, group);
            var log = d.getRaftLog();
            return d.getInfo().getCurrentRole() + " term " + d.getInfo().getCurrentTerm() + " applied " + d.getInfo().getLastAppliedIndex()
                    + " commit " + log.getLastCommittedIndex() + " last " + log.getLastEntryTermIndex() + " start " + log.getStartIndex()
                    + " sm " + d.getStateMachine().getLifeCycleState() + " snapshot " + d.getStateMachine().getLatestSnapshot()
                    + " conf " + d.getRaftConf()
                    + (d.getInfo().isLeader() ? " followers " + org.apache.ratis.thirdparty.com.google.protobuf.TextFormat.shortDebugString(
                            d.getInfo().getRoleInfoProto().getLeaderInfo()) : "");
        } catch (java.io.IOException | RuntimeException e) {
            return "unknown: " + e;
        }
    }

    private List<String> log() {
        return java.util.Collections.synchronizedList(new ArrayList<>());
    }

    @Test
    void aDeadNodeIsReplacedWhileAWriterRunsAndEveryAcknowledgedWriteReadsBack() throws Exception {
        ClusterVdisk disk = start(3, 4);
        writer = new Writer(disk, 1);
        writer.awaitMoreAcks(100);

        stopNode3OnceLeadersSettled();
        writer.awaitMoreAcks(50);
        // Some PG's leader has purged the start of its log: node 4 cannot be caught up from the log alone.
        int purgedPg = awaitPurgedLog(4);
        cluster.startJoiningNode(4);
        List<String> progress = log();
        List<ClusterAdmin.Move> moves = new ClusterAdmin(cluster.config(), line -> {
            System.out.println("[admin] " + line);
            progress.add(line);
        }).replaceNode(3, 4);
        writer.awaitMoreAcks(100);
        writer.stop();
        assertNull(writer.firstFailure.get(), "no write failed during the change");

        assertEquals(List.of("meta", "pg-0", "pg-1", "pg-2", "pg-3"), moves.stream().map(ClusterAdmin.Move::group).toList());
        assertTrue(progress.stream().anyMatch(l -> l.startsWith("[5/5] pg-3: [")), progress.toString());
        ClusterStatus status = awaitAllOk(cluster.config(), List.of(1, 2, 4));
        System.out.print(status.render());
        assertEquals(5, cluster.node(4).status().size(), "node 4 holds meta and 4 PGs: " + cluster.node(4).status());
        assertReadsBack(disk, writer.acked);
        assertTrue(cluster.division(4, cluster.pgGroup(purgedPg)).getStateMachine().getLatestSnapshot() != null,
                "node 4 got pg-" + purgedPg + " by snapshot install");
        assertEngineHolds(4, disk, writer.acked);

        // An original node stops: every group's quorum now needs node 4's replica.
        cluster.stopNode(1);
        assertReadsBack(disk, writer.acked);
        Writer after = new Writer(disk, 2);
        try {
            after.awaitMoreAcks(50);
        } finally {
            after.stop();
        }
        assertNull(after.firstFailure.get(), "writes on {2, 4}");
        // A client opened now finds the groups on {1, 2, 4} from the nodes, not from the formula.
        try (ClusterClient fresh = ClusterClient.open(cluster.config())) {
            assertReadsBack(fresh.open("disk0"), after.acked);
        }
    }

    /**
     * The leader's log appender to the replica being added fails while that replica is still a
     * staging peer. Ratis 3.3.0 then drops the appender for good (it restarts only appenders of
     * peers in its configuration), still commits the new configuration, and the new replica never
     * hears from that leader again: the stuck new replica of docs/decisions/cluster-membership.md, where the
     * failure came from a snapshot purging the entries the appender was reading. The admin sees the
     * leader without an appender for the replica and has it step down; the move ends with the new
     * replica caught up, holding every acknowledged write. Without that, {@code replaceNode} would
     * wait out its 5-minute catch-up on an empty replica, past this test's timeout.
     */
    @Test
    @Timeout(value = 150, unit = TimeUnit.SECONDS)
    void aNewReplicaWhoseAppenderFailsWhileStagingIsStillCaughtUp() throws Exception {
        // No snapshot (fast tuning: one every 100,000 entries): the first thing sent to the new
        // replica is an append, while it is a staging peer.
        cluster = TestCluster.start(TestCluster.config("s", 3, 2, 3, TestCluster.fastTuning()), dir);
        cluster.client().createVdisk("disk0", 512L << 20, BLOCK, 4096);
        ClusterVdisk disk = cluster.client().open("disk0");
        writer = new Writer(disk, 11);
        writer.awaitMoreAcks(200);
        // Stopped before the move: with no appender left for node 4, pg-0's staging ends only when
        // the leader's event queue stays empty for a poll (Ratis checks a staging peer on its replies
        // or then), ~30 s under writes. Writes across moves are the other tests' subject.
        writer.stop();
        stopNode3OnceLeadersSettled();
        cluster.startJoiningNode(4);
        RaftGroupId pg0 = cluster.pgGroup(0);
        AtomicInteger appendsToNode4 = new AtomicInteger();
        CodeInjectionForTesting.put(GrpcServicesImpl.GRPC_SEND_SERVER_REQUEST, (local, remote, args) -> {
            if (args.length == 1 && args[0] instanceof AppendEntriesRequestProto p && p.getEntriesCount() > 0
                    && RaftPeerId.valueOf(p.getServerRequest().getReplyId()).equals(RaftSetup.peerId(4))
                    && RaftGroupId.valueOf(p.getServerRequest().getRaftGroupId().getId()).equals(pg0)
                    && appendsToNode4.getAndIncrement() == 0) {
                throw new IllegalStateException("injected: pg-0's first append to node 4 fails in the leader's appender");
            }
            return false;
        });
        List<String> progress = log();
        try {
            new ClusterAdmin(cluster.config(), line -> {
                System.out.println("[admin] " + line);
                progress.add(line);
            }).replaceNode(3, 4);
        } finally {
            CodeInjectionForTesting.remove(GrpcServicesImpl.GRPC_SEND_SERVER_REQUEST);
        }
        assertNull(writer.firstFailure.get(), "no write failed");
        assertTrue(appendsToNode4.get() > 1, "the injected failure happened, and node 4 got appends after it: " + appendsToNode4);
        assertTrue(progress.stream().anyMatch(l -> l.startsWith("pg-0: leader node") && l.contains("dropped its log appender")),
                "the admin saw pg-0's leader without an appender for node 4: " + progress);
        assertEngineHolds(4, disk, writer.acked);
    }

    /**
     * A node replaced while it was down comes back with its old data: copies of every group in
     * configurations that no longer hold it. It must not disturb the groups (no write fails, no
     * leader loses its term to its elections, every group stays ok on its new replicas), and it
     * drops those stale copies by itself, as a node removed while up gives them up (Ceph's OSDs
     * delete stray PG copies the same way once the map no longer maps the PG to them).
     */
    @Test
    void aReplacedNodeThatComesBackDropsItsStaleCopiesAndDisturbsNothing() throws Exception {
        ClusterVdisk disk = start(3, 3);
        writer = new Writer(disk, 5);
        writer.awaitMoreAcks(100);
        stopNode3OnceLeadersSettled();
        writer.awaitMoreAcks(50);
        cluster.startJoiningNode(4);
        new ClusterAdmin(cluster.config(), line -> System.out.println("[admin] " + line)).replaceNode(3, 4);
        writer.awaitMoreAcks(50);
        writer.stop();
        assertNull(writer.firstFailure.get(), "no write failed during the replacement");
        // Node 4 took node 3's priorities: its preferred leaderships move to it once it has caught
        // up, each a new term. Let that finish before counting terms.
        TestCluster.waitUntil("every group led by its preferred peer", Duration.ofSeconds(60), this::preferredLeadersLead);
        Map<String, Long> termsBefore = terms(1);
        writer = new Writer(disk, 6);
        writer.awaitMoreAcks(50);

        cluster.startNode(3); // with its old data, and the old cluster file that still lists it
        TestCluster.waitUntil("node 3 dropped its stale copies", Duration.ofSeconds(90), () -> {
            try {
                return cluster.node(3).status().isEmpty();
            } catch (java.io.IOException e) {
                return false;
            }
        });
        writer.awaitMoreAcks(100);
        writer.stop();
        assertNull(writer.firstFailure.get(), "no write failed while the stale node ran");
        assertEquals(termsBefore, terms(1), "the stale node's elections took no leader's term");
        try (Stream<Path> left = Files.list(dir.resolve("node3").resolve("raft"))) {
            assertEquals(List.of(), left.filter(Files::isDirectory).toList(), "node 3's stale group directories are deleted");
        }
        ClusterConfig without3 = cluster.config().withoutNode(3);
        System.out.print(awaitAllOk(without3, List.of(1, 2, 4)).render());
        assertReadsBack(disk, writer.acked);
        // Restarted once more it stays empty: nothing is re-created from the bootstrap formula.
        cluster.stopNode(3);
        cluster.startNode(3);
        assertEquals(List.of(), cluster.node(3).status());
    }

    /**
     * Stops node 3 once every group is led by its preferred peer. Ratis 3.3.0 hands a group's
     * leadership to a peer of higher priority as soon as that peer is up to date; when that peer
     * dies at that moment the hand-over can fail at once, and the leader is then left refusing
     * every write and configuration change with {@code LeaderSteppingDownException} for the rest of
     * its term (seen in a run of this test: docs/decisions/cluster-membership.md, "A leader stuck stepping
     * down"). These tests replace a dead node; that open Ratis bug is not what they are about.
     */
    private void stopNode3OnceLeadersSettled() throws Exception {
        TestCluster.waitUntil("every group led by its preferred peer", Duration.ofSeconds(60), this::preferredLeadersLead);
        cluster.stopNode(3);
    }

    /** True when node 1 sees every group it holds led by the peer of highest priority in it. */
    private boolean preferredLeadersLead() {
        try {
            for (org.apache.ratis.protocol.RaftGroupId id : cluster.node(1).server().getGroupIds()) {
                var d = cluster.division(1, id);
                var preferred = d.getRaftConf().getCurrentPeers().stream()
                        .max(java.util.Comparator.comparingInt(org.apache.ratis.protocol.RaftPeer::getPriority)).orElseThrow();
                if (!preferred.getId().equals(d.getInfo().getLeaderId()) && !(d.getInfo().isLeader() && preferred.getId().equals(d.getId()))) {
                    return false;
                }
            }
            return true;
        } catch (java.io.IOException e) {
            return false;
        }
    }

    private Map<String, Long> terms(int nodeId) throws java.io.IOException {
        Map<String, Long> terms = new java.util.TreeMap<>();
        cluster.node(nodeId).status().forEach(g -> terms.put(g.group(), g.term()));
        return terms;
    }

    @Test
    void anAddedNodeTakesReplicasAndARemovedNodeGivesThemAllUp() throws Exception {
        ClusterVdisk disk = start(3, 3);
        writer = new Writer(disk, 3);
        writer.awaitMoreAcks(100);

        cluster.startJoiningNode(4);
        ClusterAdmin admin = new ClusterAdmin(cluster.config(), line -> System.out.println("[admin] " + line));
        List<ClusterAdmin.Move> added = admin.addNode(4);
        writer.awaitMoreAcks(50);
        // 3 PGs x 3 replicas over 4 nodes: node 4 takes floor(9 / 4) = 2.
        assertEquals(2, added.size(), added.toString());
        assertTrue(added.stream().allMatch(m -> m.to() == 4 && !m.before().contains(4)), added.toString());
        ClusterStatus afterAdd = ClusterStatus.collect(cluster.config());
        assertEquals(2, afterAdd.groups().stream().filter(g -> g.name().startsWith("pg-") && g.replicaNodeIds().contains(4)).count(),
                afterAdd.render());

        List<ClusterAdmin.Move> removed = admin.removeNode(1);
        writer.awaitMoreAcks(50);
        writer.stop();
        assertNull(writer.firstFailure.get(), "no write failed during the changes");
        assertTrue(removed.stream().allMatch(m -> m.from() == 1 && m.to() != 1), removed.toString());
        assertTrue(removed.stream().anyMatch(m -> m.group().equals("meta")), "node 1 was a meta voter: " + removed);

        // Node 1 holds nothing now, and the removed replicas' directories are gone.
        assertEquals(List.of(), cluster.node(1).status());
        try (Stream<Path> left = Files.list(dir.resolve("node1").resolve("raft"))) {
            assertEquals(List.of(), left.filter(Files::isDirectory).toList());
        }
        cluster.stopNode(1);
        ClusterConfig without1 = cluster.config().withoutNode(1);
        ClusterStatus status = awaitAllOk(without1, List.of(2, 3, 4));
        System.out.print(status.render());
        assertReadsBack(disk, writer.acked);
        try (ClusterClient fresh = ClusterClient.open(without1)) {
            assertReadsBack(fresh.open("disk0"), writer.acked);
        }
        // The restarted node 4 comes back with the groups it holds now (not the bootstrap formula).
        List<String> before = cluster.node(4).status().stream().map(g -> g.group()).toList();
        cluster.stopNode(4);
        cluster.startNode(4);
        assertEquals(before, cluster.node(4).status().stream().map(g -> g.group()).toList());
        awaitAllOk(without1, List.of(2, 3, 4));
    }


    @Test
    void theMetaGroupGrowsToThreeVotersWhenAOneNodeClusterReachesThreeNodes() throws Exception {
        cluster = TestCluster.start(TestCluster.config("g", 1, 2, 1, TestCluster.fastTuning()), dir);
        // 256 MiB: 32,768 distinct 8 KiB addresses, enough for the writer to outlast the move
        // (at 64 MiB a quick run wrote them all before the test stopped it).
        cluster.client().createVdisk("disk0", 256L << 20, BLOCK, 4096);
        ClusterVdisk disk = cluster.client().open("disk0");
        Writer w = new Writer(disk, 9);
        writer = w;
        w.awaitMoreAcks(100);

        // A sole replica moves in two steps ([1] -> [1, 2] -> [2]) while the writer runs: Ratis
        // refuses [1] -> [2] in one.
        cluster.startJoiningNode(2);
        new ClusterAdmin(cluster.config(), line -> System.out.println("[admin] " + line)).addNode(2);
        w.awaitMoreAcks(50);
        w.stop();
        assertNull(w.firstFailure.get(), "no write failed during the move");
        assertEquals(List.of(1), metaVoters(), "two nodes: one voter still (two would halt on either's loss)");

        cluster.startJoiningNode(3);
        new ClusterAdmin(cluster.config(), line -> System.out.println("[admin] " + line)).addNode(3);
        assertEquals(List.of(1, 2, 3), metaVoters());
        assertReadsBack(disk, w.acked);

        // Node 1 started the cluster alone; now the namespace survives losing it.
        cluster.stopNode(1);
        try (ClusterClient c = ClusterClient.open(cluster.config().withoutNode(1))) {
            assertTrue(c.vdisk("disk0").isPresent(), "the meta group answers without node 1");
        }
    }

    private List<Integer> metaVoters() {
        ClusterStatus s = ClusterStatus.collect(cluster.config());
        return s.groups().stream().filter(g -> g.name().equals("meta")).findFirst().orElseThrow().replicaNodeIds().stream().sorted().toList();
    }
}
