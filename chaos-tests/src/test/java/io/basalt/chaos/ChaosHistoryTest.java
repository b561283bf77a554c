package io.basalt.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.ratis.protocol.RaftGroupId;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.TestCluster;
import io.basalt.chaos.RegisterHistory.Op;
import io.basalt.chaos.RegisterHistory.Outcome;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.client.ClusterVdisk;
import io.basalt.cluster.raft.RaftSetup;
import io.basalt.vdisk.BlockDeviceException;

/**
 * Chaos with a checked history: two clients (two "hosts") with three closed-loop workers each
 * read and write 16 registers (16 KiB, four grains, in different stripes, so different placement
 * groups; written with atomic writes, so a read that sees two values is a torn atomic write) of
 * one vdisk, while a nemesis kills the leader of a random group (a PG or the meta
 * group) or a random node and restarts it, cuts a group's leader off from the other nodes
 * (a minority partition, {@link Partitions}) or cuts only its outgoing messages (it still hears
 * the others' votes), or kills two of the three nodes at once (no quorum anywhere) and restarts
 * them; it heals and goes again, one fault at a time. A partitioned leader still answers the
 * clients, which can reach it: its lease must stop it serving reads once the majority may have
 * elected another leader. Every failed operation must fail with a clear error
 * ({@code BlockDeviceException}), whatever the fault.
 *
 * <p>Meanwhile a snapshotter takes a snapshot of the vdisk every few seconds. Afterwards each
 * snapshot's registers are read and checked as reads spanning the snapshot call (a snapshot is
 * one entry per PG, each frozen at some moment inside the call), and a linked clone of the last
 * one must read the same as that snapshot. A cloner on the impatient host makes a linked clone of
 * a snapshot taken before the faults, reads it, flattens it, reads it again, then writes it,
 * snapshots it, overwrites it, rolls it back to that snapshot and removes it, over and over,
 * finishing each step cut short by calling again; every read must equal the snapshot, and after
 * the rollback what was written before the clone's own snapshot. Every operation is recorded
 * with its invocation and completion time and outcome; the history must be linearizable per
 * register ({@link RegisterHistory}): no stale read, no lost acknowledged write, no read going
 * back in time, across clients and across leader changes. Snapshots every 300 entries, so a
 * restarted node is sometimes caught up by a snapshot install.
 */
class ChaosHistoryTest {
    private static final int BLOCK = 512;
    /** Four grains: every write is an atomic write of several grains, and every read checks it whole. */
    private static final int REGISTER_BYTES = 16384;
    private static final int REGISTERS = 16;
    private static final int CLIENTS = 2;
    private static final int WORKERS_PER_CLIENT = 3;
    /** Long enough for one round of every kind of fault (six, ~5 s each with the pauses). */
    private static final Duration CHAOS = Duration.ofSeconds(36);

    @TempDir
    Path dir;
    private TestCluster cluster;
    private final List<ClusterClient> clients = new ArrayList<>();
    private final Partitions partitions = new Partitions();
    /** The impatient host's network to the nodes, which the nemesis can cut. */
    private ClientLinks hostLinks;

    @AfterEach
    void stop() throws Exception {
        partitions.close();
        for (ClusterClient c : clients) {
            c.close();
        }
        if (cluster != null) {
            cluster.close();
        }
        if (hostLinks != null) {
            hostLinks.close();
        }
    }

    /** Register {@code i}: 16 KiB in stripe {@code i} (stripes are 1 MiB), at a different offset in each, inside its first atomic window. */
    private static long lbaOf(int register) {
        return ((long) register * (1 << 20) + (register % 4) * REGISTER_BYTES) / BLOCK;
    }

    private static ByteBuffer encode(long value) {
        ByteBuffer b = ByteBuffer.allocate(REGISTER_BYTES);
        while (b.hasRemaining()) {
            b.putLong(value);
        }
        return b.flip();
    }

