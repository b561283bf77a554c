package io.basalt.chaos;

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
 * The vdisk model workload on three real node processes under a pause and a kill: every block of
 * every head and snapshot read back after the heal must hold what the acknowledged writes,
 * unmaps, snapshots, clones, rollbacks and grows left, and so must every read during the run.
 * Every node process is stopped by the run itself ({@link NodeProcesses#close}), also when it fails.
 */
class ModelChaosProcessTest {
    @TempDir
    Path dir;

    @Test
    void underKillsAndPausesEveryBlockOfEveryHeadSnapshotAndCloneMatchesTheModel() throws Exception {
        Path runDir = dir.resolve("model");
        // Seed 29 plans a pause of one node, then a kill of one (ScheduleTest keeps plans stable per seed).
        Report report = new ChaosRun(new ChaosRun.Options(EnumSet.of(Workload.model), EnumSet.of(Nemesis.kill, Nemesis.pause), Duration.ofSeconds(30),
                29, 3, runDir, false), line -> System.out.println("[chaos] " + line)).run();
        System.out.print(report.text());
        assertTrue(report.valid(), report.text());
        assertTrue(report.summary().endsWith("lost 0; violations 0; verdict valid"), report.summary());
        List<Schedule.Kind> kinds = report.faults().stream().map(w -> w.fault().kind()).toList();
        assertTrue(kinds.stream().anyMatch(k -> k.nemesis == Nemesis.kill) && kinds.stream().anyMatch(k -> k.nemesis == Nemesis.pause),
                "both nemeses struck: " + kinds);
        List<String> history = Files.readAllLines(runDir.resolve("history.jsonl"));
        for (String f : List.of("write", "unmap", "read", "snapshot", "clone", "rollback", "grow")) {
            assertTrue(history.stream().anyMatch(l -> l.contains("\"type\":\"ok\"") && l.contains("\"workload\":\"model\"") && l.contains("\"f\":\"" + f + "\"")),
                    "a " + f + " of the model workload succeeded");
        }
        assertTrue(report.workloadLines().stream().anyMatch(l -> l.startsWith("model: ") && l.contains("blocks compared with the model")),
                report.workloadLines().toString());
        assertTrue(report.byWorkload().get("model")[0] >= 100, "enough happened to mean something: " + report.summary());
    }
}
