package io.basalt.node.cluster;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.client.ClusterVdisk;
import io.basalt.lock.HostSessionClient;

/**
 * The zombie test with separate processes (docs/architecture.md, "Locks and fencing"):
 * {@code basalt cluster up --nodes 3} and two {@link ZombieWriter} processes, each a host with
 * its own session. A holds the vdisk's exclusive lock and writes numbered blocks with several in
 * flight; A is taken away past its lease (frozen with SIGSTOP, or cut off by a {@link CgroupNetwork}
 * rule dropping everything its process sends, with writes in flight); B takes the lock, raises the fence and writes every slot; A comes back
 * and goes on as if it still held the lock. {@link ZombieVerdict} judges what the writers
 * printed and what the slots hold: none of A's writes lands after B's fence, A learns it was
 * fenced, and after the partition at least one of A's stale writes in flight was refused at a PG
 * with FENCED. The same partition with the PGs' check switched off
 * ({@code -Dbasalt.test.skipPgFenceCheck=true} on the nodes) must break the promise, and does.
 *
 * <p>The pause and the partition share one cluster (each has its own vdisk); the run with the
 * check off needs nodes started with the switch, so a cluster of its own.
 */
class ClusterZombieProcessTest {
    private static final int SLOTS = 32;
    private static final int INFLIGHT_MAX = 8;
    /** A's lease: short, so the takeover comes soon (the lock table's minimum is 1 s). */
    private static final long LEASE_MS_A = 3_000;
    /** B writes every slot twice, one write at a time, so its last write to each slot is known. */
    private static final int B_WRITES = 2 * SLOTS;
    private static final long VDISK_BYTES = 64L << 20;
    /** A's acknowledged writes before it is taken away: it is writing steadily by then. */
    private static final int A_WRITES_BEFORE = 50;
    /** How long A, back again, goes on issuing writes with its old token. */
    private static final Duration ZOMBIE_TIME = Duration.ofSeconds(3);
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final String SKIP_PG_FENCE_CHECK = "-Dbasalt.test.skipPgFenceCheck=true";

    @TempDir
    static Path sharedDir;
    private static ClusterUp shared;

    @TempDir
    Path dir;

    @AfterAll
    static void stopShared() throws InterruptedException {
        if (shared != null) {
            shared.close();
        }
    }

    private static synchronized ClusterUp sharedCluster() throws Exception {
        if (shared == null) {
            shared = ClusterUp.start(sharedDir, "16M");
        }
        return shared;
    }

    @Test
    void aFrozenHoldersWritesAfterTheTakeoverAreNotApplied() throws Exception {
        long started = System.nanoTime();
        ClusterUp cluster = sharedCluster();
        String vdisk = "zombie-pause";
        createVdisk(cluster, vdisk);
        ZombieVerdict verdict;
        try (WriterProcess a = WriterProcess.start("A", ZombieWriter.command(writer(cluster, vdisk, "A", LEASE_MS_A, INFLIGHT_MAX, 0)), dir)) {
            a.awaitLocked(WAIT);
            a.awaitAcknowledged(A_WRITES_BEFORE, WAIT);
            a.freeze();
            List<ZombieEvent> b = runB(cluster, vdisk);
            a.resume();
            Thread.sleep(ZOMBIE_TIME.toMillis());
            a.stop();
            a.awaitDone(WAIT);
            verdict = ZombieVerdict.check(a.events(), b, readSlots(cluster, vdisk), false);
        }
        report("pause", verdict, started);
        assertTrue(verdict.holds(), verdict.summary());
    }

    @Test
    void aCutOffHoldersWritesInFlightAreRefusedAtThePgAfterTheHeal() throws Exception {
        assumePartitionPossible();
        long started = System.nanoTime();
        ZombieVerdict verdict = partition(sharedCluster(), "zombie-partition");
        report("partition", verdict, started);
        assertTrue(verdict.holds(), verdict.summary());
    }

    /** The switch that turns the PGs' check off makes the partition's checks fail: the test above can fail. */
    @Test
    void withThePgCheckSwitchedOffTheCutOffHoldersStaleWritesLand() throws Exception {
        assumePartitionPossible();
        long started = System.nanoTime();
        Map<String, String> env = Map.of(LocalCluster.NODE_JVM_OPTIONS_ENV, String.join(" ", LocalCluster.NODE_JVM_OPTIONS) + " " + SKIP_PG_FENCE_CHECK);
        try (ClusterUp cluster = ClusterUp.start(dir, env, "16M")) {
            String log = Files.readString(dir.resolve("node-1.log"));
            assertTrue(log.contains("does NOT check fencing tokens"), "node 1 did not log that its PGs' check is off: " + dir.resolve("node-1.log"));
            ZombieVerdict verdict = partition(cluster, "zombie-unchecked");
            report("partition, PG check off", verdict, started);
            assertFalse(verdict.holds(), "with the PGs' check off the zombie test passed: " + verdict.summary());
            assertTrue(verdict.violations().stream().anyMatch(v -> v.contains("A's stale write landed after B's fence")), verdict.summary());
            assertTrue(verdict.violations().stream().anyMatch(v -> v.contains("no FENCED refusal at a PG")), verdict.summary());
        }
    }

