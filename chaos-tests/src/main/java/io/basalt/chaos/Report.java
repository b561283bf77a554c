package io.basalt.chaos;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/**
 * What a run found: operations by outcome, faults by kind with the recovery after each, lost
 * writes and violations, and the verdict (valid: nothing lost, nothing violated). Written to the
 * run directory as {@code report.txt} (for people), {@code verdict.json} (for scripts) and
 * {@code chaos.html} (latency over time, faults shaded: {@link HtmlReport}).
 *
 * <p>Recovery after a fault: from the fault's end (victims restarted or continued) to the
 * completion of the first operation invoked after that end that succeeded; what a client waits
 * for the cluster to serve again. "Back" is when the victims answered with a leader in each of
 * their groups, which the nemesis waits for before the next fault's gap.
 */
public record Report(long ok, long failed, long info, Map<String, long[]> byWorkload, List<Nemesis.Window> faults,
                     List<Long> recoveryMs, List<String> lost, List<String> violations, String smallestViolation,
                     List<History.Completed> completed, List<String> workloadLines) {
    /** Recovery of a fault after which no operation succeeded. */
    static final long NO_RECOVERY = -1;
    private static final int LISTED_MAX = 50;

    public Report {
        byWorkload = Map.copyOf(byWorkload);
        faults = List.copyOf(faults);
        recoveryMs = List.copyOf(recoveryMs);
        lost = List.copyOf(lost);
        violations = List.copyOf(violations);
        completed = List.copyOf(completed);
        workloadLines = List.copyOf(workloadLines);
    }

    /** Without lines of what the workloads did. */
    public Report(long ok, long failed, long info, Map<String, long[]> byWorkload, List<Nemesis.Window> faults, List<Long> recoveryMs,
                  List<String> lost, List<String> violations, String smallestViolation, List<History.Completed> completed) {
        this(ok, failed, info, byWorkload, faults, recoveryMs, lost, violations, smallestViolation, completed, List.of());
    }

    static Report of(ChaosRun.Options options, History history, List<Nemesis.Window> windows, RegisterWorkload registers,
                     DurabilityWorkload durability, LocksWorkload locks, ModelWorkload model) {
        List<History.Completed> ops = history.completed();
        Map<String, long[]> byWorkload = new TreeMap<>();
        for (History.Completed c : ops) {
            byWorkload.computeIfAbsent(c.workload(), w -> new long[3])[c.type().ordinal()]++;
        }
        List<Long> recovery = recoveryMs(windows, ops);
        List<String> lost = new ArrayList<>();
        List<String> violations = new ArrayList<>();
        String smallest = null;
        if (durability != null) {
            DurabilityCheck.Result r = durability.check();
            r.losses().forEach(l -> lost.add(l.toString()));
            violations.addAll(r.corruptions());
        }
        if (locks != null) {
            violations.addAll(locks.check().violations());
        }
        if (registers != null) {
            violations.addAll(registers.violations());
            smallest = registers.smallestViolation().orElse(null);
        }
        List<String> lines = new ArrayList<>();
        if (model != null) {
            ModelCheck.Result r = model.check();
            r.lost().forEach(l -> lost.add("model: " + l));
            r.violations().forEach(v -> violations.add(v.startsWith("model: ") ? v : "model: " + v));
            lines.add("model: " + model.describe() + "; " + r.volumesChecked() + " heads and snapshots, " + r.blocksChecked()
                    + " blocks compared with the model; lost " + r.lost().size() + ", violations " + r.violations().size());
        }
        for (Nemesis.Window w : windows) {
            w.rot().problems().forEach(p -> violations.add("bit rot (fault " + w.fault().index() + "): " + p));
        }
        return new Report(history.okCount(), history.failCount(), history.infoCount(), byWorkload, windows, recovery, lost, violations,
                smallest, ops, lines);
    }

    /** Per fault: from its end to the completion of the first operation invoked after it that succeeded, or {@link #NO_RECOVERY}. */
    static List<Long> recoveryMs(List<Nemesis.Window> windows, List<History.Completed> ops) {
        List<Long> recovery = new ArrayList<>();
        for (Nemesis.Window w : windows) {
            recovery.add(ops.stream().filter(c -> c.type() == History.Type.ok && c.invokedNs() >= w.endNs())
                    .mapToLong(c -> (c.completedNs() - w.endNs()) / 1_000_000).min().orElse(NO_RECOVERY));
        }
        return recovery;
    }

    /**
     * The bit-rot faults together: {@code faults}, versions {@code rotted}, and what the victims'
     * scrubs {@code found}, {@code repaired} and found {@code unrepairable} over them; empty
     * when no grain was rotted.
     */
    public Map<String, Long> bitRot() {
        List<BitRot.Outcome> rots = faults.stream().map(Nemesis.Window::rot).filter(r -> !r.equals(BitRot.Outcome.NONE)).toList();
        if (rots.isEmpty()) {
            return Map.of();
        }
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("faults", (long) rots.size());
        m.put("rotted", rots.stream().mapToLong(BitRot.Outcome::rotted).sum());
        m.put("found", rots.stream().mapToLong(BitRot.Outcome::found).sum());
        m.put("repaired", rots.stream().mapToLong(BitRot.Outcome::repaired).sum());
        m.put("unrepairable", rots.stream().mapToLong(BitRot.Outcome::unrepairable).sum());
        m.put("readsRight", rots.stream().mapToLong(BitRot.Outcome::readsOk).sum());
        m.put("readsFailed", rots.stream().mapToLong(BitRot.Outcome::readsFailed).sum());
        return m;
    }

    public boolean valid() {
        return lost.isEmpty() && violations.isEmpty();
    }

    /** The last line {@code basalt chaos run} prints. */
    public String summary() {
        return String.format("chaos: %d ok, %d failed, %d info; faults %d; lost %d; violations %d; verdict %s", ok, failed, info, faults.size(),
                lost.size(), violations.size(), valid() ? "valid" : "invalid");
    }

    /** Faults counted by kind, in the order of {@link Schedule.Kind}. */
    public Map<String, Integer> faultsByKind() {
        Map<String, Integer> out = new LinkedHashMap<>();
        for (Schedule.Kind k : Schedule.Kind.values()) {
            int n = (int) faults.stream().filter(w -> w.fault().kind() == k).count();
            if (n > 0) {
                out.put(k.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'), n);
            }
        }
        return out;
    }

    void write(Path dir) throws IOException {
        Files.writeString(dir.resolve("report.txt"), text(), StandardCharsets.UTF_8);
        Map<String, Object> verdict = new LinkedHashMap<>();
        verdict.put("verdict", valid() ? "valid" : "invalid");
        verdict.put("ok", ok);
        verdict.put("failed", failed);
        verdict.put("info", info);
        verdict.put("faults", faults.size());
        verdict.put("faultsByKind", faultsByKind());
        verdict.put("recoveryMs", recoveryMs);
        verdict.put("lost", lost.size());
        verdict.put("violations", violations.size());
        verdict.put("lostWrites", lost.subList(0, Math.min(LISTED_MAX, lost.size())));
        verdict.put("violationList", violations.subList(0, Math.min(LISTED_MAX, violations.size())));
        verdict.put("smallestViolation", smallestViolation);
        if (!bitRot().isEmpty()) {
            verdict.put("bitRot", bitRot());
        }
        if (!workloadLines.isEmpty()) {
            verdict.put("workloads", workloadLines);
        }
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(dir.resolve("verdict.json").toFile(), verdict);
        Files.writeString(dir.resolve("chaos.html"), HtmlReport.render(this), StandardCharsets.UTF_8);
    }

    String text() {
        StringBuilder b = new StringBuilder();
        b.append("operations: ").append(ok).append(" ok, ").append(failed).append(" failed, ").append(info).append(" indeterminate (info)\n");
        byWorkload.forEach((w, n) -> b.append("  ").append(w).append(": ").append(n[0]).append(" ok, ").append(n[1]).append(" failed, ")
                .append(n[2]).append(" info\n"));
        b.append("faults: ").append(faults.size()).append(' ').append(faultsByKind()).append('\n');
        for (int i = 0; i < faults.size(); i++) {
            Nemesis.Window w = faults.get(i);
            long r = recoveryMs.get(i);
            String back = w.backNs() == Nemesis.NOT_BACK ? "not back" : "back +" + (w.backNs() - w.endNs()) / 1_000_000 + " ms";
            b.append(String.format("  %2d %-26s pids %-22s %7.1f s .. %7.1f s  %-16s recovery %s%n", w.fault().index(), w.fault().describe(), w.pids(),
                    w.startNs() / 1e9, w.endNs() / 1e9, back, r == NO_RECOVERY ? "none (no operation succeeded after it)" : r + " ms"));
            if (!w.effect().equals(Nemesis.Effect.NONE)) {
                b.append("     ").append(w.effect().describe()).append('\n');
            }
            if (!w.rot().equals(BitRot.Outcome.NONE)) {
                b.append("     ").append(w.rot().describe()).append('\n');
            }
        }
        Map<String, Long> rot = bitRot();
        if (!rot.isEmpty()) {
            b.append(String.format("bit rot: %d faults, %d versions rotted; scrub found %d, repaired %d, unrepairable %d; reads of rotted cold grains: %d right,"
                    + " %d failed%n", rot.get("faults"), rot.get("rotted"), rot.get("found"), rot.get("repaired"), rot.get("unrepairable"),
                    rot.get("readsRight"), rot.get("readsFailed")));
        }
        workloadLines.forEach(l -> b.append(l).append('\n'));
        b.append("lost writes: ").append(lost.size()).append('\n');
        lost.stream().limit(LISTED_MAX).forEach(l -> b.append("  ").append(l).append('\n'));
        b.append("violations: ").append(violations.size()).append('\n');
        violations.stream().limit(LISTED_MAX).forEach(v -> b.append("  ").append(v).append('\n'));
        if (smallestViolation != null) {
            b.append("smallest violating window: ").append(smallestViolation).append('\n');
        }
        return b.append(summary()).append('\n').toString();
    }
}
