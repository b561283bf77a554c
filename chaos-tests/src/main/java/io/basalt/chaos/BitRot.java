package io.basalt.chaos;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.Placement;
import io.basalt.cluster.admin.ClusterScrub;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.client.ClusterVdisk;
import io.basalt.cluster.meta.VdiskRecord;
import io.basalt.cluster.pg.BitRotForTest;
import io.basalt.cluster.pg.PgScrubState;
import io.basalt.cluster.pg.ScrubCodec;
import io.basalt.cluster.probe.NodeProbe;
import io.basalt.cluster.probe.ScrubCalls;
import io.basalt.cluster.raft.RaftSetup;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.store.GrainScrub;

/**
 * The bit-rot nemesis ({@code --nemesis bitrot}): one node's replicas get a flipped bit in the
 * stored frame of some grains' newest versions while the node runs, through the test-only rot
 * request its JVM answers only with {@link BitRotForTest#PROPERTY} ({@link NodeProcesses} starts
 * every node of a run with bit rot that way). A bit flipped on disk under RocksDB would be caught
 * by RocksDB's block checksum first, which the scrub does not repair
 * (docs/decisions/scrub-and-repair.md); rot through the fault file system would be that kind.
 *
 * <p>Each fault rots, on the victim, one <em>cold</em> grain in every placement group it holds
 * (of the vdisk {@value #VDISK}, written once when the run starts and never again, so the rot
 * stays until the scrub repairs it) and one register's grain (rewritten often by the registers
 * workload, so a write often replaces the rot first). During the hold the cold grains are read
 * through a client: a read must return the right bytes (served by a healthy replica, or after a
 * repair) or fail; bytes that are not the written ones are a violation. Then the victim is asked
 * for a scrub pass, as {@code basalt scrub} asks, until every rotted version it holds decodes
 * again; one still rotten after {@link Nemesis#BACK_WAIT}, or reported unrepairable, is a
 * violation; the cold grains must then read back right. The outcome counts what the victim's
 * scrub found and repaired over the fault (its counters, as {@code cluster status} shows them).
 */
final class BitRot implements AutoCloseable {
    static final String VDISK = "chaos-bitrot";
    /** Cold grains, one per stripe: with 3 PGs the chance some PG gets none is about 3 x (2/3)^24. */
    static final int COLD_GRAINS = 24;
    static final int GRAIN_BYTES = 4096;
    static final int BLOCK_BYTES = 512;
    static final Duration READ_EVERY = Duration.ofMillis(200);
    static final Duration CALL_TIMEOUT = Duration.ofSeconds(5);
    /** How long a strike waits for the meta group to name the cold vdisk. */
    static final Duration META_WAIT = Duration.ofSeconds(60);

    /**
     * What one bit-rot fault did: versions {@code rotted} on the victim ({@code targets} names
     * them), the victim's scrub counters' growth over the fault ({@code found}, {@code repaired},
     * {@code unrepairable}), reads of the rotted cold grains while rotten ({@code readsOk} with the
     * right bytes, {@code readsFailed}, of which {@code readsCorrupt} with CORRUPTION),
     * {@code healedMs} from the rot until every rotted version decoded again on the victim (-1:
     * not within the wait), and {@code problems}: violations (wrong bytes read, a version still
     * rotten or unrepairable, a cold grain not reading back right).
     */
    record Outcome(int victim, List<String> targets, int rotted, long found, long repaired, long unrepairable, int readsOk, int readsFailed,
                   int readsCorrupt, long healedMs, List<String> problems) {
        static final Outcome NONE = new Outcome(0, List.of(), 0, 0, 0, 0, 0, 0, 0, 0, List.of());

        Outcome {
            targets = List.copyOf(targets);
            problems = List.copyOf(problems);
        }

        /** For the report, under the fault. */
        String describe() {
            return "rotted " + rotted + " on node " + victim + " " + targets + "; scrub found " + found + ", repaired " + repaired + ", unrepairable "
                    + unrepairable + "; healed " + (healedMs < 0 ? "never" : "in " + healedMs + " ms") + "; reads while rotten: " + readsOk
                    + " right, " + readsFailed + " failed (" + readsCorrupt + " CORRUPTION)" + (problems.isEmpty() ? "" : "; PROBLEMS " + problems);
        }
    }

