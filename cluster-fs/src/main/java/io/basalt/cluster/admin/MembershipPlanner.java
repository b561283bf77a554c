package io.basalt.cluster.admin;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * What a membership change moves where (docs/decisions/cluster-membership.md), decided from the groups'
 * current members and the nodes that are up; {@link ClusterAdmin} carries a plan out. Pure: no
 * Ratis, no network, no clock, so every decision is tested without a cluster.
 *
 * <p>A plan is a list of single-replica {@link Move}s. The executor carries out each one as:
 * an empty copy of the group on {@code to}; leadership off {@code from} first when {@code from}
 * leads ({@link #successor}); the configuration with {@code to} in {@code from}'s place; a wait
 * until {@code to} has caught up; {@code from}'s copy removed.
 */
public final class MembershipPlanner {
    /** The meta group's name; every other group is a placement group. */
    public static final String META = "meta";

    private MembershipPlanner() {}

    /** One group's members, node ids in configuration order. */
    public record Group(String name, List<Integer> nodeIds) {
        public Group {
            nodeIds = List.copyOf(nodeIds);
            if (nodeIds.stream().distinct().count() != nodeIds.size()) {
                throw new IllegalArgumentException(name + " members: " + nodeIds + " (expected: no node twice)");
            }
        }

        boolean isMeta() {
            return name.equals(META);
        }

        boolean has(int nodeId) {
            return nodeIds.contains(nodeId);
        }
    }

    /** One replica of {@code group} to move from node {@code from} to node {@code to}; {@code after} is {@code before} with {@code to} in {@code from}'s place. */
    public record Move(String group, int from, int to, List<Integer> before, List<Integer> after) {
        public Move {
            before = List.copyOf(before);
            after = List.copyOf(after);
        }

        static Move of(Group g, int from, int to) {
            if (!g.has(from) || g.has(to)) {
                throw new IllegalArgumentException(g.name() + " on " + g.nodeIds() + ": move " + from + " -> " + to
                        + " (expected: a member to a non-member)");
            }
            return new Move(g.name(), from, to, g.nodeIds(), g.nodeIds().stream().map(n -> n == from ? to : n).toList());
        }
    }

    /**
     * Add-node: PG replicas move to the new node {@code id} from the nodes holding the most, until
     * it holds {@code floor(replicas / nodes)} ({@code target}); the meta group is grown apart
     * ({@link #metaGrowth}), after the moves.
     */
    public record AddPlan(List<Move> moves, int target, int total) {
        public AddPlan {
            moves = List.copyOf(moves);
        }
    }

    public static AddPlan addNode(int id, Collection<Group> groups, List<Integer> upNodes) {
        List<Group> pgs = groups.stream().filter(g -> !g.isMeta()).toList();
        Map<Integer, Integer> load = pgLoad(pgs, upNodes);
        load.putIfAbsent(id, 0);
        int total = pgs.stream().mapToInt(g -> g.nodeIds().size()).sum();
        int target = total / load.size();
        List<Move> moves = new ArrayList<>();
        for (Group g : pgs) {
            if (load.get(id) >= target) {
                break;
            }
            if (g.has(id)) {
                continue;
            }
            Optional<Integer> donor = g.nodeIds().stream().filter(n -> load.getOrDefault(n, 0) > target)
                    .max(Comparator.comparingInt((Integer n) -> load.getOrDefault(n, 0)).thenComparingInt(n -> n));
            if (donor.isPresent()) {
                moves.add(Move.of(g, donor.get(), id));
                load.merge(donor.get(), -1, Integer::sum);
                load.merge(id, 1, Integer::sum);
            }
        }
        return new AddPlan(moves, target, total);
    }

    /**
     * Remove-node: every replica node {@code id} holds (meta included) moves to another up node,
     * the least loaded first (ties: the lowest id), keeping each group's replica count. Refused,
     * with nothing planned, when some group has no other up node to go to.
     */
    public static List<Move> removeNode(int id, Collection<Group> groups, List<Integer> upNodes) {
        Map<Integer, Integer> load = pgLoad(groups, upNodes);
        List<Move> moves = new ArrayList<>();
        for (Group g : groups) {
            if (!g.has(id)) {
                continue;
            }
            Optional<Integer> to = upNodes.stream().filter(n -> n != id && !g.has(n))
                    .min(Comparator.comparingInt((Integer n) -> load.getOrDefault(n, 0)).thenComparingInt(n -> n));
            if (to.isEmpty()) {
                throw new IllegalArgumentException("remove node " + id + ": " + g.name() + " is on nodes " + g.nodeIds()
                        + " and no other node is up to take its replica (up: " + upNodes + "); add a node first");
            }
            moves.add(Move.of(g, id, to.get()));
            load.merge(to.get(), 1, Integer::sum);
        }
        return moves;
    }

    /** Replace-node: {@code replacement} takes {@code dead}'s place in every group that has {@code dead} (meta included). */
    public static List<Move> replaceNode(int dead, int replacement, Collection<Group> groups) {
        if (dead == replacement) {
            throw new IllegalArgumentException("replace node " + dead + " by itself (expected: two different nodes)");
        }
        List<Move> moves = new ArrayList<>();
        for (Group g : groups) {
            if (g.has(dead)) {
                if (g.has(replacement)) {
                    throw new IllegalArgumentException("replace node " + dead + " by " + replacement + ": " + g.name()
                            + " already has both (" + g.nodeIds() + ")");
                }
                moves.add(Move.of(g, dead, replacement));
            }
        }
        return moves;
    }

    /** Meta voters for a cluster of {@code upNodes}: 1 below three nodes, 3 below five, then 5 (always odd). */
    public static int metaVotersFor(int upNodes) {
        return upNodes >= 5 ? 5 : upNodes >= 3 ? 3 : 1;
    }

    /**
     * How the meta group grows after node {@code newNode} joined: {@code joining} are the nodes
     * to add as voters, one configuration change each, in order (empty when it has enough).
     */
    public record MetaGrowth(int target, List<Integer> joining) {
        public MetaGrowth {
            joining = List.copyOf(joining);
        }
    }

    /**
     * The meta group grows with the cluster (a cluster started on one node would otherwise keep
     * its namespace on that node alone): when the up nodes call for more voters than it has
     * ({@link #metaVotersFor}), the new node and then the up nodes with the fewest PG replicas
     * (ties: the lowest id) join it.
     */
    public static MetaGrowth metaGrowth(int newNode, Group meta, Collection<Group> groups, List<Integer> upNodes) {
        int target = metaVotersFor(upNodes.size());
        int adding = target - meta.nodeIds().size();
        if (adding <= 0) {
            return new MetaGrowth(target, List.of());
        }
        Map<Integer, Integer> load = pgLoad(groups, upNodes);
        List<Integer> candidates = new ArrayList<>();
        if (!meta.has(newNode)) {
            candidates.add(newNode);
        }
        upNodes.stream().filter(n -> n != newNode && !meta.has(n))
                .sorted(Comparator.comparingInt((Integer n) -> load.getOrDefault(n, 0)).thenComparingInt(n -> n))
                .forEach(candidates::add);
        // target <= up nodes, so the up nodes outside meta always cover what it lacks.
        if (candidates.size() < adding) {
            throw new IllegalStateException("meta on " + meta.nodeIds() + ": " + adding + " voters to add, candidates " + candidates
                    + " (expected: at least " + adding + "; up: " + upNodes + ")");
        }
        return new MetaGrowth(target, candidates.subList(0, adding));
    }

    /**
     * Leader transfer before a move: the member of {@code g} that takes the lead from
     * {@code from} (the first other member that is up), or empty when none is up.
     */
    public static OptionalInt successor(Group g, int from, List<Integer> upNodes) {
        return g.nodeIds().stream().filter(n -> n != from && upNodes.contains(n)).mapToInt(Integer::intValue).findFirst();
    }

    /** {@code groups} after {@code moves}, in the same order: what the cluster looks like once a plan is carried out. */
    public static List<Group> apply(List<Group> groups, List<Move> moves) {
        Map<String, Group> byName = new java.util.LinkedHashMap<>();
        groups.forEach(g -> byName.put(g.name(), g));
        for (Move m : moves) {
            Group g = byName.get(m.group());
            if (g == null || !g.nodeIds().equals(m.before())) {
                throw new IllegalArgumentException("move " + m + " (expected: a group now on " + m.before() + ", found " + g + ")");
            }
            byName.put(g.name(), new Group(g.name(), m.after()));
        }
        return List.copyOf(byName.values());
    }

    /** PG replicas per node (meta aside), counting every up node, also those holding none. */
    static Map<Integer, Integer> pgLoad(Collection<Group> groups, List<Integer> upNodes) {
        Map<Integer, Integer> load = new HashMap<>();
        upNodes.forEach(n -> load.put(n, 0));
        for (Group g : groups) {
            if (!g.isMeta()) {
                g.nodeIds().forEach(n -> load.merge(n, 1, Integer::sum));
            }
        }
        return load;
    }
}
