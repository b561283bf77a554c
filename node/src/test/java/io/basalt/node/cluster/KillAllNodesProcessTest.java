package io.basalt.node.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
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
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.admin.ClusterStatus;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.client.ClusterVdisk;

/**
 * The "acknowledged writes survive kill -9 of all nodes at once": three {@code basalt
 * node} processes, a client in this JVM keeping 32 writes in flight, every node process killed
 * with SIGKILL in the same instant mid-write, all restarted; every write the client saw
 * acknowledged reads back, through a fresh client, and the cluster takes writes again.
 *
 * <p>SIGKILL ends the processes, not the machine: what they wrote reached the page cache, so
 * this checks the recovery path (Raft log replay into stores whose RocksDB memtables were lost,
 * applied index written with the data, sessions), not fsync. Power loss is not simulated here.
 */
class KillAllNodesProcessTest {
    private static final int BLOCK = 512;
    private static final int WRITE_BLOCKS = 16;
    private static final int IN_FLIGHT = 32;

    @TempDir
    Path dir;
    private final List<Process> nodes = new ArrayList<>();

    @AfterEach
    void stopNodes() throws InterruptedException {
        for (Process p : nodes) {
            p.destroy();
        }
        for (Process p : nodes) {
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
    }

    @Test
    void acknowledgedWritesSurviveSigkillOfEveryNodeAtOnce() throws Exception {
        Path file = dir.resolve("cluster.json");
        ClusterFile.local("kill", 3, io.basalt.cluster.LoopbackPorts.freeBase(3), 3, 3).write(file);
        ClusterConfig config = ClusterFile.read(file).clientConfig(file);
        startNodes(file);
        awaitAllOk(config);

        Map<Long, byte[]> acked = new ConcurrentHashMap<>();
        AtomicLong failed = new AtomicLong();
        long[] killedAt = new long[1];
        try (ClusterClient client = ClusterClient.open(config)) {
            client.createVdisk("d", 256L << 20, BLOCK, 4096);
            ClusterVdisk disk = client.open("d");
            AtomicBoolean stop = new AtomicBoolean();
            Semaphore inFlight = new Semaphore(IN_FLIGHT);
            Thread writer = Thread.ofPlatform().name("kill-all-writer").start(() -> {
                Random r = new Random(7);
                long slots = disk.blockCount() / WRITE_BLOCKS;
                for (long i = 0; i < slots && !stop.get(); i++) {
                    long lba = i * WRITE_BLOCKS;
                    byte[] data = new byte[WRITE_BLOCKS * BLOCK];
                    r.nextBytes(data);
                    inFlight.acquireUninterruptibly();
                    disk.write(lba, ByteBuffer.wrap(data), false).whenComplete((x, ex) -> {
                        if (ex == null) {
                            acked.put(lba, data);
                        } else {
                            failed.incrementAndGet();
                        }
                        inFlight.release();
                    });
                }
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (acked.size() < 1500 && System.nanoTime() < deadline && writer.isAlive()) {
                Thread.sleep(20);
            }
            assertTrue(acked.size() >= 1500, "writes acknowledged before the kill: " + acked.size());

            // Every node at once, writes in flight.
            List<ProcessHandle> handles = nodes.stream().map(Process::toHandle).toList();
            handles.forEach(ProcessHandle::destroyForcibly);
            killedAt[0] = acked.size();
            for (Process p : nodes) {
                assertTrue(p.waitFor(20, TimeUnit.SECONDS), "a node outlived SIGKILL");
            }
            nodes.clear();
            stop.set(true);
            // Writes in flight at the kill fail once the client's I/O timeout passes.
            writer.join(TimeUnit.SECONDS.toMillis(30) + config.tuning().ioTimeout().toMillis());
            org.junit.jupiter.api.Assertions.assertFalse(writer.isAlive(), "writer finished");
            assertTrue(inFlight.tryAcquire(IN_FLIGHT, config.tuning().ioTimeout().toMillis() + 30_000, TimeUnit.MILLISECONDS),
                    "every write in flight at the kill was answered (failed or acknowledged)");
        }
        System.out.println("kill-all: " + acked.size() + " writes acknowledged (" + killedAt[0] + " when the nodes were killed), "
                + failed.get() + " failed at the kill");

        startNodes(file);
        awaitAllOk(config);
        try (ClusterClient fresh = ClusterClient.open(config)) {
            ClusterVdisk disk = fresh.open("d");
            int checked = 0;
            for (var e : acked.entrySet()) {
                ByteBuffer b = disk.read(e.getKey(), WRITE_BLOCKS).join();
                byte[] got = new byte[b.remaining()];
                b.get(got);
                assertArrayEquals(e.getValue(), got, "lba " + e.getKey() + " (acknowledged before the kill)");
                checked++;
            }
            assertEquals(acked.size(), checked);
            // The cluster takes writes again, at an address the first writer never reached.
            byte[] after = new byte[WRITE_BLOCKS * BLOCK];
            new Random(8).nextBytes(after);
            long lba = disk.blockCount() - WRITE_BLOCKS;
            disk.write(lba, ByteBuffer.wrap(after), true).join();
            ByteBuffer b = disk.read(lba, WRITE_BLOCKS).join();
            byte[] got = new byte[b.remaining()];
            b.get(got);
            assertArrayEquals(after, got, "a write after the restart");
        }
    }

    private void startNodes(Path file) throws IOException {
        for (int id = 1; id <= 3; id++) {
            nodes.add(io.basalt.node.TestProcesses.basalt("node", "--config", file.toString(), "--id", Integer.toString(id))
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("node-" + id + ".log").toFile())).start());
        }
    }

    private static void awaitAllOk(ClusterConfig config) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        ClusterStatus last = null;
        while (System.nanoTime() < deadline) {
            last = ClusterStatus.collect(config);
            if (last.groups().stream().allMatch(g -> g.health() == ClusterStatus.Health.OK)) {
                return;
            }
            Thread.sleep(500);
        }
        throw new AssertionError("cluster not ok within 120 s:\n" + (last == null ? "" : last.render()));
    }
}
