package io.basalt.chaos;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Carries out a {@link Schedule} on the node processes, one fault at a time, each at its planned
 * offset (or as soon as the previous one ended, if that ran late), and logs every fault with its
 * window to {@code faults.jsonl}: when the first signal went out and when the last victim was
 * restarted or continued, in nanoseconds from the run's start.
 */
public final class Nemesis {
    /** A fault as carried out: {@code startNs}..{@code endNs} from the run's start; {@code pids} the victims' processes. */
    public record Window(Schedule.Fault fault, List<Long> pids, long startNs, long endNs) {
        public Window {
            pids = List.copyOf(pids);
            if (endNs < startNs) {
                throw new IllegalArgumentException("fault " + fault.index() + ": window " + startNs + ".." + endNs + " (expected: end >= start)");
            }
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private final NodeProcesses nodes;
    private final Schedule schedule;
    private final long runStartNs;
    private final Path log;
    private final Consumer<String> progress;
    private final List<Window> done = new ArrayList<>();
    private volatile String now = "none";

    public Nemesis(NodeProcesses nodes, Schedule schedule, long runStartNs, Path log, Consumer<String> progress) {
        this.nodes = nodes;
        this.schedule = schedule;
        this.runStartNs = runStartNs;
        this.log = log;
        this.progress = progress;
    }

    /** Runs every fault that starts before {@code endNs} (absolute nanoTime); returns their windows. */
    public List<Window> run(long endNs) throws IOException, InterruptedException {
        try (BufferedWriter out = Files.newBufferedWriter(log, StandardCharsets.UTF_8)) {
            for (Schedule.Fault f : schedule.faults()) {
                long atNs = runStartNs + f.atMs() * 1_000_000L;
                if (atNs >= endNs) {
                    break;
                }
                sleepUntil(atNs);
                Window w = strike(f);
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
        now = "none";
        return new Window(f, pids, startNs - runStartNs, endNs - runStartNs);
    }

    private static void sleepUntil(long atNs) throws InterruptedException {
        long waitNs = atNs - System.nanoTime();
        if (waitNs > 0) {
            Thread.sleep(waitNs / 1_000_000L, (int) (waitNs % 1_000_000L));
        }
    }
}
