package io.basalt.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.LoopbackPorts;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.node.cli.CliResult;
import io.basalt.node.mirror.ClusterMirrorStore;
import io.basalt.replication.ReplicaRecord;
import io.basalt.vdisk.BlockDevice;

/**
 * The recovery point of mirroring between two clusters, each {@code basalt cluster up} (three
 * node processes, three placement groups) with its mirroring gateway ({@code basalt serve
 * --cluster DIR --mirror-port P}), while a writer writes 64 KiB every 10 ms (6.4 MB/s;
 * {@code -Dbasalt.mirror.writePeriodMs}) to site A's vdisk: every 100 ms it samples the age of the newest snapshot site B holds complete (its
 * creation time on A). A measurement, printed, not asserted; the test checks that rounds crossed
 * and that B's replica equals A's copy at the snapshot both hold. Opt-in, it takes minutes:
 * {@code -Dbasalt.mirror.clusterRpoSeconds=180}.
 */
@EnabledIfSystemProperty(named = "basalt.mirror.clusterRpoSeconds", matches = "\\d+")
class ClusterMirrorProcessTest {
    private static final String VDISK = "vm1";
    private static final long WRITE_PERIOD_MS = Long.getLong("basalt.mirror.writePeriodMs", 10);
    private static final int WRITE_BYTES = 64 << 10;
    private static final int WRITES_INFLIGHT_MAX = 16;
    private static final String INTERVAL = System.getProperty("basalt.mirror.interval", "1s");

    @TempDir
    Path dir;

    @Test
    void measuresTheRecoveryPointBetweenTwoClusters() throws Exception {
        long seconds = Long.getLong("basalt.mirror.clusterRpoSeconds");
        Path secret = dir.resolve("mirror.secret");
        Files.writeString(secret, java.util.Base64.getEncoder().encodeToString(new byte[32]) + "\n");
        int portA = LoopbackPorts.free();
        int portB = LoopbackPorts.free();
        try (ClusterUp a = ClusterUp.start(dir.resolve("a"), "256M", "--vdisk", VDISK);
             ClusterUp b = ClusterUp.start(dir.resolve("b"), "64M", "--vdisk", "unused")) {
            String ca = a.dir().toString();
            String cb = b.dir().toString();
            cli("site", "init", "site-a", "--cluster", ca);
            cli("site", "init", "site-b", "--cluster", cb);
            cli("site", "peer", "add", "site-b", "127.0.0.1:" + portB, "--secret-file", secret.toString(), "--cluster", ca);
            cli("site", "peer", "add", "site-a", "127.0.0.1:" + portA, "--secret-file", secret.toString(), "--cluster", cb);
            a.basalt("serve", "--cluster", ca, "--portal", "127.0.0.1:0", "--api-listen", "off", "--mirror-port", Integer.toString(portA),
                    "--mirror-bind", "127.0.0.1");
            b.basalt("serve", "--cluster", cb, "--portal", "127.0.0.1:0", "--api-listen", "off", "--mirror-port", Integer.toString(portB),
                    "--mirror-bind", "127.0.0.1");
            awaitControlFile(a.dir());
            awaitControlFile(b.dir());
            // Through the gateway's control file: the command runs inside site A's mirroring gateway.
            cli("mirror", "enable", VDISK, "--to", "site-b", "--interval", INTERVAL, "--cluster", ca);
            try (ClusterClient clientA = client(a.dir()); ClusterClient clientB = client(b.dir())) {
                ClusterMirrorStore replicas = ClusterMirrorStore.readOnly(clientB);
                await("the first full sync", Duration.ofMinutes(3), () -> lastOnB(replicas).isPresent());
                measure(clientA, replicas, seconds, ca);
                // The writer stopped: once B holds a snapshot A took after that, B's copy equals A's head.
                long stoppedMs = System.currentTimeMillis();
                await("a round taken after the writer stopped", Duration.ofMinutes(1), () -> lastOnB(replicas)
                        .flatMap(s -> clientA.vdisk(VDISK).orElseThrow().snapshot(s)).filter(s -> s.createdMs() > stoppedMs).isPresent());
                System.out.println(cli("mirror", "status", "--cluster", ca));
                // Rounds go on while idle, each pruning the snapshot before it: stop them (no round is in flight once this returns).
                cli("mirror", "disable", VDISK, "--cluster", ca);
                assertSameBytes(clientA, VDISK, clientB, VDISK);
            }
        }
    }

