package io.basalt.chaos;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import com.fasterxml.jackson.databind.ObjectMapper;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.probe.NodeProbe;

/**
 * Carries out a {@link Schedule} on the node processes, one fault at a time, and logs every fault
 * with its window to {@code faults.jsonl}: when the first signal went out, when the last victim
 * was restarted or continued, and when every victim answered again with a leader in each of its
 * groups (in nanoseconds from the run's start). Each fault waits its gap after the previous
 * one's victims answered: on a slow machine a restarted node takes seconds to answer, and a fault
 * striking before that would test a cluster that never recovered.
 */
public final class Nemesis {
    /**
     * A fault as carried out: {@code startNs}..{@code endNs} from the run's start; {@code backNs}
     * when its victims answered again ({@link #NOT_BACK} if not within {@link #BACK_WAIT});
     * {@code pids} the victims' processes.
     */
    public record Window(Schedule.Fault fault, List<Long> pids, long startNs, long endNs, long backNs) {
        public Window {
            pids = List.copyOf(pids);
            if (endNs < startNs || (backNs != NOT_BACK && backNs < endNs)) {
                throw new IllegalArgumentException("fault " + fault.index() + ": window " + startNs + ".." + endNs + ", back at " + backNs
                        + " (expected: start <= end <= back)");
            }
        }
    }

    public static final long NOT_BACK = -1;
    /** How long the nemesis waits for a fault's victims to answer before it goes on regardless. */
    static final Duration BACK_WAIT = Duration.ofSeconds(60);
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);

    private static final ObjectMapper JSON = new ObjectMapper();
    private final NodeProcesses nodes;
    private final ClusterConfig config;
    private final Schedule schedule;
    private final long runStartNs;
    private final Path log;
    private final Consumer<String> progress;
    private final List<Window> done = new ArrayList<>();
    private volatile String now = "none";

    public Nemesis(NodeProcesses nodes, Schedule schedule, long runStartNs, Path log, Consumer<String> progress) {
        this.nodes = nodes;
        this.config = nodes.cluster().toConfig();
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

    private Window strike(Schedule.Fault f) throws IOException, InterruptedException {
        List<Long> pids = new ArrayList<>();
        for (int id : f.victims()) {
            pids.add(nodes.pid(id));
        }
        now = f.describe();
        progress.accept("fault " + f.index() + ": " + f.describe() + " pids " + pids + " for " + f.holdMs() + " ms");
        long startNs = System.nanoTime();
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
        }
        long endNs = System.nanoTime();
        now = "waiting for " + f.victims() + " to answer";
        long backNs = awaitBack(f.victims());
        now = "none";
        if (backNs == NOT_BACK) {
            progress.accept("fault " + f.index() + ": victims " + f.victims() + " did not answer with a leader in each group within " + BACK_WAIT.toSeconds() + " s");
        }
        return new Window(f, pids, startNs - runStartNs, endNs - runStartNs, backNs == NOT_BACK ? NOT_BACK : backNs - runStartNs);
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
        NodeProbe.NodeView v = NodeProbe.probe(config, id, config.node(id).address(), PROBE_TIMEOUT);
        return v.up() && !v.groups().isEmpty() && v.groups().stream().allMatch(g -> g.leaderId().isPresent());
    }

    private static void sleepUntil(long atNs) throws InterruptedException {
        long waitNs = atNs - System.nanoTime();
        if (waitNs > 0) {
            Thread.sleep(waitNs / 1_000_000L, (int) (waitNs % 1_000_000L));
        }
    }
}
