package io.basalt.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.chaos.Schedule.Kind;
import io.basalt.node.cluster.CgroupNetwork;

/**
 * The partitions' bookkeeping, mostly without root: {@link CgroupNetwork} against a recording
 * iptables (which keeps the OUTPUT chain as a list, as the kernel would, and prints it as
 * {@code -S} does) and a cgroup root in a temporary directory. Every rule added is removed, by
 * the same specification, after each fault, after a failure half-way through a cut, and by the
 * sweep of a dead run's leftovers; the last also against the real iptables when run as root.
 */
class PartitionRulesTest {
    @TempDir
    Path cgroupRoot;

    /** An OUTPUT chain kept in memory: {@code -I} adds a rule, {@code -D} deletes one that exists (else fails, as iptables does). */
    static final class RecordingIptables implements CgroupNetwork.Iptables {
        final List<List<String>> chain = new ArrayList<>();
        final List<List<String>> calls = new ArrayList<>();
        int failOnInsertNumber = -1;
        int insertCount;

        @Override
        public void run(List<String> args) throws IOException {
            calls.add(args);
            List<String> a = args.subList(2, args.size()); // past "-w SECONDS"
            List<String> spec = a.subList(2, a.size());   // past "-I OUTPUT" / "-D OUTPUT"
            assertEquals("OUTPUT", a.get(1), args.toString());
            switch (a.get(0)) {
                case "-I" -> {
                    if (++insertCount == failOnInsertNumber) {
                        throw new IOException("iptables: no chain/target/match by that name (injected)");
                    }
                    chain.add(0, List.copyOf(spec));
                }
                case "-D" -> {
                    if (!chain.remove(spec)) {
                        throw new IOException("iptables: bad rule (does a matching rule exist in that chain?) " + spec);
                    }
                }
                default -> throw new IOException("unexpected iptables call " + args);
            }
        }

        @Override
        public List<String> outputRules() {
            List<String> out = new ArrayList<>(List.of("-P OUTPUT ACCEPT"));
            for (List<String> rule : chain) {
                // As iptables -S prints it: the cgroup path in quotes.
                List<String> printed = new ArrayList<>(rule);
                int path = printed.indexOf("--path");
                if (path >= 0) {
                    printed.set(path + 1, "\"" + printed.get(path + 1) + "\"");
                }
                out.add("-A OUTPUT " + String.join(" ", printed));
            }
            return out;
        }
    }

    private static Schedule.Fault fault(Kind kind, Integer... victims) {
        return new Schedule.Fault(1, kind, List.of(victims), 0, 0, 1000);
    }

    private static Map<Integer, SortedSet<Integer>> links(Kind kind, List<Integer> all, Integer... victims) {
        return Partitioner.links(fault(kind, victims), all);
    }

    private static SortedSet<Integer> set(Integer... ids) {
        return new TreeSet<>(List.of(ids));
    }

    @Test
    void eachPartitionCutsTheLinksBetweenItsSidesAndNoOthers() {
        List<Integer> three = List.of(1, 2, 3);
        List<Integer> five = List.of(1, 2, 3, 4, 5);
        assertEquals(Map.of(2, set(1, 3), 1, set(2), 3, set(2)), links(Kind.PARTITION_LEADER, three, 2));
        assertEquals(Map.of(4, set(1, 2, 3), 5, set(1, 2, 3), 1, set(4, 5), 2, set(4, 5), 3, set(4, 5)), links(Kind.PARTITION_MAJORITY, five, 4, 5));
        // Bridge 3 of five: halves {1, 2} and {4, 5} cannot reach each other; 3 reaches all.
        assertEquals(Map.of(1, set(4, 5), 2, set(4, 5), 4, set(1, 2), 5, set(1, 2)), links(Kind.PARTITION_BRIDGE, five, 3));
        assertEquals(Map.of(1, set(3), 3, set(1)), links(Kind.PARTITION_BRIDGE, three, 2));
        assertEquals(Map.of(1, set(2, 3)), links(Kind.PARTITION_ONE_WAY, three, 1), "one way: only the victim's packets are dropped");
        assertEquals(List.of(1), Partitioner.cutOff(fault(Kind.PARTITION_BRIDGE, 3), five.subList(0, 4)), "a bridge's cut-off side: the lower half");
        assertEquals(links(Kind.PARTITION_LEADER, three, 3), links(Kind.PARTITION_FLAP, three, 3), "each cut of a flap cuts the victim off both ways");
        assertThrows(IllegalArgumentException.class, () -> links(Kind.BITROT_ONE, three, 1));
        assertThrows(IllegalArgumentException.class, () -> links(Kind.KILL_ONE, three, 1));
        assertThrows(IllegalArgumentException.class, () -> links(Kind.PARTITION_LEADER, List.of(1), 1), "one node: nothing to cut");
    }

