package io.basalt.chaos;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

import io.basalt.node.cluster.CgroupNetwork;

/**
 * Partitions between the node processes: each node runs in a cgroup of its own
 * ({@link NodeProcesses}), and a cut link "A to B" is a {@link CgroupNetwork.Rule} dropping what
 * A's sockets send to B's port. All nodes listen on loopback, so addresses cannot tell them apart;
 * ports can: a node's one port carries all Raft traffic of every group it serves. Cutting A to B
 * stops every connection A opens to B (requests, heartbeats, votes, and the ACKs of A's side);
 * B's answers on such a connection still travel but answer only what arrived before the cut. A
 * cut both ways therefore silences the pair; a one-way cut leaves B's requests to A and A's
 * answers to them flowing, as Ratis's own {@code cutOneWay} injections in the in-process harness
 * do. Clients (this process, outside every node's cgroup) still reach every node, as in Jepsen:
 * a cut-off leader keeps getting requests it must not acknowledge.
 *
 * <p>Owns no rule itself: {@link CgroupNetwork} holds them, heals them and removes them on exit.
 */
final class Partitioner {
    private final CgroupNetwork net;
    private final NodeProcesses nodes;

    Partitioner(CgroupNetwork net, NodeProcesses nodes) {
        this.net = net;
        this.nodes = nodes;
    }

    /**
     * The links {@code fault} cuts among the nodes {@code all}: node to the nodes it can no longer
     * send to. Only {@link Schedule.Kind}s of the partition nemesis have links.
     */
    static SortedMap<Integer, SortedSet<Integer>> links(Schedule.Fault fault, List<Integer> all) {
        SortedMap<Integer, SortedSet<Integer>> out = new TreeMap<>();
        List<Integer> victims = fault.victims();
        List<Integer> rest = all.stream().filter(id -> !victims.contains(id)).sorted().toList();
        switch (fault.kind()) {
            case PARTITION_LEADER, PARTITION_MAJORITY, PARTITION_FLAP -> cutBothWays(out, victims, rest);
            case PARTITION_BRIDGE -> cutBothWays(out, rest.subList(0, rest.size() / 2), rest.subList(rest.size() / 2, rest.size()));
            case PARTITION_ONE_WAY -> victims.forEach(v -> out.computeIfAbsent(v, k -> new TreeSet<>()).addAll(rest));
            case KILL_ONE, KILL_MAJORITY, KILL_ALL, PAUSE_ONE, PAUSE_MAJORITY, POWER_CUT_ONE, POWER_CUT_ALL, FSYNC_FAIL_ONE, DISK_FULL_ONE,
                 READ_EIO_ONE, BITROT_ONE, REPLACE_ONE ->
                    throw new IllegalArgumentException("fault " + fault.index() + ": " + fault.kind() + " (expected: a partition)");
        }
        out.values().removeIf(SortedSet::isEmpty);
        if (out.isEmpty()) {
            throw new IllegalArgumentException("fault " + fault.index() + ": " + fault.describe() + " among " + all + " cuts no link (expected: two sides)");
        }
        return out;
    }

    /**
     * The side of {@code fault} that is cut off, whose leadership should move and which should
     * lose its leader: the victims; for a bridge, the lower half of the others.
     */
    static List<Integer> cutOff(Schedule.Fault fault, List<Integer> all) {
        if (fault.kind() != Schedule.Kind.PARTITION_BRIDGE) {
            return fault.victims();
        }
        List<Integer> rest = all.stream().filter(id -> !fault.victims().contains(id)).sorted().toList();
        return rest.subList(0, rest.size() / 2);
    }

    private static void cutBothWays(Map<Integer, SortedSet<Integer>> out, List<Integer> a, List<Integer> b) {
        for (int x : a) {
            out.computeIfAbsent(x, k -> new TreeSet<>()).addAll(b);
        }
        for (int y : b) {
            out.computeIfAbsent(y, k -> new TreeSet<>()).addAll(a);
        }
    }

    /** Adds the rules of {@code fault}'s links; returns them as "1->2,3" strings for the log. */
    List<String> cut(Schedule.Fault fault) throws IOException {
        List<Integer> all = List.copyOf(nodes.ids());
        List<String> described = new ArrayList<>();
        for (var link : links(fault, all).entrySet()) {
            List<Integer> ports = link.getValue().stream().map(nodes::port).toList();
            net.drop(new CgroupNetwork.Rule(nodes.group(link.getKey()), ports));
            described.add(link.getKey() + "->" + link.getValue().stream().map(String::valueOf).reduce((x, y) -> x + "," + y).orElseThrow());
        }
        return described;
    }

    /** Removes every rule in place. */
    void heal() throws IOException {
        net.heal();
    }
}
