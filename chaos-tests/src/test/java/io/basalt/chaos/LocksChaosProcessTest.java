package io.basalt.chaos;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.chaos.ChaosRun.Workload;
import io.basalt.chaos.Schedule.Nemesis;

/**
 * The locks workload on three real node processes: on the real build the history must be
 * valid, with locks taken over and stale writes refused by a PG's fence (so the run did test
 * fencing); with the nodes' fence check switched off (the test-only {@code skipFenceCheck}) the
 * same workload must be found out: a write sent with a token below a completed fence took effect.
 * Every node process is stopped by the run itself ({@link NodeProcesses#close}), also when it fails.
 */
class LocksChaosProcessTest {
    @TempDir
    Path dir;

    private static Report run(ChaosRun.Options options) throws Exception {
        return new ChaosRun(options, line -> System.out.println("[chaos] " + line)).run();
    }

    /** History lines of writes a placement group refused with its fence (not a host's own refusal to send). */
    private static List<String> refusedByAPg(Path runDir) throws Exception {
        return Files.readAllLines(runDir.resolve("history.jsonl")).stream()
                .filter(l -> l.contains("\"type\":\"fail\"") && l.contains("\"f\":\"write\"") && l.contains("FencedException") && !l.contains("self-fenced"))
                .toList();
    }

    @Test
    void underKillsAndPausesNoStaleWriteTakesEffect() throws Exception {
        Path runDir = dir.resolve("real");
        Report report = run(new ChaosRun.Options(EnumSet.of(Workload.locks), EnumSet.of(Nemesis.kill, Nemesis.pause), Duration.ofSeconds(20), 29, 3,
                runDir, false));
        System.out.print(report.text());
        assertTrue(report.valid(), report.text());
        assertTrue(report.summary().endsWith("lost 0; violations 0; verdict valid"), report.summary());
        String history = Files.readString(runDir.resolve("history.jsonl"));
        assertTrue(history.contains("\"f\":\"freeze\""), "a host froze past its lease");
        assertFalse(refusedByAPg(runDir).isEmpty(), "a stale write reached a PG and was refused by its fence: the run tested fencing");
        assertTrue(report.byWorkload().get("locks")[0] >= 50, "enough happened to mean something: " + report.summary());
    }

    @Test
    void withThePgFenceCheckSwitchedOffTheCheckerFindsAStaleWriteApplied() throws Exception {
        Path runDir = dir.resolve("mutant");
        Report report = run(new ChaosRun.Options(EnumSet.of(Workload.locks), EnumSet.noneOf(Nemesis.class), Duration.ofSeconds(15), 31, 3,
                runDir, false, true));
        System.out.print(report.text());
        assertTrue(Files.readString(runDir.resolve("node-1.log")).contains("does NOT check fencing tokens"),
                "the nodes started with their fence check off: " + runDir.resolve("node-1.log"));
        assertFalse(report.valid(), "with the PGs' fence check off the locks check found nothing: " + report.text());
        assertTrue(report.violations().stream().anyMatch(v -> v.contains("a fenced write was applied") || v.contains("was acknowledged, yet fence")),
                report.text());
        assertTrue(report.summary().endsWith("verdict invalid"), report.summary());
        assertTrue(refusedByAPg(runDir).isEmpty(), "no PG refused a write: " + refusedByAPg(runDir));
    }
}
