package io.basalt.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.chaos.ChaosRun.Workload;
import io.basalt.chaos.Schedule.Nemesis;
import io.basalt.node.cluster.CgroupNetwork;

/**
 * {@code basalt chaos run} on three real node processes, short enough for CI: the registers
 * workload under kills and pauses must come out valid, with its files written; both workloads
 * under partitions too, with the cuts seen to take effect; the durability
 * workload must pass on the real build and report lost writes with the test-only mutation that
 * acknowledges a write before the cluster committed it. Every node process is stopped by the run
 * itself ({@link NodeProcesses#close}), also when it fails.
 */
class ChaosRunProcessTest {
    /** No scheduled faults: the durability workload's own final kill of every node is the fault under test. */
    private static final java.util.Set<Nemesis> NO_NEMESIS = EnumSet.noneOf(Nemesis.class);

    @TempDir
    Path dir;

    private static Report run(ChaosRun.Options options) throws Exception {
        return new ChaosRun(options, line -> System.out.println("[chaos] " + line)).run();
    }

    @Test
    void registersUnderKillsAndPausesAreLinearizable() throws Exception {
        Path runDir = dir.resolve("registers");
        // Seed 29 plans a pause of one node, then a kill of one (ScheduleTest keeps plans stable per
        // seed): both nemeses strike within 40 s even when a restarted node takes 10 s to answer.
        Report report = run(new ChaosRun.Options(EnumSet.of(Workload.registers), EnumSet.of(Nemesis.kill, Nemesis.pause), Duration.ofSeconds(40), 29,
                3, runDir, false));
        System.out.print(report.text());
        assertTrue(report.valid(), report.text());
        assertTrue(report.summary().endsWith("lost 0; violations 0; verdict valid"), report.summary());
        List<Schedule.Kind> kinds = report.faults().stream().map(w -> w.fault().kind()).toList();
        assertTrue(kinds.stream().anyMatch(k -> k.nemesis == Nemesis.kill) && kinds.stream().anyMatch(k -> k.nemesis == Nemesis.pause),
                "both nemeses struck: " + kinds);
        assertTrue(report.ok() >= 100, "enough happened to mean something: " + report.summary());
        for (String file : List.of("history.jsonl", "faults.jsonl", "report.txt", "verdict.json", "chaos.html", "schedule.json", "node-1.log",
                "node-2.log", "node-3.log")) {
            assertTrue(Files.size(runDir.resolve(file)) > 0, file + " written");
        }
        long faultLines = Files.readAllLines(runDir.resolve("faults.jsonl")).size();
        assertEquals(report.faults().size(), faultLines, "every fault logged with its window");
        assertTrue(Files.readString(runDir.resolve("verdict.json")).contains("\"verdict\" : \"valid\""));
    }

    /**
     * Partitions only, both workloads: valid, nothing lost, and the cuts were real: while the
     * leader was cut off, the groups it led were seen led from the other side, and a cut-off node
     * saw groups without a leader. No rule of the run is left in OUTPUT afterwards.
     */
    @Test
    void underPartitionsNothingIsLostAndTheCutOffLeadersGroupsAreLedFromTheOtherSide() throws Exception {
        Optional<String> missing = CgroupNetwork.missing();
        assumeTrue(missing.isEmpty(), () -> "partitions need " + missing.orElseThrow());
        Path runDir = dir.resolve("partitions");
        // Seed 25 plans a bridge for 9.8 s, then the leader cut off for 8.1 s (ScheduleTest keeps plans stable per seed).
        Report report = run(new ChaosRun.Options(EnumSet.allOf(Workload.class), EnumSet.of(Nemesis.partition), Duration.ofSeconds(30), 25, 3, runDir,
                false));
        System.out.print(report.text());
        assertTrue(report.valid(), report.text());
        assertTrue(report.summary().endsWith("lost 0; violations 0; verdict valid"), report.summary());
        List<io.basalt.chaos.Nemesis.Window> cuts = report.faults().stream().filter(w -> w.fault().kind().nemesis == Nemesis.partition).toList();
        assertTrue(cuts.size() >= 2, "partitions struck: " + report.faults());
        assertTrue(cuts.stream().anyMatch(w -> w.fault().kind() == Schedule.Kind.PARTITION_LEADER && w.effect().ledBeforeCount() > 0
                && w.effect().movedCount() > 0), "a cut-off leader's groups moved to the other side: " + cuts.stream().map(w -> w.effect().describe()).toList());
        assertTrue(cuts.stream().filter(w -> w.fault().kind() == Schedule.Kind.PARTITION_LEADER || w.fault().kind() == Schedule.Kind.PARTITION_MAJORITY)
                .allMatch(w -> w.effect().leaderlessCountMax() > 0), "every node cut off both ways lost its leader somewhere: "
                + cuts.stream().map(w -> w.effect().describe()).toList());
        assertTrue(Files.readString(runDir.resolve("faults.jsonl")).contains("\"cutLinks\""), "faults.jsonl names the cut links");
        assertTrue(report.ok() >= 100, "enough happened to mean something: " + report.summary());
        String rules = new String(new ProcessBuilder("iptables", "-w", "10", "-S", "OUTPUT").redirectErrorStream(true).start().getInputStream().readAllBytes());
        assertFalse(rules.contains(CgroupNetwork.MARKER_PREFIX + ProcessHandle.current().pid() + "-"), "every rule removed: " + rules);
    }

