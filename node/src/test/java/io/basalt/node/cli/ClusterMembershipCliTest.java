package io.basalt.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.server.ClusterNode;
import io.basalt.node.cluster.ClusterFile;
import io.basalt.vdisk.store.VdiskStore;

/**
 * {@code basalt cluster replace-node} and {@code status} as an operator types them, against
 * storage nodes running in this JVM (real Ratis over loopback): node 3 stops, an empty node 4
 * joins, replace-node moves every group, the cluster file follows, status says all ok.
 */
class ClusterMembershipCliTest {
    private static final VdiskStore.Options SMALL_STORE = new VdiskStore.Options(8L << 20, 2);

    @TempDir
    Path dir;
    private final Map<Integer, ClusterNode> nodes = new TreeMap<>();

    @AfterEach
    void stopNodes() throws Exception {
        List<Exception> failures = new ArrayList<>();
        for (ClusterNode n : nodes.values()) {
            try {
                n.close();
            } catch (Exception e) {
                failures.add(e);
            }
        }
        nodes.clear();
        if (!failures.isEmpty()) {
            throw failures.get(0);
        }
    }

    private static CliResult run(String... args) {
        return CliResult.run(args);
    }


    private void start(ClusterFile file, int id, boolean join) throws Exception {
        ClusterNode.Options o = new ClusterNode.Options(id, dir.resolve("node-" + id), SMALL_STORE);
        nodes.put(id, ClusterNode.start(file.toConfig(), join ? o.joining() : o));
    }

    private static CliResult awaitStatus(Path file, String summary) throws Exception {
        CliResult last = null;
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            last = run("cluster", "status", "--config", file.toString());
            if (last.exit() == 0 && last.out().startsWith(summary)) {
                return last;
            }
            Thread.sleep(500);
        }
        throw new AssertionError("status never started with '" + summary + "'; last: " + last);
    }

    @Test
    void replaceNodeMovesEveryGroupToTheNewNodeAndUpdatesTheClusterFile() throws Exception {
        Path path = dir.resolve("cluster.json");
        List<ClusterFile.Node> addrs = new ArrayList<>();
        for (int id = 1; id <= 3; id++) {
            addrs.add(new ClusterFile.Node(id, "127.0.0.1", io.basalt.cluster.LoopbackPorts.free()));
        }
        ClusterFile file = new ClusterFile("c", 2, 3, 3, addrs);
        file.write(path);
        for (int id = 1; id <= 3; id++) {
            start(file, id, false);
        }
        awaitStatus(path, "cluster c: nodes 3 up, 0 down; groups 3 ok, 0 degraded, 0 unavailable");

        nodes.remove(3).close();
        CliResult degraded = awaitStatus(path, "cluster c: nodes 2 up, 1 down; groups 0 ok, 3 degraded, 0 unavailable");
        assertTrue(degraded.out().contains("3(down)"), degraded.out());

        int port4 = io.basalt.cluster.LoopbackPorts.free();
        start(file.withNode(new ClusterFile.Node(4, "127.0.0.1", port4)), 4, true);
        CliResult r = run("cluster", "replace-node", "--config", path.toString(), "--old", "3", "--new", "4", "--address", "127.0.0.1:" + port4);
        assertEquals(0, r.exit(), r.out() + r.err());
        assertTrue(r.out().contains("replace node 3 by node 4: 3 groups"), r.out());
        assertTrue(r.out().contains("[3/3] pg-1: ["), r.out());
        assertTrue(r.out().contains("node 3 replaced by node 4 in 3 groups"), r.out());
        assertEquals(List.of(1, 2, 4), ClusterFile.read(path).nodes().stream().map(ClusterFile.Node::id).toList());

        CliResult ok = awaitStatus(path, "cluster c: nodes 3 up, 0 down; groups 3 ok, 0 degraded, 0 unavailable");
        assertTrue(ok.out().matches("(?s).*\\npg-0 .* ok\\n.*"), ok.out());
        assertEquals(3, nodes.get(4).status().size(), "node 4 holds meta, pg-0, pg-1");

        CliResult refused = run("cluster", "remove-node", "--config", path.toString(), "--id", "1");
        assertEquals(1, refused.exit(), refused.out() + refused.err());
        assertTrue(refused.err().contains("no other node is up to take its replica"), refused.err());
    }
}
