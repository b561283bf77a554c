package io.basalt.cluster.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;

import io.basalt.cluster.admin.MembershipPlanner.Group;
import io.basalt.cluster.admin.MembershipPlanner.Move;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * Membership plans on random clusters (any placement of PG replicas, a meta group on the first
 * nodes), checked by applying them: what each change promises holds afterwards.
 */
class MembershipPlannerProperties {
    @Property
    void afterRemoveNoGroupHoldsTheNodeAndEveryGroupKeepsItsReplicaCount(@ForAll @IntRange(min = 2, max = 9) int nodes,
            @ForAll @IntRange(min = 1, max = 3) int replicas, @ForAll @IntRange(min = 1, max = 24) int pgs, @ForAll long seed) {
        int r = Math.min(replicas, nodes - 1);
        Random rnd = new Random(seed);
        // Every group leaves a node outside it, so the removal is possible (refusals: MembershipPlannerTest).
        List<Group> groups = cluster(nodes, Math.min(3, nodes - 1), r, pgs, rnd);
        List<Integer> up = IntStream.rangeClosed(1, nodes).boxed().toList();
        int removed = 1 + rnd.nextInt(nodes);

        List<Move> moves = MembershipPlanner.removeNode(removed, groups, up);
        List<Group> after = MembershipPlanner.apply(groups, moves);

        assertEquals(groups.stream().filter(g -> g.has(removed)).count(), moves.size(), "one move per group on node " + removed);
        for (int i = 0; i < groups.size(); i++) {
            Group g = after.get(i);
            assertTrue(!g.has(removed), g + " still on node " + removed);
            assertEquals(groups.get(i).nodeIds().size(), g.nodeIds().size(), g.name() + " replica count");
            assertTrue(up.containsAll(g.nodeIds()), g + " on a node that is not up");
        }
    }

    @Property
    void afterAddTheNewNodeHoldsItsShareAndNoDonorFallsBelowIt(@ForAll @IntRange(min = 1, max = 9) int nodes,
            @ForAll @IntRange(min = 1, max = 3) int replicas, @ForAll @IntRange(min = 1, max = 24) int pgs, @ForAll long seed) {
        int r = Math.min(replicas, nodes);
        List<Group> groups = cluster(nodes, Math.min(3, nodes), r, pgs, new Random(seed));
        int added = nodes + 1;
        List<Integer> up = IntStream.rangeClosed(1, added).boxed().toList();

        MembershipPlanner.AddPlan plan = MembershipPlanner.addNode(added, groups, up);
        List<Group> after = MembershipPlanner.apply(groups, plan.moves());

        Map<Integer, Integer> before = MembershipPlanner.pgLoad(groups, up);
        Map<Integer, Integer> load = MembershipPlanner.pgLoad(after, up);
        assertEquals(pgs * r / added, plan.target(), "floor(replicas / nodes)");
        assertEquals(plan.target(), load.get(added), "node " + added + "'s PG replicas; moves " + plan.moves());
        for (int n = 1; n <= nodes; n++) {
            assertTrue(load.get(n) >= Math.min(before.get(n), plan.target()), "node " + n + " gave below the target: " + before + " -> " + load);
        }
        assertEquals(groups.get(0), after.get(0), "the meta group does not move");
        for (int i = 0; i < groups.size(); i++) {
            assertEquals(groups.get(i).nodeIds().size(), after.get(i).nodeIds().size(), after.get(i).name() + " replica count");
        }
    }

    @Property
    void replaceKeepsEveryGroupsShapeWithTheReplacementInTheDeadNodesPlace(@ForAll @IntRange(min = 1, max = 9) int nodes,
            @ForAll @IntRange(min = 1, max = 3) int replicas, @ForAll @IntRange(min = 1, max = 24) int pgs, @ForAll long seed) {
        Random rnd = new Random(seed);
        List<Group> groups = cluster(nodes, Math.min(3, nodes), Math.min(replicas, nodes), pgs, rnd);
        int dead = 1 + rnd.nextInt(nodes);
        int replacement = nodes + 1;

        List<Group> after = MembershipPlanner.apply(groups, MembershipPlanner.replaceNode(dead, replacement, groups));

        for (int i = 0; i < groups.size(); i++) {
            List<Integer> expected = groups.get(i).nodeIds().stream().map(n -> n == dead ? replacement : n).toList();
            assertEquals(expected, after.get(i).nodeIds(), groups.get(i).name());
        }
    }

    /** A meta group on the first {@code metaVoters} nodes and {@code pgs} PGs, each on {@code replicas} random distinct nodes. */
    private static List<Group> cluster(int nodes, int metaVoters, int replicas, int pgs, Random rnd) {
        List<Group> out = new ArrayList<>();
        out.add(new Group(MembershipPlanner.META, IntStream.rangeClosed(1, metaVoters).boxed().toList()));
        List<Integer> ids = new ArrayList<>(IntStream.rangeClosed(1, nodes).boxed().toList());
        for (int pg = 0; pg < pgs; pg++) {
            Collections.shuffle(ids, rnd);
            out.add(new Group("pg-" + pg, ids.subList(0, replicas)));
        }
        return out;
    }
}
