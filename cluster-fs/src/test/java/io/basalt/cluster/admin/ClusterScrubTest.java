package io.basalt.cluster.admin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletionException;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.TestCluster;
import io.basalt.cluster.client.ClusterVdisk;
import io.basalt.cluster.meta.VdiskRecord;
import io.basalt.cluster.pg.BitRotForTest;
import io.basalt.cluster.pg.PgStore;
import io.basalt.cluster.pg.ScrubCodec;
import io.basalt.cluster.probe.ScrubCalls;
import io.basalt.cluster.raft.StateMachines;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.store.GrainScrub;
import io.basalt.vdisk.store.GrainScrub.GrainKey;

/**
 * Scrub and repair on a 3-node cluster with one PG on all three nodes: a grain version rotted on
 * one replica's store (its frame's bytes flipped under the engine) is never read back as data, is
 * found by the scrub and repaired from a healthy replica until all three hold equal bytes; rotted
 * on every replica it is reported unrepairable and its reads keep failing.
 */
class ClusterScrubTest {
    private static final int BLOCK = 4096;
    private static final int GRAINS = 64;
    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private static final Duration RUN_MAX = Duration.ofSeconds(60);

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
    void rottenGrainIsNeverReadBackAndIsRepairedFromAHealthyReplica() throws Exception {
        byte[] data = start();
        VdiskRecord rec = cluster.client().vdisk("d").orElseThrow();
        ClusterVdisk d = cluster.client().open("d");
        int leader = cluster.waitForLeader(cluster.pgGroup(0), Duration.ofSeconds(10));
        GrainKey key = rot(leader, rec.id(), 5);

        // Reads go to the leader, whose copy is bad: the read fails, it never returns the rotten bytes.
        CompletionException e = assertThrows(CompletionException.class, () -> d.read(5, 1).join());
        BlockDeviceException cause = assertInstanceOf(BlockDeviceException.class, e.getCause());
        assertEquals(BlockDeviceException.Kind.CORRUPTION, cause.kind(), cause.getMessage());
        assertTrue(cause.getMessage().contains("checksum mismatch"), cause.getMessage());

        // The failed read asked the leader's scrub for a pass, which repairs the grain from a follower.
        TestCluster.waitUntil("the leader repaired the grain", Duration.ofSeconds(20), () -> totals().repaired() == 1);
        assertArrayEquals(slice(data, 5, 1), read(d, 5, 1));
        assertReplicasEqual(rec.id(), key);

        // A follower's rotten copy is found by an operator's scrub and repaired the same way.
        int follower = leader % 3 + 1;
        TestCluster.waitUntil("the read's pass ended", Duration.ofSeconds(20),
                () -> ClusterScrub.byNode(ClusterScrub.ask(cluster.config(), false, -1, TIMEOUT)).stream().noneMatch(ClusterScrub.NodeScrub::running));
        GrainKey other = rot(follower, rec.id(), 40);
        ClusterScrub.Summary s = ClusterScrub.run(cluster.config(), -1, TIMEOUT, RUN_MAX, line -> {});
        assertEquals(3L * GRAINS, s.grainsChecked(), s.toString());
        assertEquals(1, s.badFound(), s.toString());
        assertEquals(1, s.repaired(), s.toString());
        assertEquals(0, s.unrepairable(), s.toString());
        assertReplicasEqual(rec.id(), other);
        assertArrayEquals(data, read(d, 0, GRAINS));

        ClusterScrub.NodeScrub n = ClusterScrub.byNode(ClusterScrub.ask(cluster.config(), false, -1, TIMEOUT)).get(follower - 1);
        assertEquals(1, n.repaired());
        assertTrue(n.lastPassEndMillis() > 0, n.toString());
        assertTrue(ClusterScrub.render(List.of(n)).contains("REPAIRED"));
    }