    @Test
    void acknowledgedWritesSurviveKillingEveryNodeAndAnEarlyAcknowledgementIsCaughtLosingThem() throws Exception {
        Report real = run(new ChaosRun.Options(EnumSet.of(Workload.durability), NO_NEMESIS, Duration.ofSeconds(8), 11, 3, dir.resolve("real"), false));
        System.out.print(real.text());
        assertTrue(real.valid(), real.text());
        assertEquals(1, real.faults().size(), "the final kill of every node: " + real.faults());
        assertTrue(real.ok() >= 50, real.summary());

        Report mutant = run(new ChaosRun.Options(EnumSet.of(Workload.durability), NO_NEMESIS, Duration.ofSeconds(8), 11, 3, dir.resolve("mutant"), true));
        System.out.print(mutant.text());
        assertFalse(mutant.valid(), "acknowledging before the commit loses writes at the kill: " + mutant.summary());
        assertFalse(mutant.lost().isEmpty(), mutant.text());
        assertTrue(mutant.summary().endsWith("verdict invalid"), mutant.summary());
    }

    /**
     * Disk faults, durability workload: every node's data on a fault disk, power cuts (one node,
     * every node) and a window of failing fsyncs, then the final kill with a power cut of every
     * disk: no acknowledged write may be lost, so every write the cluster acknowledged must have
     * been fsynced on a quorum. Each fault logged in faults.jsonl; no mount left behind.
     */
    @Test
    void underPowerCutsAndFailingFsyncsNoAcknowledgedWriteIsLost() throws Exception {
        Optional<String> missing = io.basalt.chaos.disk.FaultMount.unavailableReason();
        assumeTrue(missing.isEmpty(), () -> "disk faults need " + missing.orElseThrow());
        Path runDir = dir.resolve("disk");
        // Seed 7 plans a power cut of every node first (then fsync failing on node 2, a power cut of
        // node 2): the first strikes at 3 s; on a loaded 2-core machine the nodes took 21 s to answer
        // after it, so within 25 s it was the only scheduled fault, and the final power cut the second.
        Report report = run(new ChaosRun.Options(EnumSet.of(Workload.durability), EnumSet.of(Nemesis.disk), Duration.ofSeconds(25), 7, 3, runDir,
                false));
        System.out.print(report.text());
        assertTrue(report.valid(), report.text());
        assertTrue(report.summary().endsWith("lost 0; violations 0; verdict valid"), report.summary());
        List<Schedule.Kind> kinds = report.faults().stream().map(w -> w.fault().kind()).toList();
        assertTrue(kinds.contains(Schedule.Kind.POWER_CUT_ALL), "a power cut of every node struck: " + kinds);
        assertEquals(report.faults().size(), Files.readAllLines(runDir.resolve("faults.jsonl")).size(), "every fault logged with its window");
        for (int id = 1; id <= 3; id++) {
            assertFalse(io.basalt.chaos.disk.FaultMount.mounted(runDir.resolve("node-" + id)), "node-" + id + " unmounted after the run");
        }
    }
}