    /** One rotted version: where, and the rotten bytes it holds until repaired. */
    private record Target(String name, int pg, long vdiskId, long grain, long expected, ScrubCodec.Rotted rotted) {}

    private ClusterConfig config;
    private final long seed;
    private final Consumer<String> progress;
    private ClusterClient client;
    /** The cold vdisk's record: it never changes, so it is looked up once. */
    private VdiskRecord coldRecord;

    BitRot(ClusterConfig config, long seed, Consumer<String> progress) {
        this.config = config;
        this.seed = seed;
        this.progress = progress;
    }

    /** The cold vdisk, its grains written once. */
    static void setUp(ClusterClient admin) {
        int stripe = new Placement(admin.config()).stripeGrains();
        if (admin.vdisk(VDISK).isEmpty()) {
            admin.createVdisk(VDISK, (long) (COLD_GRAINS + 1) * stripe * GRAIN_BYTES, BLOCK_BYTES, GRAIN_BYTES);
        }
        try (ClusterVdisk d = admin.open(VDISK)) {
            for (int i = 0; i < COLD_GRAINS; i++) {
                d.write(coldGrain(i, stripe) * (GRAIN_BYTES / BLOCK_BYTES), Workers.encode(coldValue(i), GRAIN_BYTES), true).join();
            }
        }
    }

    /** Cold grain {@code i}: in stripe {@code i}, at a different offset in each. */
    static long coldGrain(int i, int stripeGrains) {
        return (long) i * stripeGrains + i % 4;
    }

    static long coldValue(int i) {
        return 0xB17_0000_0000_0000L | i;
    }