    /** The value a register read holds; a block that is not one value repeated (a torn write) is an error. */
    private static long decode(int register, ByteBuffer b) {
        long first = b.getLong(b.position());
        for (int i = b.position(); i < b.limit(); i += 8) {
            if (b.getLong(i) != first) {
                throw new AssertionError("register " + register + " is torn: " + Long.toHexString(first) + " at byte 0, "
                        + Long.toHexString(b.getLong(i)) + " at byte " + (i - b.position()));
            }
        }
        return first;
    }

    @Test
    void historiesUnderKillsPartitionsAndSnapshotsAreLinearizable() throws Exception {
        ClusterConfig.Tuning t = TestCluster.fastTuning();
        t = new ClusterConfig.Tuning(t.electionTimeoutMin(), t.requestTimeout(), t.ioTimeout(), 300, 1L << 20, t.pgInflightEntriesMax());
        cluster = TestCluster.start(TestCluster.config("chaos", 3, 3, 3, t), dir);
        cluster.client().createVdisk("reg", 64L << 20, BLOCK, 4096);
        clients.add(cluster.client());
        // The second host is impatient (I/O timeout 2.5 s instead of 20 s): its operations fail
        // during the longer faults, so writes of unknown outcome (which may still land later) and
        // the errors a host sees when a group has no quorum are part of every run.
        // It reaches the nodes through proxies, so the nemesis can cut it off from a node the
        // nodes themselves still hear.
        ClusterConfig.Tuning impatient = t.withTimeouts(t.requestTimeout(), Duration.ofMillis(2500));
        hostLinks = new ClientLinks(cluster.config().withTuning(impatient));
        for (int c = 1; c < CLIENTS; c++) {
            clients.add(ClusterClient.open(hostLinks.clientConfig()));
        }

        RegisterHistory history = new RegisterHistory();
        AtomicBoolean stopping = new AtomicBoolean();
        // Why operations failed: each must be a clear error (BlockDeviceException), whatever the fault.
        java.util.Map<String, java.util.concurrent.atomic.LongAdder> failures = new java.util.concurrent.ConcurrentHashMap<>();
        List<Throwable> unclear = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Thread> workers = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
            ClusterVdisk disk = clients.get(c).open("reg");
            for (int w = 0; w < WORKERS_PER_CLIENT; w++) {
                long writer = (long) c * WORKERS_PER_CLIENT + w + 1;
                Random r = new Random(writer);
                workers.add(Thread.ofPlatform().name("chaos-worker-" + writer).start(() -> {
                    long seq = 0;
                    while (!stopping.get()) {
                        int register = r.nextInt(REGISTERS);
                        if (r.nextBoolean()) {
                            long value = (writer << 40) | ++seq;
                            long t0 = System.nanoTime();
                            try {
                                disk.writeAtomic(lbaOf(register), encode(value), false).get();
                                history.add(new Op(register, true, value, t0, System.nanoTime(), Outcome.OK));
                            } catch (ExecutionException | InterruptedException e) {
                                history.add(new Op(register, true, value, t0, Long.MAX_VALUE, Outcome.UNKNOWN));
                                classify(e, failures, unclear);
                            }
                        } else {
                            long t0 = System.nanoTime();
                            try {
                                ByteBuffer b = disk.read(lbaOf(register), REGISTER_BYTES / BLOCK).get();
                                long t1 = System.nanoTime();
                                history.add(new Op(register, false, decode(register, b), t0, t1, Outcome.OK));
                            } catch (ExecutionException | InterruptedException e) {
                                classify(e, failures, unclear); // a failed read tells nothing about the register
                            }
                        }
                    }
                }));
            }
        }

