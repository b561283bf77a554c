package io.basalt.chaos;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;

import com.fasterxml.jackson.databind.ObjectMapper;

import io.basalt.chaos.disk.Dropped;
import io.basalt.chaos.disk.FaultMode;
import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.admin.ClusterAdmin;
import io.basalt.cluster.probe.NodeProbe;

/**
 * Carries out a {@link Schedule} on the node processes, one fault at a time, and logs every fault
 * with its window to {@code faults.jsonl}: when the first signal went out, when the last victim
 * was restarted or continued, and when every victim answered again with a leader in each of its
 * groups (in nanoseconds from the run's start); a partition's line also says what it cut and what
 * it was seen to do ({@link Effect}). Each fault waits its gap after the previous
 * one's victims answered: on a slow machine a restarted node takes seconds to answer, and a fault
 * striking before that would test a cluster that never recovered.
 */
public final class Nemesis {
    /**
     * A fault as carried out: {@code startNs}..{@code endNs} from the run's start; {@code backNs}
     * when its victims answered again ({@link #NOT_BACK} if not within {@link #BACK_WAIT});
     * {@code pids} the victims' processes.
     */
    public record Window(Schedule.Fault fault, List<Long> pids, long startNs, long endNs, long backNs, Effect effect, BitRot.Outcome rot) {
        public Window {
            pids = List.copyOf(pids);
            Objects.requireNonNull(effect, "effect");
            Objects.requireNonNull(rot, "rot");
            if (endNs < startNs || (backNs != NOT_BACK && backNs < endNs)) {
                throw new IllegalArgumentException("fault " + fault.index() + ": window " + startNs + ".." + endNs + ", back at " + backNs
                        + " (expected: start <= end <= back)");
            }
        }

        /** A fault that rots no grain. */
        public Window(Schedule.Fault fault, List<Long> pids, long startNs, long endNs, long backNs, Effect effect) {
            this(fault, pids, startNs, endNs, backNs, effect, BitRot.Outcome.NONE);
        }

        /** A fault that is not a partition. */
        public Window(Schedule.Fault fault, List<Long> pids, long startNs, long endNs, long backNs) {
            this(fault, pids, startNs, endNs, backNs, Effect.NONE);
        }
    }

    /**
     * What a partition was seen to do, from probes of every node while it held (clients and the
     * nemesis still reach every node): {@code links} it cut ("1->2,3": node 1's packets to 2 and 3
     * dropped); {@code cutOff} the side cut off; of the groups that side led before the cut,
     * {@code ledBeforeCount}, and {@code movedCount} of them a node of the other side saw led by
     * one of its own; {@code leaderlessCountMax} the most groups a cut-off node saw without a
     * leader at once. A cut that changed nothing shows as 0 moved and 0 leaderless.
     */
    public record Effect(List<String> links, List<Integer> cutOff, int ledBeforeCount, int movedCount, int leaderlessCountMax, List<Flap> flaps) {
        public static final Effect NONE = new Effect(List.of(), List.of(), 0, 0, 0);

        /** A partition cut once for its whole window. */
        public Effect(List<String> links, List<Integer> cutOff, int ledBeforeCount, int movedCount, int leaderlessCountMax) {
            this(links, cutOff, ledBeforeCount, movedCount, leaderlessCountMax, List.of());
        }

        public Effect {
            links = List.copyOf(links);
            cutOff = List.copyOf(cutOff);
            flaps = List.copyOf(flaps);
            if (movedCount > ledBeforeCount) {
                throw new IllegalArgumentException("moved " + movedCount + " of " + ledBeforeCount + " groups (expected: moved <= led before)");
            }
        }

        /** For the report: "cut 1->2,3 2->1 3->1; cut off [1] led 2 groups, 2 moved; 4 leaderless". */
        public String describe() {
            return "cut " + String.join(" ", links) + "; cut off " + cutOff + " led " + ledBeforeCount + " groups, " + movedCount + " moved; "
                    + leaderlessCountMax + " leaderless" + (flaps.isEmpty() ? "" : "; " + flaps.size() + " cuts: "
                    + String.join(" ", flaps.stream().map(Flap::describe).toList()));
        }
    }

