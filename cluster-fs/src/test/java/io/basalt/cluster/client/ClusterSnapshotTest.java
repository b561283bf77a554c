package io.basalt.cluster.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.TestCluster;
import io.basalt.cluster.meta.VdiskRecord;

class ClusterSnapshotTest {
    private static final int BLOCK = 4096;
    private static final int STRIPE_BLOCKS = 256; // 256 grains of 4 KiB
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
    void linkedCloneOfASnapshotReadsTheSnapshotOnEveryPg() throws Exception {
        cluster = TestCluster.start(TestCluster.config("t", 3, 4, 3, TestCluster.fastTuning()), dir);
        cluster.client().createVdisk("tmpl", 64L << 20, BLOCK, BLOCK);
        ClusterVdisk tmpl = cluster.client().open("tmpl");
        Random r = new Random(11);
        int stripes = 16;
        byte[][] before = new byte[stripes][];
        Set<Integer> pgs = new HashSet<>();
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        for (int s = 0; s < stripes; s++) {
            before[s] = new byte[BLOCK];
            r.nextBytes(before[s]);
            writes.add(tmpl.write((long) s * STRIPE_BLOCKS, ByteBuffer.wrap(before[s]), false));
            pgs.add(tmpl.pieces((long) s * STRIPE_BLOCKS, 1).get(0).pg());
        }
        assertTrue(pgs.size() > 1, "the stripes cover several PGs: " + pgs);
        // Writes still in flight when the snapshot starts are in it: the device drains them first.
        tmpl.snapshot("v1");
        writes.forEach(CompletableFuture::join);
        for (int s = 0; s < stripes; s++) {
            tmpl.write((long) s * STRIPE_BLOCKS, ByteBuffer.wrap(new byte[BLOCK]), false).join();
        }

        VdiskRecord web = cluster.client().cloneVdisk("tmpl", "v1", "web");
        assertEquals(tmpl.record().rootId(), web.rootId());
        ClusterVdisk clone = cluster.client().open("web");
        for (int s = 0; s < stripes; s++) {
            assertArrayEquals(before[s], bytes(clone.read((long) s * STRIPE_BLOCKS, 1).join()), "clone stripe " + s);
            assertArrayEquals(new byte[BLOCK], bytes(tmpl.read((long) s * STRIPE_BLOCKS, 1).join()), "parent stripe " + s);
        }
        // The clone's own writes do not reach the parent.
        byte[] mine = new byte[BLOCK];
        r.nextBytes(mine);
        clone.write(0, ByteBuffer.wrap(mine), false).join();
        assertArrayEquals(mine, bytes(clone.read(0, 1).join()));
        assertArrayEquals(new byte[BLOCK], bytes(tmpl.read(0, 1).join()));
        assertEquals(List.of("v1"), cluster.client().vdisk("tmpl").orElseThrow().snapshots().stream().map(VdiskRecord.SnapshotRecord::name).toList());
    }

    /**
     * A rollback cut short by a placement group without quorum is marked in the namespace: the
     * vdisk is not opened for I/O (it reads partly as the snapshot) and says why; once the group
     * is back, running the rollback again finishes it and every stripe reads as the snapshot.
     */
    @Test
    void aRollbackCutShortIsMarkedKeepsTheVdiskClosedAndFinishesWhenRunAgain() throws Exception {
        cluster = TestCluster.start(TestCluster.config("rb", 3, 3, 1, TestCluster.fastTuning()), dir);
        cluster.waitForAllLeaders(java.time.Duration.ofSeconds(30));
        ClusterClient client = cluster.client();
        client.createVdisk("d", 64L << 20, BLOCK, BLOCK);
        int stripes = 12;
        byte[][] snap = new byte[stripes][];
        Random r = new Random(5);
        try (ClusterVdisk d = client.open("d")) {
            for (int s = 0; s < stripes; s++) {
                snap[s] = new byte[BLOCK];
                r.nextBytes(snap[s]);
                d.write((long) s * STRIPE_BLOCKS, ByteBuffer.wrap(snap[s]), false).join();
            }
            d.snapshot("s1");
            for (int s = 0; s < stripes; s++) {
                d.write((long) s * STRIPE_BLOCKS, ByteBuffer.wrap(new byte[BLOCK]), false).join();
            }
        }
        int down = cluster.leaderOf(cluster.pgGroup(2)).orElseThrow(); // one replica per PG: its only node
        cluster.stopNode(down);
        RuntimeException cut = org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class, () -> client.rollback("d", "s1"));
        assertTrue(String.valueOf(cut.getMessage()).contains("unfinished (run it again to finish it"), String.valueOf(cut.getMessage()));
        assertEquals(java.util.Optional.of("s1"), client.vdisk("d").orElseThrow().rollingBackTo());
        io.basalt.vdisk.BlockDeviceException closed = org.junit.jupiter.api.Assertions.assertThrows(io.basalt.vdisk.BlockDeviceException.class,
                () -> client.open("d"));
        assertTrue(closed.getMessage().contains("unfinished rollback to d@s1") && closed.getMessage().contains("basalt snap rollback d@s1"),
                closed.getMessage());
        RuntimeException rm = org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class, () -> client.removeSnapshot("d", "s1"));
        assertTrue(String.valueOf(rm.getMessage()).contains("unfinished rollback"), String.valueOf(rm.getMessage()));

        cluster.startNode(down);
        cluster.waitForAllLeaders(java.time.Duration.ofSeconds(30));
        VdiskRecord done = client.rollback("d", "s1");
        assertEquals(java.util.Optional.empty(), done.rollingBackTo());
        try (ClusterVdisk d = client.open("d")) {
            for (int s = 0; s < stripes; s++) {
                assertArrayEquals(snap[s], bytes(d.read((long) s * STRIPE_BLOCKS, 1).join()), "stripe " + s + " after the finished rollback");
            }
        }
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }
}