    /**
     * A cut off with writes in flight, B's takeover, the heal; A goes on; the verdict. A's
     * writes issued in the cut (its lease still valid) wait in TCP's retransmission queue or
     * the Ratis client's retries, carrying A's token, and reach the PGs after the heal.
     */
    private ZombieVerdict partition(ClusterUp cluster, String vdisk) throws Exception {
        createVdisk(cluster, vdisk);
        try (CgroupNetwork net = CgroupNetwork.open()) {
            CgroupNetwork.Group writerA = net.group("writer-a");
            try (WriterProcess a = WriterProcess.start("A", writerA.wrap(ZombieWriter.command(writer(cluster, vdisk, "A", LEASE_MS_A, INFLIGHT_MAX, 0))), dir)) {
                return cutAndTakeOver(cluster, vdisk, net, writerA, a);
            }
        }
    }

    /** Cuts A off (every packet its process sends dropped) once it writes, lets B take over, heals, and judges. */
    private ZombieVerdict cutAndTakeOver(ClusterUp cluster, String vdisk, CgroupNetwork net, CgroupNetwork.Group writerA, WriterProcess a) throws Exception {
        a.awaitLocked(WAIT);
        a.awaitAcknowledged(A_WRITES_BEFORE, WAIT);
        net.drop(new CgroupNetwork.Rule(writerA, List.of()));
        List<ZombieEvent> b = runB(cluster, vdisk);
        net.heal();
        Thread.sleep(ZOMBIE_TIME.toMillis());
        a.stop();
        a.awaitDone(WAIT);
        return ZombieVerdict.check(a.events(), b, readSlots(cluster, vdisk), true);
    }

    /** B takes the lock (once A's session expired), writes every slot twice and ends; returns its lines. */
    private List<ZombieEvent> runB(ClusterUp cluster, String vdisk) throws Exception {
        try (WriterProcess b = WriterProcess.start("B", ZombieWriter.command(writer(cluster, vdisk, "B", HostSessionClient.LEASE_MS_DEFAULT, 1, B_WRITES)), dir)) {
            b.awaitLocked(WAIT);
            b.awaitDone(WAIT);
            return b.events();
        }
    }

    private static ZombieWriter.Options writer(ClusterUp cluster, String vdisk, String name, long leaseMs, int inflightMax, long writeCountMax) {
        return new ZombieWriter.Options(cluster.dir().resolve("cluster.json"), vdisk, name, leaseMs, SLOTS, inflightMax, writeCountMax);
    }

    private static ClusterClient client(ClusterUp cluster) throws Exception {
        return ClusterClient.open(ClusterFile.read(cluster.dir().resolve("cluster.json")).clientConfig(cluster.dir().resolve("cluster.json")));
    }

    private static void createVdisk(ClusterUp cluster, String vdisk) throws Exception {
        try (ClusterClient client = client(cluster)) {
            client.createVdisk(vdisk, VDISK_BYTES);
        }
    }

    /** Every slot's block, read by a client of its own after both writers ended. */
    private static SortedMap<Integer, ByteBuffer> readSlots(ClusterUp cluster, String vdisk) throws Exception {
        SortedMap<Integer, ByteBuffer> slots = new TreeMap<>();
        try (ClusterClient client = client(cluster); ClusterVdisk device = client.open(vdisk)) {
            int bs = device.logicalBlockSizeBytes();
            for (int slot = 0; slot < SLOTS; slot++) {
                slots.put(slot, device.read(slot * ZombieWriter.SLOT_STRIDE_BYTES / bs, ZombieWriter.BLOCK_BYTES / bs).join());
            }
        }
        return slots;
    }

    private static void assumePartitionPossible() {
        Optional<String> missing = CgroupNetwork.missing();
        assumeTrue(missing.isEmpty(), () -> "the partition needs " + missing.orElseThrow());
    }

    private static void report(String variant, ZombieVerdict verdict, long startedNanos) {
        System.out.printf("[zombie %s] %s; %.1f s%n", variant, verdict.summary(), (System.nanoTime() - startedNanos) / 1e9);
    }
}
