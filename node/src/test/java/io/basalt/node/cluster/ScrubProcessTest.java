package io.basalt.node.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.apache.ratis.protocol.RaftPeer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.Placement;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.client.ClusterVdisk;
import io.basalt.cluster.meta.VdiskRecord;
import io.basalt.cluster.pg.BitRotForTest;
import io.basalt.cluster.pg.ScrubCodec;
import io.basalt.cluster.probe.ScrubCalls;
import io.basalt.cluster.raft.RaftSetup;

/**
 * {@code basalt scrub} end to end against {@code basalt cluster up}: three node processes (run
 * with the test-only {@link BitRotForTest#PROPERTY}, so one replica's grain can be rotted while
 * they run), a grain rotted on one node's replica, then the scrub command as an operator runs it:
 * it reports the version found and repaired and exits 0, and the data reads back; rotted on every
 * replica it reports it unrepairable and exits 4.
 */
class ScrubProcessTest {
    private static final int GRAIN = 4096;
    private static final int GRAINS = 32;
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(5);
    private static final long SCRUB_SECONDS = 120;

    @TempDir
    Path dir;

    @Test
    void scrubCommandRepairsAGrainRottenOnOneReplicaAndExitsFourWhenEveryReplicaIsRotten() throws Exception {
        Map<String, String> env = Map.of(LocalCluster.NODE_JVM_OPTIONS_ENV,
                String.join(" ", LocalCluster.NODE_JVM_OPTIONS) + " -D" + BitRotForTest.PROPERTY + "=true");
        try (ClusterUp cluster = ClusterUp.start(dir, env, "16M")) {
            Path file = dir.resolve("cluster.json");
            ClusterConfig config = ClusterFile.read(file).clientConfig(file);
            byte[] data = new byte[GRAINS * GRAIN];
            new Random(4).nextBytes(data);
            try (ClusterClient client = ClusterClient.open(config)) {
                VdiskRecord rec = client.createVdisk("scrubbed", 16L << 20, 512, GRAIN);
                try (ClusterVdisk d = client.open("scrubbed")) {
                    d.write(0, ByteBuffer.wrap(data), true).join();
                }
                long grain = 9;
                int pg = new Placement(config).pgOf(rec.rootId(), grain);

                rot(config, 2, pg, rec.id(), grain);
                String out = scrub(0, "scrubbed", "--cluster", dir.toString());
                assertTrue(out.contains("1 bad, 1 repaired, 0 unrepairable"), out);
                assertTrue(out.matches("(?s).*scrub: \\d+ of \\d+ replicas done.*"), "progress printed: " + out);
                assertArrayEquals(data, read(client), "the data reads back after the repair");

                for (int node = 1; node <= 3; node++) {
                    rot(config, node, pg, rec.id(), grain);
                }
                String bad = scrub(4, "--cluster", dir.toString());
                assertTrue(bad.contains("3 bad, 0 repaired, 3 unrepairable"), bad);
            }
        }
    }

    /**
     * Rots grain {@code grain} of cluster vdisk {@code vdiskId} on node {@code node}'s replica of
     * PG {@code pg}, once that replica holds a version of it (a follower applies a moment after
     * the leader).
     */
    private static void rot(ClusterConfig config, int node, int pg, long vdiskId, long grain) throws Exception {
        RaftPeer peer = RaftPeer.newBuilder().setId(RaftSetup.peerId(node)).setAddress(config.node(node).address()).build();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            ScrubCodec.Rotted r = ScrubCalls.rotForTest(config, RaftSetup.pgGroupId(config, pg), peer, new ScrubCodec.RotForTest(vdiskId, grain),
                    CALL_TIMEOUT);
            if (r.present()) {
                return;
            }
            assertTrue(System.nanoTime() < deadline, "node " + node + " holds no version of grain " + grain + " after 30 s");
            Thread.sleep(200);
        }
    }

    /** {@code basalt scrub ARGS} to its end; asserts its exit code; returns its output. */
    private String scrub(int expectedExit, String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of("scrub"));
        command.addAll(List.of(args));
        Path log = dir.resolve("scrub-" + System.nanoTime() + ".log");
        Process p = io.basalt.node.TestProcesses.basalt(command.toArray(String[]::new)).redirectOutput(log.toFile()).start();
        try {
            assertTrue(p.waitFor(SCRUB_SECONDS, TimeUnit.SECONDS), "basalt scrub did not end within " + SCRUB_SECONDS + " s");
            String text = java.nio.file.Files.readString(log, StandardCharsets.UTF_8);
            System.out.print(text);
            assertEquals(expectedExit, p.exitValue(), "exit code of basalt " + command + ": " + text);
            return text;
        } finally {
            p.destroyForcibly();
        }
    }

    private static byte[] read(ClusterClient client) {
        try (ClusterVdisk d = client.open("scrubbed")) {
            ByteBuffer b = d.read(0, GRAINS * GRAIN / 512).join();
            byte[] out = new byte[b.remaining()];
            b.get(out);
            return out;
        }
    }
}
