package io.basalt.cluster.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.TestCluster;
import io.basalt.cluster.pg.PgStore;
import io.basalt.cluster.raft.StateMachines;
import io.basalt.vdisk.store.Extent;
import io.basalt.vdisk.store.Usage;

/** Remove, rollback, diff and usage of a vdisk whose grains are spread over several PGs. */
class ClusterNamespaceTest {
    private static final int BLOCK = 4096;
    private static final int STRIPE_BLOCKS = 256; // 256 grains of 4 KiB
    private static final long STRIPE_BYTES = (long) STRIPE_BLOCKS * BLOCK;
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
    void diffUsageRollbackAndRemoveSpanEveryPg() throws Exception {
        cluster = TestCluster.start(TestCluster.config("t", 3, 4, 3, TestCluster.fastTuning()), dir);
        ClusterClient c = cluster.client();
        c.createVdisk("d", 64L << 20, BLOCK, BLOCK);
        ClusterVdisk d = c.open("d");
        Random r = new Random(5);
        int stripes = 16;
        byte[][] v1 = new byte[stripes][];
        Set<Integer> pgs = new HashSet<>();
        for (int s = 0; s < stripes; s++) {
            v1[s] = new byte[BLOCK];
            r.nextBytes(v1[s]);
            d.write((long) s * STRIPE_BLOCKS, ByteBuffer.wrap(v1[s]), false).join();
            pgs.add(d.pieces((long) s * STRIPE_BLOCKS, 1).get(0).pg());
        }
        assertTrue(pgs.size() > 1, "the stripes cover several PGs: " + pgs);
        Usage u = c.usage("d");
        assertEquals(64L << 20, u.provisionedBytes());
        assertEquals((long) stripes * BLOCK, u.usedBytes(), "one 4 KiB grain per stripe, summed over the PGs");

        d.snapshot("s1");
        // Overwrite the odd stripes: the diff lists exactly those, in offset order, from every PG.
        List<Extent> expected = new ArrayList<>();
        for (int s = 1; s < stripes; s += 2) {
            byte[] b = new byte[BLOCK];
            r.nextBytes(b);
            d.write((long) s * STRIPE_BLOCKS, ByteBuffer.wrap(b), false).join();
            expected.add(new Extent(s * STRIPE_BYTES, BLOCK, true));
        }
        assertEquals(expected, c.diff("d", "s1", null));
        // The snapshot still reads as it was, from every PG, while the head moved on; it refuses writes.
        try (ClusterVdisk s1 = c.openSnapshot("d", "s1")) {
            assertTrue(s1.readOnly());
            for (int s = 0; s < stripes; s++) {
                assertArrayEquals(v1[s], bytes(s1.read((long) s * STRIPE_BLOCKS, 1).join()), "snapshot stripe " + s);
            }
            var refusal = assertThrows(java.util.concurrent.CompletionException.class,
                    () -> s1.write(0, ByteBuffer.wrap(new byte[BLOCK]), false).join());
            assertEquals(io.basalt.vdisk.BlockDeviceException.Kind.READ_ONLY, ((io.basalt.vdisk.BlockDeviceException) refusal.getCause()).kind());
        }
        assertThrows(IllegalArgumentException.class, () -> c.openSnapshot("d", "nope"));
        assertEquals(stripes, c.diff("d", null, null).size(), "everything written, stripes apart: one extent each");
        assertThrows(IllegalArgumentException.class, () -> c.diff("d", "nope", null));

        c.rollback("d", "s1");
        for (int s = 0; s < stripes; s++) {
            assertArrayEquals(v1[s], bytes(d.read((long) s * STRIPE_BLOCKS, 1).join()), "stripe " + s + " after rollback");
        }
        assertEquals(List.of(), c.diff("d", "s1", null));

        c.cloneVdisk("d", "s1", "child");
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> c.removeSnapshot("d", "s1"));
        assertTrue(refused.getMessage().contains("child"), refused.getMessage());
        refused = assertThrows(IllegalArgumentException.class, () -> c.removeVdisk("d"));
        assertTrue(refused.getMessage().contains("snapshots"), refused.getMessage());
        assertArrayEquals(v1[3], bytes(d.read(3L * STRIPE_BLOCKS, 1).join()), "a refused removal changed nothing");

        // Flatten: the clone copies what it inherits on every PG, and no longer needs d@s1.
        byte[] own = new byte[BLOCK];
        r.nextBytes(own);
        ClusterVdisk child = c.open("child");
        child.write(0, ByteBuffer.wrap(own), false).join();
        int[] pgsDone = {0};
        assertTrue(c.flatten("child", n -> pgsDone[0] = n).parent().isEmpty());
        assertEquals(4, pgsDone[0], "progress after every PG");
        assertThrows(IllegalArgumentException.class, () -> c.flatten("child", n -> { }), "not a clone any more");
        c.removeSnapshot("d", "s1");
        assertTrue(c.vdisk("d").orElseThrow().snapshots().isEmpty());
        long id = d.record().id();
        d.close();
        c.removeVdisk("d");
        assertArrayEquals(own, bytes(child.read(0, 1).join()), "the clone's own write");
        for (int s = 1; s < stripes; s++) {
            assertArrayEquals(v1[s], bytes(child.read((long) s * STRIPE_BLOCKS, 1).join()), "inherited stripe " + s + " after the parent went");
        }
        child.close();
        c.removeVdisk("child");
        assertFalse(c.vdisk("d").isPresent());
        assertEquals(List.of(), c.vdisks());
        for (int node = 1; node <= 3; node++) {
            for (int pg = 0; pg < 4; pg++) {
                PgStore store = StateMachines.pgStore(cluster.division(node, cluster.pgGroup(pg)).getStateMachine());
                int n = node;
                int p = pg;
                TestCluster.waitUntil("node " + n + " pg-" + p + " dropped the vdisk", java.time.Duration.ofSeconds(10),
                        () -> !store.engine().exists(PgStore.engineName(id)));
            }
        }
        assertThrows(IllegalArgumentException.class, () -> c.removeVdisk("d"));
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }
}