    private static void measure(ClusterClient clientA, ClusterMirrorStore replicas, long seconds, String ca) throws InterruptedException {
        Map<String, Long> createdMs = new ConcurrentHashMap<>();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong writes = new AtomicLong();
        Thread writer = Thread.ofPlatform().name("steady-writer").start(() -> {
            SplittableRandom random = new SplittableRandom(1);
            // Writes leave at the steady rate, at most WRITES_INFLIGHT_MAX unanswered (a guest's queue depth), not one after another.
            java.util.concurrent.Semaphore inflight = new java.util.concurrent.Semaphore(WRITES_INFLIGHT_MAX);
            try (BlockDevice v = clientA.open(VDISK)) {
                long next = System.nanoTime();
                while (!stop.get()) {
                    long lba = random.nextLong(v.sizeBytes() / WRITE_BYTES) * (WRITE_BYTES / v.logicalBlockSizeBytes());
                    byte[] data = new byte[WRITE_BYTES];
                    random.nextBytes(data);
                    inflight.acquire();
                    v.write(lba, ByteBuffer.wrap(data), false).whenComplete((x, e) -> {
                        inflight.release();
                        if (e == null) {
                            writes.incrementAndGet();
                        }
                    });
                    next += WRITE_PERIOD_MS * 1_000_000;
                    long sleep = next - System.nanoTime();
                    if (sleep > 0) {
                        Thread.sleep(Duration.ofNanos(sleep));
                    }
                }
                inflight.acquire(WRITES_INFLIGHT_MAX);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        List<Double> rpo = new ArrayList<>();
        long rounds = 0;
        String seen = "";
        long end = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
        try {
            while (System.nanoTime() < end) {
                Thread.sleep(100);
                clientA.vdisk(VDISK).orElseThrow().snapshots().forEach(s -> createdMs.putIfAbsent(s.name(), s.createdMs()));
                String snap = lastOnB(replicas).orElseThrow();
                Long created = createdMs.get(snap);
                if (created != null) {
                    rpo.add((System.currentTimeMillis() - created) / 1000.0);
                }
                if (!snap.equals(seen)) {
                    rounds++;
                    seen = snap;
                }
                if (rpo.size() % 100 == 0) {
                    System.out.print(cli("mirror", "status", "--cluster", ca));
                }
            }
        } finally {
            stop.set(true);
            writer.join();
        }
        Collections.sort(rpo);
        System.out.printf("cluster-to-cluster mirror RPO over %d s, interval %s, a write of 64 KiB every %d ms: %d writes (%.2f MB/s): p50 %.2f s, p99 %.2f s,"
                        + " max %.2f s (%d samples, %d rounds seen)%n", seconds, INTERVAL, WRITE_PERIOD_MS, writes.get(), writes.get() * WRITE_BYTES / 1e6 / seconds,
                rpo.get(rpo.size() / 2), rpo.get((int) (rpo.size() * 0.99)), rpo.getLast(), rpo.size(), rounds);
        assertTrue(rounds >= 2, "rounds applied on site B while writing: " + rounds);
    }

    private static Optional<String> lastOnB(ClusterMirrorStore replicas) {
        return io.basalt.replication.MirrorRoles.replicaOf(replicas, VDISK).flatMap(ReplicaRecord::lastSnapshot);
    }

    private static ClusterClient client(Path clusterDir) throws java.io.IOException {
        Path file = clusterDir.resolve("cluster.json");
        return ClusterClient.open(ClusterFile.read(file).clientConfig(file));
    }

    private static String cli(String... args) {
        CliResult r = CliResult.run(args);
        assertEquals(0, r.exit(), String.join(" ", args) + ": " + r.err() + r.out());
        return r.out();
    }

    private static void awaitControlFile(Path clusterDir) throws InterruptedException {
        await("the mirroring gateway of " + clusterDir, Duration.ofMinutes(1), () -> Files.isRegularFile(clusterDir.resolve("serve-control.json")));
    }

    private static void await(String what, Duration max, java.util.function.BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("waited " + max + " for " + what);
            }
            Thread.sleep(100);
        }
    }

    private static void assertSameBytes(ClusterClient x, String specX, ClusterClient y, String specY) {
        try (BlockDevice vx = x.open(specX); BlockDevice vy = y.open(specY)) {
            io.basalt.node.mirror.TwoSites.assertSameBytes(vx, "site A " + specX, vy, "site B " + specY);
        }
    }

}