    @Test
    void grainRottenOnEveryReplicaIsReportedUnrepairableAndItsReadsFail() throws Exception {
        start();
        VdiskRecord rec = cluster.client().vdisk("d").orElseThrow();
        List<byte[]> rotten = new ArrayList<>();
        GrainKey key = null;
        for (int node = 1; node <= 3; node++) {
            key = rot(node, rec.id(), 7);
            rotten.add(GrainScrub.frame(store(node).engine(), key).orElseThrow());
        }

        ClusterScrub.Summary s = ClusterScrub.run(cluster.config(), rec.id(), TIMEOUT, RUN_MAX, line -> {});
        assertEquals(3, s.badFound(), s.toString());
        assertEquals(0, s.repaired(), s.toString());
        assertEquals(3, s.unrepairable(), s.toString());
        for (int node = 1; node <= 3; node++) {
            assertArrayEquals(rotten.get(node - 1), GrainScrub.frame(store(node).engine(), key).orElseThrow(), "no data invented on node " + node);
        }
        ClusterVdisk d = cluster.client().open("d");
        CompletionException e = assertThrows(CompletionException.class, () -> d.read(7, 1).join());
        assertEquals(BlockDeviceException.Kind.CORRUPTION, assertInstanceOf(BlockDeviceException.class, e.getCause()).kind());
    }

    /**
     * A node's own client reads a sole replica straight from its store, without the state
     * machine: a checksum mismatch there fails the read with CORRUPTION and asks the replica's
     * scrub for a pass too (no peer to repair from, so the pass reports it unrepairable).
     */
    @Test
    void aReadOfTheNodesOwnSoleReplicaThatMeetsRotAsksForAPass() throws Exception {
        start(1);
        VdiskRecord rec = cluster.client().vdisk("d").orElseThrow();
        rot(1, rec.id(), 12);
        try (io.basalt.cluster.client.ClusterClient local = io.basalt.cluster.client.ClusterClient.open(cluster.config(), cluster.node(1))) {
            ClusterVdisk d = local.open("d");
            CompletionException e = assertThrows(CompletionException.class, () -> d.read(12, 1).join());
            assertEquals(BlockDeviceException.Kind.CORRUPTION, assertInstanceOf(BlockDeviceException.class, e.getCause()).kind());
            TestCluster.waitUntil("the read's pass found the grain", Duration.ofSeconds(20), () -> totals().unrepairable() == 1);
            assertEquals(1, totals().badFound());
        }
    }