    @Test
    void everyRuleAddedForAFaultIsRemovedByTheSameSpecificationAtTheHeal() throws Exception {
        RecordingIptables iptables = new RecordingIptables();
        try (CgroupNetwork net = CgroupNetwork.open(cgroupRoot, iptables, CgroupNetwork.MARKER_PREFIX + ProcessHandle.current().pid() + "-900")) {
            Map<Integer, CgroupNetwork.Group> groups = Map.of(1, net.group("node-1"), 2, net.group("node-2"), 3, net.group("node-3"));
            assertTrue(Files.isDirectory(cgroupRoot.resolve(net.marker() + "-node-1")), "the cgroup is a directory under the root");
            for (Kind kind : List.of(Kind.PARTITION_LEADER, Kind.PARTITION_MAJORITY, Kind.PARTITION_BRIDGE, Kind.PARTITION_ONE_WAY)) {
                var links = Partitioner.links(fault(kind, 2), List.of(1, 2, 3));
                for (var link : links.entrySet()) {
                    net.drop(new CgroupNetwork.Rule(groups.get(link.getKey()), link.getValue().stream().map(id -> 7000 + id).toList()));
                }
                assertEquals(links.size(), iptables.chain.size(), kind + ": one rule per node that sends into the cut");
                assertTrue(iptables.chain.stream().allMatch(r -> r.contains(net.marker()) && r.contains("DROP")), "marked: " + iptables.chain);
                net.heal();
                assertTrue(iptables.chain.isEmpty(), kind + " left " + iptables.chain);
                assertTrue(net.active().isEmpty());
            }
            assertEquals(net.addedCount(), net.removedCount());
            assertEquals(2 * net.addedCount(), iptables.calls.size(), "one -I and one -D per rule, nothing else");
        }
        assertFalse(Files.exists(cgroupRoot.resolve(CgroupNetwork.MARKER_PREFIX + ProcessHandle.current().pid() + "-900-node-1")), "close removes the cgroups");
    }

    @Test
    void aCutThatFailsHalfWayIsHealedOfTheRulesItDidAdd() throws Exception {
        RecordingIptables iptables = new RecordingIptables();
        iptables.failOnInsertNumber = 2;
        CgroupNetwork net = CgroupNetwork.open(cgroupRoot, iptables, CgroupNetwork.MARKER_PREFIX + ProcessHandle.current().pid() + "-901");
        try (net) {
            CgroupNetwork.Group g1 = net.group("node-1");
            CgroupNetwork.Group g2 = net.group("node-2");
            net.drop(new CgroupNetwork.Rule(g1, List.of(7002)));
            assertThrows(IOException.class, () -> net.drop(new CgroupNetwork.Rule(g2, List.of(7001))));
            assertEquals(1, net.active().size(), "the failed rule is not counted as in place");
            assertThrows(IllegalStateException.class, () -> net.drop(new CgroupNetwork.Rule(g1, List.of(7002))), "a rule twice");
        }
        assertTrue(iptables.chain.isEmpty(), "close healed: " + iptables.chain);
        assertEquals(1, net.addedCount());
        assertEquals(1, net.removedCount());
    }

    @Test
    void theSweepRemovesADeadRunsRulesAndCgroupsAndLeavesALiveRunsAndOthers() throws Exception {
        long dead = deadPid();
        RecordingIptables iptables = new RecordingIptables();
        String live = CgroupNetwork.MARKER_PREFIX + ProcessHandle.current().pid() + "-902";
        String gone = CgroupNetwork.MARKER_PREFIX + dead + "-1";
        iptables.chain.add(List.of("-p", "tcp", "-m", "cgroup", "--path", "/" + gone + "-node-1", "-m", "multiport", "--dports", "7002,7003", "-m",
                "comment", "--comment", gone, "-j", "DROP"));
        iptables.chain.add(List.of("-m", "cgroup", "--path", "/" + live + "-node-1", "-m", "comment", "--comment", live, "-j", "DROP"));
        iptables.chain.add(List.of("-o", "lo", "-j", "ACCEPT"));
        Files.createDirectory(cgroupRoot.resolve(gone + "-node-1"));
        Files.createDirectory(cgroupRoot.resolve(live + "-node-1"));

        List<String> removed = CgroupNetwork.sweep(iptables, cgroupRoot);

        assertEquals(2, removed.size(), removed.toString());
        assertEquals(2, iptables.chain.size(), "the live run's rule and the foreign one stay: " + iptables.chain);
        assertTrue(iptables.chain.stream().noneMatch(r -> r.contains(gone)), iptables.chain.toString());
        assertFalse(Files.exists(cgroupRoot.resolve(gone + "-node-1")));
        assertTrue(Files.exists(cgroupRoot.resolve(live + "-node-1")));
    }

    @Test
    void theSweepRemovesARealLeftoverRuleAsIptablesPrintsIt() throws Exception {
        Optional<String> missing = CgroupNetwork.missing();
        assumeTrue(missing.isEmpty(), () -> "needs " + missing.orElseThrow());
        Path root = CgroupNetwork.cgroup2Root().orElseThrow();
        String gone = CgroupNetwork.MARKER_PREFIX + deadPid() + "-1";
        Path cgroup = Files.createDirectory(root.resolve(gone + "-node-1"));
        try {
            iptables("-w", "10", "-I", "OUTPUT", "-m", "cgroup", "--path", "/" + gone + "-node-1", "-p", "tcp", "-m", "multiport", "--dports", "1,2", "-m",
                    "comment", "--comment", gone, "-j", "DROP");
            assertTrue(iptables("-w", "10", "-S", "OUTPUT").contains(gone), "the leftover is in place");

            List<String> removed = CgroupNetwork.sweep();

            assertTrue(removed.stream().anyMatch(r -> r.startsWith("rule ") && r.contains(gone)), removed.toString());
            assertFalse(iptables("-w", "10", "-S", "OUTPUT").contains(gone), "the sweep deleted it");
            assertFalse(Files.exists(cgroup), "and its cgroup");
        } finally {
            Files.deleteIfExists(cgroup);
        }
    }

    private static String iptables(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("iptables"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), command + ": " + out);
        return out;
    }

    /** The pid of a process that ran and exited (pids are reused only after the kernel wraps around). */
    private static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        return p.pid();
    }
}