        record Snap(String name, long invokedAt, long completedAt) {}
        List<Snap> snaps = java.util.Collections.synchronizedList(new ArrayList<>());
        java.util.concurrent.atomic.AtomicInteger snapFailures = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicReference<RuntimeException> lastSnapFailure = new java.util.concurrent.atomic.AtomicReference<>();
        Thread snapshotter = Thread.ofPlatform().name("chaos-snapshotter").start(() -> {
            for (int k = 1; !stopping.get(); k++) {
                try {
                    // Every second: at one every 2.5 s, faults that outlast this client's 2.5 s
                    // timeout left exactly 3 snapshots in 4 of 10 runs and 2 in some (the check
                    // below wants 3), without any change to the code under test.
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
                String name = "s" + k;
                long t0 = System.nanoTime();
                // A failed call is finished by calling again (its PG steps are idempotent); the
                // snapshot's moment on each PG then lies between the first call and the last.
                for (int attempt = 0; attempt < 5; attempt++) {
                    try {
                        clients.get(1).createSnapshot("reg", name);
                        snaps.add(new Snap(name, t0, System.nanoTime()));
                        break;
                    } catch (RuntimeException e) {
                        snapFailures.incrementAndGet();
                        lastSnapFailure.set(e);
                    }
                }
            }
        });

        // Clones under the faults: a cloner makes a linked clone of snapshot "base", reads it,
        // flattens it, reads it again, removes it, and again, each step repeated until it took
        // effect (as an operator would, and as each step allows). Every read must be base's.
        clients.get(0).createSnapshot("reg", "base");
        long[] base = new long[REGISTERS];
        try (ClusterVdisk view = clients.get(0).openSnapshot("reg", "base")) {
            for (int register = 0; register < REGISTERS; register++) {
                base[register] = decode(register, view.read(lbaOf(register), REGISTER_BYTES / BLOCK).join());
            }
        }
        List<String> cloneErrors = java.util.Collections.synchronizedList(new ArrayList<>());
        java.util.concurrent.atomic.AtomicInteger cycles = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger cloneRetries = new java.util.concurrent.atomic.AtomicInteger();
        Thread cloner = Thread.ofPlatform().name("chaos-cloner").start(() -> {
            // The impatient host: its steps fail part way during the longer faults, and must be
            // finished by calling again.
            ClusterClient c = clients.get(1);
            try {
                for (int k = 1; !stopping.get(); k++) {
                    String child = "fc" + k;
                    until("clone " + child, cloneRetries, () -> c.vdisk(child).isPresent() || c.cloneVdisk("reg", "base", child) != null);
                    until("read clone " + child, cloneRetries, () -> readsAsBase(c, child, base, "clone", cloneErrors));
                    until("flatten " + child, cloneRetries, () -> c.vdisk(child).orElseThrow().parent().isEmpty()
                            || c.flatten(child, pg -> {}) != null);
                    until("read flattened " + child, cloneRetries, () -> readsAsBase(c, child, base, "flattened", cloneErrors));
                    // Rollback under the faults: write, snapshot, overwrite, roll back; the vdisk
                    // must read as written before the snapshot. An unfinished rollback (some PGs
                    // rolled back, the namespace still marking it) is finished by calling again.
                    long[] kept = cloneValues(k, 1);
                    long[] overwritten = cloneValues(k, 2);
                    until("write " + child, cloneRetries, () -> writeAll(c, child, kept));
                    until("snapshot " + child + "@s", cloneRetries, () -> c.createSnapshot(child, "s") != null);
                    until("overwrite " + child, cloneRetries, () -> writeAll(c, child, overwritten));
                    until("read overwritten " + child, cloneRetries, () -> readsAs(c, child, overwritten, "overwritten", cloneErrors));
                    until("rollback " + child + " to s", cloneRetries, () -> c.rollback(child, "s") != null);
                    until("read rolled-back " + child, cloneRetries, () -> readsAs(c, child, kept, "rolled-back", cloneErrors));
                    until("remove " + child + "@s", cloneRetries, () -> {
                        if (c.vdisk(child).orElseThrow().snapshot("s").isPresent()) {
                            c.removeSnapshot(child, "s");
                        }
                        return true;
                    });
                    until("remove " + child, cloneRetries, () -> {
                        if (c.vdisk(child).isPresent()) {
                            c.removeVdisk(child);
                        }
                        return true;
                    });
                    cycles.incrementAndGet();
                }
            } catch (RuntimeException | AssertionError e) {
                cloneErrors.add(String.valueOf(e));
            }
        });

        List<String> faults = nemesis(new Random(42));
        stopping.set(true);
        snapshotter.join(TimeUnit.SECONDS.toMillis(120));
        assertTrue(!snapshotter.isAlive(), "the snapshotter finished");
        cloner.join(TimeUnit.SECONDS.toMillis(180));
        assertTrue(!cloner.isAlive(), "the cloner finished");
        assertEquals(List.of(), cloneErrors, "clones of reg@base under the faults");
        assertTrue(cycles.get() >= 1, "the cloner made, flattened, rolled back and removed a clone");
        cluster.client().removeSnapshot("reg", "base"); // refused if a clone were left behind
        for (Thread w : workers) {
            w.join(TimeUnit.SECONDS.toMillis(60) + t.ioTimeout().toMillis());
            assertTrue(!w.isAlive(), w.getName() + " finished");
        }
        // Healed: every register read once more through every client.
        cluster.waitForAllLeaders(Duration.ofSeconds(30));
        for (ClusterClient c : clients) {
            ClusterVdisk disk = c.open("reg");
            for (int register = 0; register < REGISTERS; register++) {
                long t0 = System.nanoTime();
                ByteBuffer b = disk.read(lbaOf(register), REGISTER_BYTES / BLOCK).join();
                history.add(new Op(register, false, decode(register, b), t0, System.nanoTime(), Outcome.OK));
            }
        }

        // What the workers did, counted before the snapshot reads join the history.
        List<Op> ops = history.ops();
        long writesOk = ops.stream().filter(o -> o.write() && o.outcome() == Outcome.OK).count();
        long writesUnknown = ops.stream().filter(o -> o.write() && o.outcome() == Outcome.UNKNOWN).count();
        long reads = ops.stream().filter(o -> !o.write()).count();
        long readsOfWrites = ops.stream().filter(o -> !o.write() && o.value() != 0).count();

        // Every snapshot read through a client, as reads spanning its snapshot call.
        for (int i = 0; i < snaps.size(); i++) {
            Snap snap = snaps.get(i);
            try (ClusterVdisk view = clients.get(i % CLIENTS).openSnapshot("reg", snap.name())) {
                for (int register = 0; register < REGISTERS; register++) {
                    ByteBuffer b = view.read(lbaOf(register), REGISTER_BYTES / BLOCK).join();
                    history.add(new Op(register, false, decode(register, b), snap.invokedAt(), snap.completedAt(), Outcome.OK));
                }
            }
        }
        assertTrue(snaps.size() >= 3, "snapshots taken during the chaos: " + snaps + " (" + snapFailures + " failed calls, the last: "
                + lastSnapFailure.get() + ")");
        Snap last = snaps.get(snaps.size() - 1);
        cluster.client().cloneVdisk("reg", last.name(), "reg-clone");
        try (ClusterVdisk snapView = cluster.client().openSnapshot("reg", last.name()); ClusterVdisk clone = clients.get(1).open("reg-clone")) {
            for (int register = 0; register < REGISTERS; register++) {
                assertEquals(decode(register, snapView.read(lbaOf(register), REGISTER_BYTES / BLOCK).join()),
                        decode(register, clone.read(lbaOf(register), REGISTER_BYTES / BLOCK).join()),
                        "register " + register + " of clone reg-clone vs its origin reg@" + last.name());
            }
        }

        System.out.printf("chaos: %d faults %s; %d Raft messages held up by partitions; %d host connections cut; %d writes acknowledged, %d with unknown outcome,"
                + " %d reads; %d snapshots (%d failed calls, finished by calling again), %d snapshot reads; %d clones made, read, flattened,"
                + " read, written, snapshotted, overwritten, rolled back, read and removed (%d steps repeated); failed operations by cause %s%n",
                faults.size(), faults, partitions.blockedCalls.get(), hostLinks.cutConnections.get(), writesOk, writesUnknown, reads, snaps.size(), snapFailures.get(),
                snaps.size() * REGISTERS, cycles.get(), cloneRetries.get(), new java.util.TreeMap<>(failures));
        assertEquals(List.of(), unclear.stream().limit(3).map(String::valueOf).toList(), unclear.size() + " operations failed without a clear error");
        List<String> violations = history.check();
        assertEquals(List.of(), violations.stream().limit(10).toList(), violations.size() + " linearizability violations");
        assertTrue(faults.size() >= 4, "the nemesis struck: " + faults);
        if (faults.stream().anyMatch(f -> f.startsWith("partition"))) {
            assertTrue(partitions.blockedCalls.get() > 0, "a partition held up Raft messages");
        }
        assertTrue(hostLinks.forwardedBytes.get() > (4L << 20), "the impatient host's I/O went through its proxies: "
                + hostLinks.forwardedBytes.get() + " bytes");
        if (faults.stream().anyMatch(f -> f.startsWith("host"))) {
            assertTrue(hostLinks.cutConnections.get() > 0, "a host cut closed or held connections");
        }
        assertTrue(writesOk >= 200 && readsOfWrites >= 200, "enough happened to mean something: " + writesOk
                + " writes, " + readsOfWrites + " reads of written values");
    }