    /**
     * The bit-rot nemesis's way in (docs/chaos.md): a node refuses a rot request by name unless
     * it runs with {@link BitRotForTest#PROPERTY}; allowed, it rots one replica's newest version
     * of the grain, which the scrub then repairs from a healthy one.
     */
    @Test
    void aRotRequestIsRefusedUnlessTheNodeAllowsItAndRotsOneReplica() throws Exception {
        byte[] data = start();
        VdiskRecord rec = cluster.client().vdisk("d").orElseThrow();
        int node = cluster.waitForLeader(cluster.pgGroup(0), Duration.ofSeconds(10)) % 3 + 1; // a follower
        org.apache.ratis.protocol.RaftPeer peer = org.apache.ratis.protocol.RaftPeer.newBuilder().setId(io.basalt.cluster.raft.RaftSetup.peerId(node))
                .setAddress(cluster.config().node(node).address()).build();
        ScrubCodec.RotForTest request = new ScrubCodec.RotForTest(rec.id(), 20);
        java.io.IOException refused = assertThrows(java.io.IOException.class,
                () -> ScrubCalls.rotForTest(cluster.config(), cluster.pgGroup(0), peer, request, TIMEOUT));
        assertTrue(refused.getMessage().contains(BitRotForTest.PROPERTY), refused.getMessage());

        System.setProperty(BitRotForTest.PROPERTY, "true");
        ScrubCodec.Rotted rotted;
        try {
            rotted = ScrubCalls.rotForTest(cluster.config(), cluster.pgGroup(0), peer, request, TIMEOUT);
        } finally {
            System.clearProperty(BitRotForTest.PROPERTY);
        }
        assertTrue(rotted.present(), rotted.toString());
        GrainKey key = headKey(store(node), GrainScrub.vdiskId(store(node).engine(), PgStore.engineName(rec.id())).orElseThrow(), 20);
        assertEquals(key.epoch(), rotted.epoch());
        byte[] stored = GrainScrub.frame(store(node).engine(), key).orElseThrow();
        assertArrayEquals(bytes(rotted.frame()), stored, "the reply names the bytes it wrote");
        assertTrue(GrainScrub.check(stored, BLOCK) != null, "the stored frame no longer decodes");

        ClusterScrub.Summary s = ClusterScrub.run(cluster.config(), rec.id(), TIMEOUT, RUN_MAX, line -> {});
        assertEquals(1, s.badFound(), s.toString());
        assertEquals(1, s.repaired(), s.toString());
        assertReplicasEqual(rec.id(), key);
        assertArrayEquals(data, read(cluster.client().open("d"), 0, GRAINS));
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    /** Starts the cluster and writes {@value #GRAINS} grains of random data to vdisk "d"; returns them. */
    private byte[] start() throws Exception {
        return start(3);
    }

    /** As above on {@code nodes} nodes (one PG on min(3, nodes) of them). */
    private byte[] start(int nodes) throws Exception {
        cluster = TestCluster.start(TestCluster.config("t", nodes, 1, Math.min(3, nodes), TestCluster.fastTuning()), dir);
        cluster.waitForAllLeaders(Duration.ofSeconds(20));
        cluster.client().createVdisk("d", 16L << 20, BLOCK, BLOCK);
        byte[] data = new byte[GRAINS * BLOCK];
        new Random(9).nextBytes(data);
        cluster.client().open("d").write(0, ByteBuffer.wrap(data), false).join();
        long commit = cluster.division(1, cluster.pgGroup(0)).getInfo().getLastAppliedIndex();
        TestCluster.waitUntil("every replica applied the writes", Duration.ofSeconds(10),
                () -> java.util.stream.IntStream.rangeClosed(1, nodes).allMatch(n -> applied(n) >= commit));
        return data;
    }

    /** Flips one bit in the stored frame of grain {@code grain}'s head version on {@code node}'s replica. */
    private GrainKey rot(int node, long vdiskId, long grain) throws Exception {
        PgStore store = store(node);
        long engineId = GrainScrub.vdiskId(store.engine(), PgStore.engineName(vdiskId)).orElseThrow();
        GrainKey key = headKey(store, engineId, grain);
        byte[] frame = GrainScrub.frame(store.engine(), key).orElseThrow();
        frame[frame.length / 2] ^= 0x10;
        GrainScrub.overwriteForTest(store.engine(), key, frame);
        return key;
    }

    private static GrainKey headKey(PgStore store, long engineId, long grain) {
        for (long epoch = 0; epoch < 4; epoch++) {
            GrainKey k = new GrainKey(engineId, grain, epoch);
            if (GrainScrub.frame(store.engine(), k).isPresent()) {
                return k;
            }
        }
        throw new AssertionError("no stored version of grain " + grain);
    }

    private void assertReplicasEqual(long vdiskId, GrainKey key) throws Exception {
        byte[] first = GrainScrub.frame(store(1).engine(), key).orElseThrow();
        assertTrue(GrainScrub.check(first, BLOCK) == null, "node 1 holds a good frame");
        for (int node = 2; node <= 3; node++) {
            assertArrayEquals(first, GrainScrub.frame(store(node).engine(), key).orElseThrow(), "node " + node + " vs node 1, vdisk " + vdiskId);
        }
    }

    private ClusterScrub.NodeScrub totals() {
        List<ClusterScrub.NodeScrub> nodes = ClusterScrub.byNode(ClusterScrub.ask(cluster.config(), false, -1, TIMEOUT));
        return new ClusterScrub.NodeScrub(0, 0, 0, nodes.stream().mapToLong(ClusterScrub.NodeScrub::grainsChecked).sum(), 0,
                nodes.stream().mapToLong(ClusterScrub.NodeScrub::badFound).sum(), nodes.stream().mapToLong(ClusterScrub.NodeScrub::repaired).sum(),
                nodes.stream().mapToLong(ClusterScrub.NodeScrub::unrepairable).sum(), false, 0);
    }

    private PgStore store(int node) throws Exception {
        return StateMachines.pgStore(cluster.division(node, cluster.pgGroup(0)).getStateMachine());
    }

    private long applied(int node) {
        try {
            return store(node).appliedIndex();
        } catch (Exception e) {
            return -1;
        }
    }

    private static byte[] read(ClusterVdisk d, long lba, int blocks) {
        ByteBuffer b = d.read(lba, blocks).join();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    private static byte[] slice(byte[] data, int grain, int grains) {
        return java.util.Arrays.copyOfRange(data, grain * BLOCK, (grain + grains) * BLOCK);
    }
}
