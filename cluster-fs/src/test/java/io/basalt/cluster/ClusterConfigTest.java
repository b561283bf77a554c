package io.basalt.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.StringReader;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

import org.junit.jupiter.api.Test;

class ClusterConfigTest {
    private static Properties props(String text) throws Exception {
        Properties p = new Properties();
        p.load(new StringReader(text));
        return p;
    }

    @Test
    void readsAClusterFileWithDefaults() throws Exception {
        ClusterConfig c = ClusterConfig.fromProperties(props("""
                cluster.name=basalt
                cluster.nodes=1@127.0.0.1:9871, 2@127.0.0.1:9872,3@127.0.0.1:9873
                cluster.pg.count=16
                """));
        assertEquals(3, c.nodes().size());
        assertEquals("127.0.0.1:9872", c.node(2).address());
        assertEquals(16, c.pgCount());
        assertEquals(3, c.replicaCount());
        assertEquals(3, c.metaVoterCount());
        ClusterConfig back = ClusterConfig.fromProperties(c.toProperties());
        assertEquals(c, back);
    }

    @Test
    void errorsNameTheKeyAndTheValue() throws Exception {
        var e = assertThrows(IllegalArgumentException.class, () -> ClusterConfig.fromProperties(props("cluster.name=x\ncluster.nodes=1@h:1,two\ncluster.pg.count=4")));
        assertTrue(e.getMessage().contains("cluster.nodes item: 'two' (expected: ID@HOST:PORT)"), e.getMessage());
        var pg = assertThrows(IllegalArgumentException.class, () -> ClusterConfig.fromProperties(props("cluster.name=x\ncluster.nodes=1@h:1\ncluster.pg.count=many")));
        assertTrue(pg.getMessage().contains("cluster.pg.count: 'many' (expected: an integer)"), pg.getMessage());
        var r = assertThrows(IllegalArgumentException.class, () -> ClusterConfig.fromProperties(props("cluster.name=x\ncluster.nodes=1@h:1\ncluster.pg.count=4\ncluster.replicas=3")));
        assertTrue(r.getMessage().contains("replicaCount: 3 (expected: 1..1, the node count)"), r.getMessage());
        var missing = assertThrows(IllegalArgumentException.class, () -> ClusterConfig.fromProperties(props("cluster.nodes=1@h:1")));
        assertTrue(missing.getMessage().contains("cluster.name: missing"), missing.getMessage());
    }

    @Test
    void placementIsStableSpreadsStripesAndLeaders() throws Exception {
        ClusterConfig c = ClusterConfig.fromProperties(props("cluster.name=x\ncluster.nodes=1@h:1,2@h:2,3@h:3\ncluster.pg.count=6"));
        Placement p = new Placement(c);
        // Fixed forever: where existing data lives depends on these values.
        List<Integer> pinned = new java.util.ArrayList<>();
        for (long root = 1; root <= 3; root++) {
            for (long stripe = 0; stripe < 4; stripe++) {
                pinned.add(p.pgOf(root, stripe * 256));
            }
        }
        assertEquals(List.of(1, 1, 0, 5, 0, 1, 5, 4, 1, 0, 0, 1), pinned);
        assertEquals(p.pgOf(7, 256), p.pgOf(7, 511), "one stripe, one PG");
        Map<Integer, Integer> perPg = new HashMap<>();
        for (long stripe = 0; stripe < 6000; stripe++) {
            perPg.merge(p.pgOf(1, stripe * 256), 1, Integer::sum);
        }
        assertEquals(6, perPg.size());
        perPg.values().forEach(n -> assertTrue(n > 800 && n < 1200, "stripes per PG: " + perPg));
        Set<Integer> preferredLeaders = new HashSet<>();
        for (int pg = 0; pg < 6; pg++) {
            List<Integer> nodes = p.nodesOf(pg);
            assertEquals(3, new HashSet<>(nodes).size());
            preferredLeaders.add(nodes.get(0));
        }
        assertEquals(Set.of(1, 2, 3), preferredLeaders);
    }
}
