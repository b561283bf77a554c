package io.basalt.node.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.TestCluster;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.probe.NodeProbe;
import io.basalt.cluster.server.ClusterNode;
import io.basalt.cluster.tls.TlsIdentity;
import io.basalt.vdisk.BlockDevice;

/**
 * Mutual TLS on the cluster's gRPC port: three nodes with certificates of the cluster CA form
 * the cluster and serve writes; a node or client whose certificate another CA signed is refused
 * at the handshake, and says so.
 */
class ClusterTlsTest {
    @TempDir Path dir;

    @Test
    void nodesOfOneCaFormAClusterAndAPeerOfAnotherCaIsRefusedAtTheHandshake() throws Exception {
        ClusterConfig plain = TestCluster.config("tls", 3, 3, 3, TestCluster.fastTuning());
        List<ClusterFile.Node> book = plain.nodes().stream().map(a -> new ClusterFile.Node(a.id(), a.host(), a.port())).toList();
        Path tls = dir.resolve("tls");
        Path otherTls = dir.resolve("other-tls");
        ClusterCa.create(tls, "tls", book);
        ClusterCa.create(otherTls, "other", book);
        ClusterConfig client = plain.withTls(TlsIdentity.in(tls, ClusterCa.CLIENT));
        Map<Integer, ClusterNode> nodes = new HashMap<>();
        try {
            for (int id = 1; id <= 3; id++) {
                nodes.put(id, start(plain.withTls(TlsIdentity.in(tls, ClusterCa.nodeName(id))), id));
            }
            byte[] block = new byte[4096];
            java.util.Arrays.fill(block, (byte) 0x5a);
            try (ClusterClient c = ClusterClient.open(client)) {
                awaitMeta(c);
                c.createVdisk("v1", 8L << 20);
                try (BlockDevice d = c.open("v1")) {
                    for (int i = 0; i < 16; i++) {
                        d.write(i * (4096L / d.logicalBlockSizeBytes()), ByteBuffer.wrap(block), false).join();
                    }
                    ByteBuffer back = d.read(15 * 8L, 4096 / d.logicalBlockSizeBytes()).join();
                    byte[] got = new byte[back.remaining()];
                    back.get(got);
                    assertArrayEquals(block, got, "a write over mutual TLS reads back");
                }
            }

            // A client of another CA: the nodes refuse it at the handshake, and it says so.
            NodeProbe.NodeView foreignClient = NodeProbe.probe(plain.withTls(TlsIdentity.in(otherTls, ClusterCa.CLIENT)), 1,
                    plain.node(1).address(), Duration.ofSeconds(3));
            assertFalse(foreignClient.up(), "a client of another CA was answered");
            assertTrue(foreignClient.error().startsWith("TLS handshake refused"), foreignClient.error());
            // A client without TLS at all gets nothing either.
            assertFalse(NodeProbe.probe(plain, 1, plain.node(1).address(), Duration.ofSeconds(3)).up(), "a plaintext client was answered");

            // Node 3 comes back with a certificate of another CA: it cannot talk to its peers, nor they to it.
            nodes.remove(3).close();
            nodes.put(3, start(plain.withTls(TlsIdentity.in(otherTls, ClusterCa.nodeName(3))), 3));
            NodeProbe.NodeView third = NodeProbe.probe(client, 3, plain.node(3).address(), Duration.ofSeconds(3));
            assertTrue(!third.up() && third.error().startsWith("TLS handshake refused"), "node 3 of another CA, probed: " + third.error());
            NodeProbe.NodeView fromThird = NodeProbe.probe(plain.withTls(TlsIdentity.in(otherTls, ClusterCa.nodeName(3))), 1,
                    plain.node(1).address(), Duration.ofSeconds(3));
            assertTrue(!fromThird.up() && fromThird.error().startsWith("TLS handshake refused"), "node 1 probed by node 3's identity: " + fromThird.error());
            // The two nodes of the CA keep serving: a quorum of every group.
            try (ClusterClient c = ClusterClient.open(client); BlockDevice d = c.open("v1")) {
                d.write(0, ByteBuffer.wrap(new byte[4096]), false).join();
            }
        } finally {
            for (ClusterNode n : nodes.values()) {
                n.close();
            }
        }
    }

    private ClusterNode start(ClusterConfig config, int id) throws Exception {
        return ClusterNode.start(config, new ClusterNode.Options(id, dir.resolve("node" + id), TestCluster.SMALL_STORE));
    }

    private static void awaitMeta(ClusterClient c) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            try {
                c.vdisks();
                return;
            } catch (RuntimeException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
    }
}