    /** One cut of a flapping partition, in ns from the run's start: cut at {@code cutNs}, healed at {@code healNs}. */
    public record Flap(long cutNs, long healNs) {
        String describe() {
            return String.format("%.1f..%.1f", cutNs / 1e9, healNs / 1e9);
        }
    }

    public static final long NOT_BACK = -1;
    /** How long the nemesis waits for a fault's victims to answer before it goes on regardless. */
    static final Duration BACK_WAIT = Duration.ofSeconds(60);
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);
    /** How often the nodes are probed while a partition holds, to see its effect. */
    private static final Duration OBSERVE_EVERY = Duration.ofMillis(300);

    private static final ObjectMapper JSON = new ObjectMapper();
    private final NodeProcesses nodes;
    private final Schedule schedule;
    private final long runStartNs;
    private final Path log;
    private final Consumer<String> progress;
    private final Optional<Partitioner> partitioner;
    private final List<Window> done = new ArrayList<>();
    /** The bit-rot nemesis, opened at its first fault (it keeps a client). */
    private BitRot bitRot;
    private volatile String now = "none";

    /** {@code partitioner}: how partitions are cut; a schedule with partitions needs one. */
    public Nemesis(NodeProcesses nodes, Schedule schedule, long runStartNs, Path log, Consumer<String> progress, Optional<Partitioner> partitioner) {
        if (partitioner.isEmpty() && schedule.faults().stream().anyMatch(f -> f.kind().nemesis.cuts())) {
            throw new IllegalArgumentException("a schedule with partitions and no network to cut (expected: a Partitioner)");
        }
        this.partitioner = partitioner;
        this.nodes = nodes;
        this.schedule = schedule;
        this.runStartNs = runStartNs;
        this.log = log;
        this.progress = progress;
    }

    /** Runs every fault that starts before {@code endNs} (absolute nanoTime); returns their windows. */
    public List<Window> run(long endNs) throws IOException, InterruptedException {
        try (BufferedWriter out = Files.newBufferedWriter(log, StandardCharsets.UTF_8)) {
            long quietFromNs = runStartNs;
            for (Schedule.Fault f : schedule.faults()) {
                long atNs = quietFromNs + f.gapMs() * 1_000_000L;
                if (atNs >= endNs) {
                    break;
                }
                sleepUntil(atNs);
                Window w = strike(f);
                quietFromNs = runStartNs + (w.backNs() == NOT_BACK ? w.endNs() : w.backNs());
                synchronized (this) {
                    done.add(w);
                }
                out.write(JSON.writeValueAsString(line(w, false)));
                out.newLine();
                out.flush();
            }
        } finally {
            if (bitRot != null) {
                bitRot.close();
            }
        }
        now = "none";
        return windows();
    }

    /** A {@code faults.jsonl} line: the fault as planned and its window as carried out. */
    static java.util.Map<String, Object> line(Window w, boolean last) {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("index", w.fault().index());
        m.put("kind", w.fault().kind().name());
        m.put("victims", w.fault().victims());
        m.put("pids", w.pids());
        m.put("plannedAtMs", w.fault().atMs());
        m.put("holdMs", w.fault().holdMs());
        m.put("startNs", w.startNs());
        m.put("endNs", w.endNs());
        m.put("backNs", w.backNs());
        if (!w.effect().equals(Effect.NONE)) {
            m.put("cutLinks", w.effect().links());
            m.put("cutOff", w.effect().cutOff());
            m.put("ledBefore", w.effect().ledBeforeCount());
            m.put("moved", w.effect().movedCount());
            m.put("leaderlessMax", w.effect().leaderlessCountMax());
            if (!w.effect().flaps().isEmpty()) {
                m.put("flaps", w.effect().flaps().stream().map(x -> List.of(x.cutNs(), x.healNs())).toList());
            }
        }
        if (!w.rot().equals(BitRot.Outcome.NONE)) {
            m.put("rotted", w.rot().targets());
            m.put("scrubFound", w.rot().found());
            m.put("scrubRepaired", w.rot().repaired());
            m.put("scrubUnrepairable", w.rot().unrepairable());
            m.put("healedMs", w.rot().healedMs());
            m.put("readsWhileRotten", Map.of("right", w.rot().readsOk(), "failed", w.rot().readsFailed(), "corruption", w.rot().readsCorrupt()));
            m.put("problems", w.rot().problems());
        }
        if (last) {
            m.put("final", true);
        }
        return m;
    }

    /** The faults carried out so far. */
    public synchronized List<Window> windows() {
        return List.copyOf(done);
    }

    /** What is being done now, for the progress line. */
    public String now() {
        return now;
    }

    private Window strike(Schedule.Fault asPlanned) throws IOException, InterruptedException {
        Schedule.Fault planned = asPlanned.withVictims(asPlanned.victims().stream().map(nodes::current).distinct().toList());
        Schedule.Fault f = planned.kind() == Schedule.Kind.PARTITION_LEADER ? atLeader(planned) : planned;
        List<Long> pids = new ArrayList<>();
        for (int id : f.victims()) {
            pids.add(nodes.pid(id));
        }
        now = f.describe();
        progress.accept("fault " + f.index() + ": " + f.describe() + " pids " + pids + " for " + f.holdMs() + " ms");
        long startNs = System.nanoTime();
        Effect effect = Effect.NONE;
        BitRot.Outcome rot = BitRot.Outcome.NONE;
        switch (f.kind()) {
            case KILL_ONE, KILL_MAJORITY, KILL_ALL -> {
                for (int id : f.victims()) {
                    nodes.kill(id);
                }
                Thread.sleep(f.holdMs());
                for (int id : f.victims()) {
                    nodes.restart(id);
                }
            }
            case PAUSE_ONE, PAUSE_MAJORITY -> {
                for (int id : f.victims()) {
                    nodes.pause(id);
                }
                Thread.sleep(f.holdMs());
                for (int id : f.victims()) {
                    nodes.resume(id);
                }
            }
            case PARTITION_LEADER, PARTITION_MAJORITY, PARTITION_BRIDGE, PARTITION_ONE_WAY -> effect = partition(f, startNs + f.holdMs() * 1_000_000L);
            case PARTITION_FLAP -> effect = flap(f);
            case REPLACE_ONE -> {
                int old = f.victims().get(0);
                nodes.kill(old);
                Thread.sleep(f.holdMs());
                int fresh = replace(f, old);
                f = f.withVictims(List.of(old, fresh));
                pids.add(nodes.pid(fresh));
            }
            case BITROT_ONE -> {
                if (bitRot == null) {
                    bitRot = new BitRot(config(), schedule.seed(), progress);
                }
                rot = bitRot.strike(f, config());
                progress.accept("fault " + f.index() + ": " + rot.describe());
            }
            case POWER_CUT_ONE, POWER_CUT_ALL -> {
                powerCut(f);
                Thread.sleep(f.holdMs());
                for (int id : f.victims()) {
                    nodes.restart(id);
                }
            }
            case FSYNC_FAIL_ONE, DISK_FULL_ONE, READ_EIO_ONE -> {
                FaultMode mode = switch (f.kind()) {
                    case FSYNC_FAIL_ONE -> new FaultMode.FsyncFails();
                    case DISK_FULL_ONE -> new FaultMode.Full();
                    default -> FaultMode.ReadEio.everyFile();
                };
                for (int id : f.victims()) {
                    nodes.diskMode(id, mode);
                }
                Thread.sleep(f.holdMs());
                // A node that saw fsync fail may hold in its page cache what never reached the
                // disk, and one that saw EIO or ENOSPC may have stopped writing: it ends as a
                // crashed machine would, with a power cut, and restarts on what its disk kept.
                powerCut(f);
                for (int id : f.victims()) {
                    nodes.restart(id);
                }
            }
        }
        long endNs = System.nanoTime();
        now = "waiting for " + f.victims() + " to answer";
        // A partition's other side may have lost its leaders too (a bridge's halves): every node must answer.
        long backNs = awaitBack(f.kind().nemesis.cuts() ? List.copyOf(nodes.ids())
                : f.kind() == Schedule.Kind.REPLACE_ONE ? f.victims().subList(1, 2) : f.victims());
        now = "none";
        if (backNs == NOT_BACK) {
            progress.accept("fault " + f.index() + ": victims " + f.victims() + " did not answer with a leader in each group within " + BACK_WAIT.toSeconds() + " s");
        }
        return new Window(f, pids, startNs - runStartNs, endNs - runStartNs, backNs == NOT_BACK ? NOT_BACK : backNs - runStartNs, effect, rot);
    }

    /** SIGKILL of {@code f}'s victims, then a power cut of their disks; says what each lost. */
    private void powerCut(Schedule.Fault f) throws IOException, InterruptedException {
        for (int id : f.victims()) {
            nodes.kill(id);
        }
        for (int id : f.victims()) {
            Dropped dropped = nodes.powerCut(id);
            progress.accept("fault " + f.index() + ": power cut of node " + id + " dropped " + dropped.bytes() + " unsynced bytes in "
                    + dropped.fileCount() + " files");
        }
    }

    /** Cuts {@code f}'s links until {@code untilNs}, probing every node meanwhile for the cut's {@link Effect}; heals also on failure. */
    private Effect partition(Schedule.Fault f, long untilNs) throws IOException, InterruptedException {
        Partitioner cutter = partitioner.orElseThrow();
        List<Integer> cutOff = Partitioner.cutOff(f, List.copyOf(nodes.ids()));
        Set<String> ledBefore = new TreeSet<>();
        probeAll().forEach((id, view) -> view.groups().stream().filter(g -> g.isLeader() && cutOff.contains(id))
                .forEach(g -> ledBefore.add(g.groupId().toString())));
        Set<String> moved = new TreeSet<>();
        int leaderlessMax = 0;
        List<String> links;
        try {
            links = cutter.cut(f);
            progress.accept("fault " + f.index() + ": cut " + String.join(" ", links) + "; cut off " + cutOff + " leading " + ledBefore.size() + " groups");
            leaderlessMax = observe(cutOff, ledBefore, moved, untilNs);
        } finally {
            cutter.heal();
        }
        return new Effect(links, cutOff, ledBefore.size(), moved.size(), leaderlessMax);
    }

    /**
     * A flapping partition: {@code f}'s links cut and healed in turn ({@link Schedule#flaps}),
     * every node probed while each cut holds; heals also on failure.
     */
    private Effect flap(Schedule.Fault f) throws IOException, InterruptedException {
        Partitioner cutter = partitioner.orElseThrow();
        List<Integer> cutOff = Partitioner.cutOff(f, List.copyOf(nodes.ids()));
        Set<String> ledBefore = new TreeSet<>();
        probeAll().forEach((id, view) -> view.groups().stream().filter(g -> g.isLeader() && cutOff.contains(id))
                .forEach(g -> ledBefore.add(g.groupId().toString())));
        Set<String> moved = new TreeSet<>();
        int leaderlessMax = 0;
        List<String> links = List.of();
        List<Flap> flaps = new ArrayList<>();
        List<Long> plan = Schedule.flaps(schedule.seed(), f);
        long atNs = System.nanoTime(); // the plan starts after the probe above
        for (int i = 0; i < plan.size(); i++) {
            atNs += plan.get(i) * 1_000_000L;
            if (i % 2 == 1) {
                sleepUntil(atNs); // healed
                continue;
            }
            long cutNs = System.nanoTime();
            try {
                links = cutter.cut(f);
                leaderlessMax = Math.max(leaderlessMax, observe(cutOff, ledBefore, moved, atNs));
            } finally {
                cutter.heal();
                flaps.add(new Flap(cutNs - runStartNs, System.nanoTime() - runStartNs));
            }
        }
        progress.accept("fault " + f.index() + ": flapped " + flaps.size() + " times: " + String.join(" ", flaps.stream().map(Flap::describe).toList()));
        return new Effect(links, cutOff, ledBefore.size(), moved.size(), leaderlessMax, flaps);
    }

    /**
     * Probes every node until {@code untilNs}: groups {@code ledBefore} by the cut-off side seen
     * led from the other side go to {@code moved}; returns the most groups a cut-off node saw
     * without a leader at once.
     */
    private int observe(List<Integer> cutOff, Set<String> ledBefore, Set<String> moved, long untilNs) throws InterruptedException {
        int leaderlessMax = 0;
        while (System.nanoTime() < untilNs) {
            for (var e : probeAll().entrySet()) {
                List<NodeProbe.GroupView> groups = e.getValue().groups();
                if (cutOff.contains(e.getKey())) {
                    leaderlessMax = Math.max(leaderlessMax, (int) groups.stream().filter(g -> g.leaderId().isEmpty()).count());
                } else {
                    groups.stream().filter(g -> ledBefore.contains(g.groupId().toString()) && g.leaderId().isPresent()
                            && !cutOff.contains(g.leaderId().getAsInt())).forEach(g -> moved.add(g.groupId().toString()));
                }
            }
            sleepUntil(Math.min(untilNs, System.nanoTime() + OBSERVE_EVERY.toNanos()));
        }
        return leaderlessMax;
    }

    /**
     * Node {@code old} (dead) wiped and replaced: a new node joins, and every group holding
     * {@code old} moves its replica to it ({@link ClusterAdmin#replaceNode}, as
     * {@code basalt cluster replace-node} does) while the workloads run; returns the new id.
     */
    private int replace(Schedule.Fault f, int old) throws IOException, InterruptedException {
        int fresh = nodes.replace(old);
        progress.accept("fault " + f.index() + ": node " + old + " wiped; node " + fresh + " (pid " + nodes.pid(fresh) + ") joins in its place");
        long deadline = System.nanoTime() + BACK_WAIT.toNanos();
        while (!NodeProbe.probe(config(), fresh, config().node(fresh).address(), PROBE_TIMEOUT).up()) {
            if (System.nanoTime() > deadline || !nodes.alive(fresh)) {
                throw new IllegalStateException("node " + fresh + " (replacing node " + old + ") did not answer within " + BACK_WAIT.toSeconds() + " s");
            }
            Thread.sleep(200);
        }
        var moves = new ClusterAdmin(config(), line -> progress.accept("fault " + f.index() + ": " + line)).replaceNode(old, fresh);
        nodes.forget(old);
        progress.accept("fault " + f.index() + ": node " + old + " replaced by node " + fresh + " in " + moves.size() + " groups");
        return fresh;
    }

    /** {@code planned} aimed at the node leading the most groups now (the lowest id of a tie), or as planned when none leads. */
    private Schedule.Fault atLeader(Schedule.Fault planned) {
        Map<Integer, Long> led = new TreeMap<>();
        probeAll().forEach((id, view) -> led.put(id, view.groups().stream().filter(NodeProbe.GroupView::isLeader).count()));
        return led.entrySet().stream().filter(e -> e.getValue() > 0).max(Map.Entry.<Integer, Long>comparingByValue()
                        .thenComparing(Map.Entry.comparingByKey(java.util.Comparator.reverseOrder())))
                .map(e -> planned.withVictims(List.of(e.getKey()))).orElse(planned);
    }

    /** Every node's view, each asked directly (the partitions cut nodes from each other, not from this process). */
    private Map<Integer, NodeProbe.NodeView> probeAll() {
        Map<Integer, NodeProbe.NodeView> views = new TreeMap<>();
        for (int id : nodes.ids()) {
            views.put(id, NodeProbe.probe(config(), id, config().node(id).address(), PROBE_TIMEOUT));
        }
        return views;
    }

    /** The cluster as it is now (a replacement changes it). */
    private ClusterConfig config() {
        return nodes.cluster().toConfig();
    }

    /** Waits until each of {@code victims} answers and knows a leader in every group it holds; the time it did, or {@link #NOT_BACK}. */
    long awaitBack(List<Integer> victims) throws InterruptedException {
        long deadline = System.nanoTime() + BACK_WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            if (victims.stream().allMatch(this::answers)) {
                return System.nanoTime();
            }
            Thread.sleep(200);
        }
        return NOT_BACK;
    }

    private boolean answers(int id) {
        NodeProbe.NodeView v = NodeProbe.probe(config(), id, config().node(id).address(), PROBE_TIMEOUT);
        return v.up() && !v.groups().isEmpty() && v.groups().stream().allMatch(g -> g.leaderId().isPresent());
    }

    private static void sleepUntil(long atNs) throws InterruptedException {
        long waitNs = atNs - System.nanoTime();
        if (waitNs > 0) {
            Thread.sleep(waitNs / 1_000_000L, (int) (waitNs % 1_000_000L));
        }
    }
}