    /**
     * The cold vdisk's record, asked of the meta group until it answers (at most {@link
     * #META_WAIT}): a fault may strike while the meta group still elects after the previous one.
     */
    private VdiskRecord coldVdisk() throws InterruptedException {
        long deadline = System.nanoTime() + META_WAIT.toNanos();
        while (coldRecord == null) {
            try {
                coldRecord = client.vdisk(VDISK).orElseThrow(() -> new IllegalStateException("no vdisk " + VDISK + ": BitRot.setUp was not run"));
            } catch (BlockDeviceException e) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("bit rot: the meta group did not answer within " + META_WAIT.toSeconds() + " s: " + e.getMessage(), e);
                }
                TimeUnit.MILLISECONDS.sleep(500);
            }
        }
        return coldRecord;
    }

    /** Rots, holds, has it scrubbed and checks; see the class comment. */
    Outcome strike(Schedule.Fault f, ClusterConfig now) throws IOException, InterruptedException {
        config = now; // a replaced node changes it
        int victim = f.victims().get(0);
        long t0 = System.nanoTime();
        if (client == null) {
            client = ClusterClient.open(config);
        }
        NodeProbe.NodeView view = NodeProbe.probe(config, victim, config.node(victim).address(), CALL_TIMEOUT);
        Map<RaftGroupId, Integer> pgs = new HashMap<>();
        for (int pg = 0; pg < config.pgCount(); pg++) {
            pgs.put(RaftSetup.pgGroupId(config, pg), pg);
        }
        RaftPeer peer = RaftPeer.newBuilder().setId(RaftSetup.peerId(victim)).setAddress(config.node(victim).address()).build();
        long[] before = counters(view);
        Placement placement = new Placement(config);
        VdiskRecord cold = coldVdisk();
        Random random = new Random(seed * 1_000_003L + f.index());
        List<Target> targets = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (NodeProbe.GroupView g : view.groups()) {
            Integer pg = pgs.get(g.groupId());
            if (pg == null) {
                continue;
            }
            List<Integer> inPg = new ArrayList<>();
            for (int i = 0; i < COLD_GRAINS; i++) {
                if (placement.pgOf(cold.rootId(), coldGrain(i, placement.stripeGrains())) == pg) {
                    inPg.add(i);
                }
            }
            if (!inPg.isEmpty()) {
                int i = inPg.get(random.nextInt(inPg.size()));
                rot(peer, "cold " + i + " pg-" + pg + (g.isLeader() ? " led here" : ""), pg, cold.id(), coldGrain(i, placement.stripeGrains()),
                        coldValue(i)).ifPresent(targets::add);
            }
        }
        var registers = client.vdisk(RegisterWorkload.VDISK);
        if (registers.isPresent()) {
            int register = random.nextInt(RegisterWorkload.REGISTERS);
            long grain = RegisterWorkload.lbaOf(register) * RegisterWorkload.BLOCK_BYTES / RegisterWorkload.REGISTER_BYTES;
            int pg = placement.pgOf(registers.get().rootId(), grain);
            if (view.groups().stream().anyMatch(g -> Integer.valueOf(pg).equals(pgs.get(g.groupId())))) {
                rot(peer, "register " + register + " pg-" + pg, pg, registers.get().id(), grain, -1).ifPresent(targets::add);
            }
        }
        progress.accept("fault " + f.index() + ": rotted " + targets.stream().map(Target::name).toList() + " on node " + victim);
        int[] reads = readWhileRotten(targets, victim, t0 + f.holdMs() * 1_000_000L, problems);
        long healedMs = heal(view, peer, targets, problems, t0);
        for (Target t : targets) {
            if (t.expected() != -1) {
                finalRead(t, problems);
            }
        }
        long[] after = counters(NodeProbe.probe(config, victim, config.node(victim).address(), CALL_TIMEOUT));
        long unrepairable = after[2] - before[2];
        if (unrepairable > 0) {
            problems.add("node " + victim + "'s scrub reported " + unrepairable + " versions unrepairable (one replica rotted, the others healthy)");
        }
        return new Outcome(victim, targets.stream().map(Target::name).toList(), targets.size(), after[0] - before[0], after[1] - before[1],
                unrepairable, reads[0], reads[1], reads[2], healedMs, problems);
    }

    private java.util.Optional<Target> rot(RaftPeer peer, String name, int pg, long vdiskId, long grain, long expected) throws IOException {
        ScrubCodec.Rotted r = ScrubCalls.rotForTest(config, RaftSetup.pgGroupId(config, pg), peer, new ScrubCodec.RotForTest(vdiskId, grain), CALL_TIMEOUT);
        if (!r.present()) {
            progress.accept("bit rot: " + name + " has no stored version on " + peer.getId() + " yet; not rotted");
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(new Target(name, pg, vdiskId, grain, expected, r));
    }

    /** Reads the cold targets until {@code untilNs}: {ok with the right bytes, failed, failed with CORRUPTION}. */
    private int[] readWhileRotten(List<Target> targets, int victim, long untilNs, List<String> problems) throws InterruptedException {
        int[] n = new int[3];
        try (ClusterVdisk d = client.open(VDISK)) {
            while (System.nanoTime() < untilNs) {
                for (Target t : targets) {
                    if (t.expected() == -1) {
                        continue; // a register: the registers workload reads it and its checker judges
                    }
                    try {
                        Long v = Workers.decode(d.read(t.grain() * (GRAIN_BYTES / BLOCK_BYTES), GRAIN_BYTES / BLOCK_BYTES).get());
                        if (v == null || v != t.expected()) {
                            problems.add("read of " + t.name() + " rotted on node " + victim + " returned " + (v == null ? "bytes that are not one value"
                                    : Long.toHexString(v)) + " (expected " + Long.toHexString(t.expected()) + ")");
                        } else {
                            n[0]++;
                        }
                    } catch (ExecutionException | RuntimeException e) {
                        n[1]++;
                        if (e.getCause() instanceof BlockDeviceException b && b.kind() == BlockDeviceException.Kind.CORRUPTION) {
                            n[2]++;
                        }
                    }
                }
                Thread.sleep(READ_EVERY);
            }
        }
        return n;
    }

    /**
     * Asks the victim for scrub passes until every rotted version it holds decodes again (or is
     * gone, or was replaced by a write); the ms from the rot until then, or -1.
     */
    private long heal(NodeProbe.NodeView view, RaftPeer peer, List<Target> targets, List<String> problems, long t0)
            throws InterruptedException {
        long deadline = System.nanoTime() + Nemesis.BACK_WAIT.toNanos();
        List<Target> rotten = new ArrayList<>(targets);
        while (true) {
            rotten.removeIf(t -> healthy(peer, t));
            if (rotten.isEmpty()) {
                return (System.nanoTime() - t0) / 1_000_000;
            }
            if (System.nanoTime() > deadline) {
                rotten.forEach(t -> problems.add(t.name() + " still rotten on " + peer.getId() + " " + Nemesis.BACK_WAIT.toSeconds() + " s after the rot"));
                return -1;
            }
            Map<String, Long> asked = new HashMap<>();
            ClusterScrub.ask(config, Map.of(view.nodeId(), view), true, PgScrubState.ALL_VDISKS, CALL_TIMEOUT).stream().filter(r -> r.stats() != null)
                    .forEach(r -> asked.put(r.nodeId() + "/" + r.pg(), r.stats().passCount()));
            while (System.nanoTime() < deadline) {
                Thread.sleep(READ_EVERY);
                List<ClusterScrub.ReplicaScrub> now = ClusterScrub.ask(config, Map.of(view.nodeId(), view), false, PgScrubState.ALL_VDISKS, CALL_TIMEOUT);
                if (now.stream().allMatch(r -> r.stats() != null && !r.stats().running()
                        && r.stats().passCount() > asked.getOrDefault(r.nodeId() + "/" + r.pg(), Long.MAX_VALUE - 1))) {
                    break;
                }
            }
        }
    }

    /** Whether the victim's version of {@code t} decodes again, is gone, or holds other bytes than the rotten ones it was given. */
    private boolean healthy(RaftPeer peer, Target t) {
        try {
            ScrubCodec.FrameReply f = ScrubCalls.readFrame(config, RaftSetup.pgGroupId(config, t.pg()), peer,
                    new ScrubCodec.ReadFrame(t.vdiskId(), t.grain(), t.rotted().epoch()), 0, CALL_TIMEOUT);
            byte[] now = bytes(f.frame());
            return !f.present() || (!Arrays.equals(now, bytes(t.rotted().frame())) && GrainScrub.check(now, GRAIN_BYTES) == null);
        } catch (IOException | RuntimeException e) {
            return false; // not answering: asked again
        }
    }

    /** After the repair: the cold grain reads back right (a transient failure is retried for a while). */
    private void finalRead(Target t, List<String> problems) throws InterruptedException {
        long deadline = System.nanoTime() + Nemesis.BACK_WAIT.toNanos();
        try (ClusterVdisk d = client.open(VDISK)) {
            while (true) {
                try {
                    Long v = Workers.decode(d.read(t.grain() * (GRAIN_BYTES / BLOCK_BYTES), GRAIN_BYTES / BLOCK_BYTES).get(CALL_TIMEOUT.toMillis() * 3,
                            TimeUnit.MILLISECONDS));
                    if (v == null || v != t.expected()) {
                        problems.add("after the scrub " + t.name() + " reads " + (v == null ? "bytes that are not one value" : Long.toHexString(v))
                                + " (expected " + Long.toHexString(t.expected()) + ")");
                    }
                    return;
                } catch (ExecutionException | TimeoutException e) {
                    Throwable c = e.getCause();
                    if ((c instanceof BlockDeviceException b && b.kind() == BlockDeviceException.Kind.CORRUPTION) || System.nanoTime() > deadline) {
                        problems.add("after the scrub " + t.name() + " does not read back: " + Workers.why(e));
                        return;
                    }
                    Thread.sleep(READ_EVERY);
                }
            }
        }
    }

    /** The victim's scrub counters summed over its replicas: {found, repaired, unrepairable}. */
    private long[] counters(NodeProbe.NodeView view) {
        long[] c = new long[3];
        for (ClusterScrub.ReplicaScrub r : ClusterScrub.ask(config, Map.of(view.nodeId(), view), false, PgScrubState.ALL_VDISKS, CALL_TIMEOUT)) {
            if (r.stats() != null) {
                c[0] += r.stats().badFound();
                c[1] += r.stats().repaired();
                c[2] += r.stats().unrepairable();
            }
        }
        return c;
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    @Override
    public void close() {
        if (client != null) {
            client.close();
            client = null;
        }
    }
}