    /**
     * Runs {@code step} until it returns true; a failure (the fault of the moment) is counted and
     * the step tried again after 200 ms, for at most two minutes.
     */
    private static void until(String what, java.util.concurrent.atomic.AtomicInteger retries, java.util.function.BooleanSupplier step) {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        RuntimeException last = null;
        while (System.nanoTime() < deadline) {
            try {
                if (step.getAsBoolean()) {
                    return;
                }
            } catch (RuntimeException e) {
                last = e;
            }
            retries.incrementAndGet();
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(what + ": interrupted");
            }
        }
        throw new AssertionError(what + " did not succeed in two minutes; last failure: " + last, last);
    }

    /** Reads every register of vdisk {@code name}; a value other than {@code base}'s is recorded in {@code errors}. */
    private static boolean readsAsBase(ClusterClient c, String name, long[] base, String state, List<String> errors) {
        return readsAs(c, name, base, state + " (reg@base holds it)", errors);
    }

    /** Reads every register of vdisk {@code name}; a value other than {@code expected}'s is recorded in {@code errors}. */
    private static boolean readsAs(ClusterClient c, String name, long[] expected, String state, List<String> errors) {
        try (ClusterVdisk d = c.open(name)) {
            for (int register = 0; register < REGISTERS; register++) {
                long v = decode(register, d.read(lbaOf(register), REGISTER_BYTES / BLOCK).join());
                if (v != expected[register]) {
                    errors.add("register " + register + " of " + state + " " + name + " reads " + Long.toHexString(v)
                            + ", expected " + Long.toHexString(expected[register]));
                }
            }
        }
        return true;
    }

    /** Writes {@code values} to the registers of vdisk {@code name}; true once every write was acknowledged. */
    private static boolean writeAll(ClusterClient c, String name, long[] values) {
        try (ClusterVdisk d = c.open(name)) {
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            for (int register = 0; register < REGISTERS; register++) {
                writes.add(d.write(lbaOf(register), encode(values[register]), false));
            }
            CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).join();
        }
        return true;
    }

    /** Register values for the cloner's clone {@code k}, version {@code version}: never a worker's (those are below 2^62). */
    private static long[] cloneValues(int k, int version) {
        long[] values = new long[REGISTERS];
        for (int register = 0; register < REGISTERS; register++) {
            values[register] = 0x7e00_0000_0000_0000L | ((long) k << 20) | ((long) version << 8) | register;
        }
        return values;
    }

    /**
     * Kills and restarts leaders and nodes, partitions leaders off (both ways or only their
     * outgoing messages), takes a majority down at once, or cuts the impatient host off from a
     * leader, for {@link #CHAOS}; returns what it did. The kinds come in shuffled rounds, so
     * every kind strikes in a run.
     */
    private List<String> nemesis(Random r) throws Exception {
        List<String> done = new ArrayList<>();
        long end = System.nanoTime() + CHAOS.toNanos();
        List<RaftGroupId> groups = new ArrayList<>();
        groups.add(RaftSetup.metaGroupId(cluster.config()));
        for (int pg = 0; pg < cluster.config().pgCount(); pg++) {
            groups.add(cluster.pgGroup(pg));
        }
        List<Fault> round = new ArrayList<>();
        while (System.nanoTime() < end) {
            Thread.sleep(1000 + r.nextInt(1500));
            if (round.isEmpty()) {
                round.addAll(List.of(Fault.values()));
                java.util.Collections.shuffle(round, r);
            }
            Fault kind = round.remove(round.size() - 1);
            RaftGroupId g = groups.get(r.nextInt(groups.size()));
            String groupName = groups.indexOf(g) == 0 ? "meta" : "pg-" + (groups.indexOf(g) - 1);
            switch (kind) {
                case KILL_LEADER, KILL_NODE -> {
                    int victim = kind == Fault.KILL_LEADER ? cluster.waitForLeader(g, Duration.ofSeconds(20))
                            : 1 + r.nextInt(cluster.config().nodes().size());
                    cluster.stopNode(victim);
                    Thread.sleep(1000 + r.nextInt(2000));
                    cluster.startNode(victim);
                    done.add(kind == Fault.KILL_LEADER ? "leader of " + groupName + " (node " + victim + ")" : "node " + victim);
                }
                case PARTITION_LEADER, ONE_WAY_FROM_LEADER -> {
                    int victim = cluster.waitForLeader(g, Duration.ofSeconds(20));
                    String peer = RaftSetup.peerId(victim).toString();
                    List<String> others = otherPeers(victim);
                    if (kind == Fault.PARTITION_LEADER) {
                        partitions.isolate(peer, others);
                    } else {
                        others.forEach(o -> partitions.cutOneWay(peer, o));
                    }
                    Thread.sleep(2000 + r.nextInt(2000));
                    partitions.heal();
                    done.add((kind == Fault.PARTITION_LEADER ? "partition leader of " : "one-way cut from leader of ") + groupName + " (node " + victim + ")");
                }
                case CUT_HOST_FROM_LEADER -> {
                    // The impatient host loses its way to a group's leader, which the other
                    // nodes and the other host still reach: its requests fail over to followers,
                    // which name the leader it cannot reach, until its I/O timeout or the heal.
                    int victim = cluster.waitForLeader(g, Duration.ofSeconds(20));
                    hostLinks.cut(victim);
                    Thread.sleep(2000 + r.nextInt(2000));
                    hostLinks.heal();
                    done.add("host 2 cut from leader of " + groupName + " (node " + victim + ")");
                }
                case KILL_MAJORITY -> {
                    int spared = 1 + r.nextInt(cluster.config().nodes().size());
                    List<Integer> victims = new ArrayList<>();
                    for (var n : cluster.config().nodes()) {
                        if (n.id() != spared) {
                            victims.add(n.id());
                        }
                    }
                    for (int v : victims) {
                        cluster.stopNode(v);
                    }
                    Thread.sleep(1000 + r.nextInt(1500));
                    for (int v : victims) {
                        cluster.startNode(v);
                    }
                    done.add("majority outage: nodes " + victims);
                }
            }
        }
        return done;
    }

    /** Counts a failed operation by its cause; one that is not a {@link BlockDeviceException} goes to {@code unclear}. */
    private static void classify(Exception e, java.util.Map<String, java.util.concurrent.atomic.LongAdder> failures, List<Throwable> unclear) {
        Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
        String key = cause instanceof BlockDeviceException b ? b.kind().toString() : cause.getClass().getSimpleName();
        failures.computeIfAbsent(key, k -> new java.util.concurrent.atomic.LongAdder()).increment();
        if (!(cause instanceof BlockDeviceException)) {
            unclear.add(cause);
        }
    }

    private enum Fault { KILL_LEADER, KILL_NODE, PARTITION_LEADER, ONE_WAY_FROM_LEADER, KILL_MAJORITY, CUT_HOST_FROM_LEADER }

    private List<String> otherPeers(int node) {
        List<String> others = new ArrayList<>();
        for (var n : cluster.config().nodes()) {
            if (n.id() != node) {
                others.add(RaftSetup.peerId(n.id()).toString());
            }
        }
        return others;
    }
}
