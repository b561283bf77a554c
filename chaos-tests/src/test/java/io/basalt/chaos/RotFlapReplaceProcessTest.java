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
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.chaos.ChaosRun.Workload;
import io.basalt.chaos.Schedule.Nemesis;
import io.basalt.node.cluster.CgroupNetwork;

/**
 * {@code basalt chaos run} with the bit-rot nemesis, flapping partitions and a node replaced, on three real
 * node processes. Every node process is stopped by the run itself ({@link NodeProcesses#close}),
 * also when it fails.
 */
class RotFlapReplaceProcessTest {
    @TempDir
    Path dir;

    private static Report run(ChaosRun.Options options) throws Exception {
        return new ChaosRun(options, line -> System.out.println("[chaos] " + line)).run();
    }

    /**
     * Grains rotted on one replica while the registers workload runs: no read returns rotten
     * bytes (registers stay linearizable, cold grains read right or fail), and the victim's scrub
     * finds and repairs every rotted version still there (none unrepairable, none left rotten).
     */
    @Test
    void rotOnOneReplicaIsNeverReadBackAndTheScrubRepairsIt() throws Exception {
        Path runDir = dir.resolve("bitrot");
        Report report = run(new ChaosRun.Options(EnumSet.of(Workload.registers), EnumSet.of(Nemesis.bitrot), Duration.ofSeconds(20), 3, 3, runDir,
                false));
        System.out.print(report.text());
        assertTrue(report.valid(), report.text());
        Map<String, Long> rot = report.bitRot();
        assertTrue(rot.getOrDefault("faults", 0L) >= 2, "bit rot struck: " + rot);
        // Each fault rots one cold grain per PG the victim holds (3) and one register's grain.
        assertTrue(rot.get("rotted") >= 3 * rot.get("faults"), rot.toString());
        // Cold grains are never rewritten, so their rot is there until the scrub repairs it; a
        // register's rot is often replaced by a write first, before the scrub finds it or between
        // its finding and its repair (the repair then installs nothing).
        long cold = report.faults().stream().flatMap(w -> w.rot().targets().stream()).filter(t -> t.startsWith("cold ")).count();
        assertTrue(cold >= 3 * rot.get("faults"), rot.toString());
        assertTrue(rot.get("repaired") >= cold, "the scrub repaired every cold grain's rot: " + rot);
        assertTrue(rot.get("found") >= rot.get("repaired"), rot.toString());
        assertEquals(0, rot.get("unrepairable"), rot.toString());
        assertTrue(rot.get("readsRight") > 0, "rotted grains were read meanwhile: " + rot);
        assertTrue(report.faults().stream().allMatch(w -> w.rot().healedMs() >= 0), "every rot healed");
        String faults = Files.readString(runDir.resolve("faults.jsonl"));
        assertTrue(faults.contains("\"scrubRepaired\"") && faults.contains("\"rotted\""), faults);
        assertTrue(Files.readString(runDir.resolve("verdict.json")).contains("\"bitRot\""));
        assertTrue(report.text().contains("bit rot: "), report.text());
    }

    /**
     * One node cut off and healed again many times in a window: nothing lost, registers
     * linearizable, each cut logged with its window, no rule left behind.
     */
    @Test
    void underFlappingPartitionsNothingIsLostAndEachCutIsLogged() throws Exception {
        Optional<String> missing = CgroupNetwork.missing();
        assumeTrue(missing.isEmpty(), () -> "partitions need " + missing.orElseThrow());
        Path runDir = dir.resolve("flap");
        // Seed 5 plans node 1 cut off 6 times in 10.9 s, from 3 s on (then node 2, which rarely fits in 20 s).
        Report report = run(new ChaosRun.Options(EnumSet.of(Workload.registers), EnumSet.of(Nemesis.flap), Duration.ofSeconds(20), 5, 3, runDir, false));
        System.out.print(report.text());
        assertTrue(report.valid(), report.text());
        List<io.basalt.chaos.Nemesis.Window> flaps = report.faults().stream().filter(w -> w.fault().kind() == Schedule.Kind.PARTITION_FLAP).toList();
        assertFalse(flaps.isEmpty(), "a flapping partition struck: " + report.faults());
        for (var w : flaps) {
            assertEquals(Schedule.flaps(5, w.fault()).size() / 2 + 1, w.effect().flaps().size(), "every planned cut made: " + w.effect().describe());
            assertTrue(w.effect().flaps().size() >= 3, w.effect().describe());
            for (int i = 0; i < w.effect().flaps().size(); i++) {
                var cut = w.effect().flaps().get(i);
                assertTrue(cut.cutNs() < cut.healNs() && (i == 0 || w.effect().flaps().get(i - 1).healNs() < cut.cutNs()), "cuts in turn: "
                        + w.effect().describe());
            }
        }
        assertTrue(Files.readString(runDir.resolve("faults.jsonl")).contains("\"flaps\""), "faults.jsonl names each cut's window");
        assertTrue(report.ok() >= 100, "enough happened to mean something: " + report.summary());
        String rules = new String(new ProcessBuilder("iptables", "-w", "10", "-S", "OUTPUT").redirectErrorStream(true).start().getInputStream().readAllBytes());
        assertFalse(rules.contains(CgroupNetwork.MARKER_PREFIX + ProcessHandle.current().pid() + "-"), "every rule removed: " + rules);
    }

    /**
     * A node killed for good under load, its data wiped, and a new node put in its place in every
     * group: nothing acknowledged is lost, registers stay linearizable, and the new node serves.
     */
    @Test
    void aNodeReplacedUnderLoadLosesNothing() throws Exception {
        Path runDir = dir.resolve("replace");
        Report report = run(new ChaosRun.Options(EnumSet.allOf(Workload.class), EnumSet.of(Nemesis.replace), Duration.ofSeconds(15), 2, 3, runDir,
                false));
        System.out.print(report.text());
        assertTrue(report.valid(), report.text());
        List<io.basalt.chaos.Nemesis.Window> replaced = report.faults().stream().filter(w -> w.fault().kind() == Schedule.Kind.REPLACE_ONE).toList();
        assertFalse(replaced.isEmpty(), "a node was replaced: " + report.faults());
        for (var w : replaced) {
            assertEquals(2, w.fault().victims().size(), "the replaced node and its replacement: " + w.fault());
            assertTrue(w.fault().victims().get(1) > 3, "a new id: " + w.fault());
            assertTrue(w.backNs() != io.basalt.chaos.Nemesis.NOT_BACK, "the new node answered with a leader in each of its groups");
        }
        int fresh = replaced.get(0).fault().victims().get(1);
        int old = replaced.get(0).fault().victims().get(0);
        String cluster = Files.readString(runDir.resolve("cluster.json"));
        assertTrue(cluster.contains("\"id\":" + fresh) || cluster.contains("\"id\" : " + fresh), "the new node is in the cluster file: " + cluster);
        assertFalse(Files.exists(runDir.resolve("node-" + old)) && Files.list(runDir.resolve("node-" + old)).findAny().isPresent(),
                "the replaced node's data was wiped");
        assertTrue(report.ok() >= 100, "enough happened to mean something: " + report.summary());
    }
}
