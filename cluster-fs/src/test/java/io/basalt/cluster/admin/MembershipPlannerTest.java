package io.basalt.cluster.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.OptionalInt;

import org.junit.jupiter.api.Test;

import io.basalt.cluster.admin.MembershipPlanner.Group;
import io.basalt.cluster.admin.MembershipPlanner.Move;

/** The membership planner's decisions, without a cluster: groups and up nodes in, moves out. */
class MembershipPlannerTest {
    /** Bootstrap placement of 3 PGs x 3 replicas on nodes 1..3, meta on all three. */
    private static final List<Group> THREE_BY_THREE = List.of(new Group("meta", List.of(1, 2, 3)), new Group("pg-0", List.of(1, 2, 3)),
            new Group("pg-1", List.of(2, 3, 1)), new Group("pg-2", List.of(3, 1, 2)));

    @Test
    void addNodeTakesItsFloorShareFromTheMostLoadedHighestIdFirst() {
        MembershipPlanner.AddPlan plan = MembershipPlanner.addNode(4, THREE_BY_THREE, List.of(1, 2, 3, 4));

        // 9 PG replicas over 4 nodes: node 4 takes floor(9 / 4) = 2; the meta group is not touched.
        assertEquals(2, plan.target());
        assertEquals(9, plan.total());
        assertEquals(List.of(new Move("pg-0", 3, 4, List.of(1, 2, 3), List.of(1, 2, 4)),
                new Move("pg-1", 2, 4, List.of(2, 3, 1), List.of(4, 3, 1))), plan.moves());
    }

    @Test
    void addNodeMovesNothingWhenTheNewNodeAlreadyHoldsItsShare() {
        List<Group> groups = List.of(new Group("pg-0", List.of(1, 2)), new Group("pg-1", List.of(2, 3)), new Group("pg-2", List.of(3, 1)));

        assertEquals(List.of(), MembershipPlanner.addNode(3, groups, List.of(1, 2, 3)).moves());
    }

    @Test
    void removeNodeMovesEveryReplicaMetaIncludedToTheLeastLoadedUpNode() {
        List<Group> groups = List.of(new Group("meta", List.of(1, 2, 3)), new Group("pg-0", List.of(1, 2, 3)),
                new Group("pg-1", List.of(2, 3, 4)), new Group("pg-2", List.of(3, 1, 2)));

        List<Move> moves = MembershipPlanner.removeNode(1, groups, List.of(1, 2, 3, 4, 5));

        // Node 5 holds no PG, node 4 one: meta's replica goes to 5; pg-0's to 4 (tied with 5, which counts the replica it
        // just took; ties go to the lowest id); pg-2's to 5.
        assertEquals(List.of(new Move("meta", 1, 5, List.of(1, 2, 3), List.of(5, 2, 3)), new Move("pg-0", 1, 4, List.of(1, 2, 3), List.of(4, 2, 3)),
                new Move("pg-2", 1, 5, List.of(3, 1, 2), List.of(3, 5, 2))), moves);
        assertTrue(MembershipPlanner.apply(groups, moves).stream().noneMatch(g -> g.nodeIds().contains(1)));
    }

    @Test
    void removeNodeIsRefusedBeforeAnyMoveWhenAGroupHasNowhereToGo() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MembershipPlanner.removeNode(2, THREE_BY_THREE, List.of(1, 2, 3)));

        assertEquals("remove node 2: meta is on nodes [1, 2, 3] and no other node is up to take its replica (up: [1, 2, 3]); add a node first",
                e.getMessage());
    }

    @Test
    void removeNodeDoesNotMoveReplicasToADownNode() {
        List<Group> groups = List.of(new Group("pg-0", List.of(1, 2)));

        assertEquals(List.of(new Move("pg-0", 1, 4, List.of(1, 2), List.of(4, 2))), MembershipPlanner.removeNode(1, groups, List.of(1, 2, 4)));
        assertThrows(IllegalArgumentException.class, () -> MembershipPlanner.removeNode(1, groups, List.of(1, 2)));
    }

    @Test
    void replaceNodePutsTheReplacementInTheDeadNodesPlaceInEveryGroupItHad() {
        List<Group> groups = List.of(new Group("meta", List.of(1, 2, 3)), new Group("pg-0", List.of(3, 1, 2)), new Group("pg-1", List.of(1, 2, 4)));

        List<Move> moves = MembershipPlanner.replaceNode(3, 5, groups);

        assertEquals(List.of(new Move("meta", 3, 5, List.of(1, 2, 3), List.of(1, 2, 5)), new Move("pg-0", 3, 5, List.of(3, 1, 2), List.of(5, 1, 2))),
                moves);
    }

    @Test
    void replaceNodeIsRefusedWhenAGroupHasBothNodesOrTheNodeIsItself() {
        IllegalArgumentException both = assertThrows(IllegalArgumentException.class, () -> MembershipPlanner.replaceNode(1, 2, THREE_BY_THREE));
        assertEquals("replace node 1 by 2: meta already has both ([1, 2, 3])", both.getMessage());

        IllegalArgumentException self = assertThrows(IllegalArgumentException.class, () -> MembershipPlanner.replaceNode(1, 1, THREE_BY_THREE));
        assertEquals("replace node 1 by itself (expected: two different nodes)", self.getMessage());
    }

    @Test
    void metaVotersAreOddAndGrowWithTheUpNodes() {
        assertEquals(List.of(1, 1, 3, 3, 5, 5, 5), List.of(1, 2, 3, 4, 5, 6, 9).stream().map(MembershipPlanner::metaVotersFor).toList());
    }

    @Test
    void metaGrowsWithTheNewNodeThenTheLeastLoadedNodes() {
        Group meta = new Group("meta", List.of(1));
        List<Group> pgs = List.of(new Group("pg-0", List.of(1, 2)), new Group("pg-1", List.of(2, 1)), new Group("pg-2", List.of(2, 3)));

        MembershipPlanner.MetaGrowth growth = MembershipPlanner.metaGrowth(4, meta, pgs, List.of(1, 2, 3, 4));

        // 4 up nodes call for 3 voters: the new node 4, then node 3 (1 PG replica; node 2 holds 3).
        assertEquals(new MembershipPlanner.MetaGrowth(3, List.of(4, 3)), growth);
    }

    @Test
    void metaStaysWhenItHasItsVotersOrTooFewNodesAreUp() {
        List<Group> pgs = List.of(new Group("pg-0", List.of(1, 2, 3)));

        assertEquals(new MembershipPlanner.MetaGrowth(3, List.of()),
                MembershipPlanner.metaGrowth(4, new Group("meta", List.of(1, 2, 3)), pgs, List.of(1, 2, 3, 4)));
        // Five up nodes call for 5 voters: the new node 5, then every other node, the lightest first (ties: lowest id).
        assertEquals(new MembershipPlanner.MetaGrowth(5, List.of(5, 4, 2, 3)),
                MembershipPlanner.metaGrowth(5, new Group("meta", List.of(1)), pgs, List.of(1, 2, 3, 4, 5)));
    }

    @Test
    void leadershipGoesToTheFirstOtherMemberThatIsUp() {
        Group g = new Group("pg-0", List.of(3, 1, 2));

        assertEquals(OptionalInt.of(2), MembershipPlanner.successor(g, 3, List.of(2, 3)));
        assertEquals(OptionalInt.of(1), MembershipPlanner.successor(g, 3, List.of(1, 2, 3)));
        assertEquals(OptionalInt.empty(), MembershipPlanner.successor(g, 3, List.of(3, 4)));
    }

    @Test
    void applyRefusesAMoveFromAStateTheGroupIsNotIn() {
        Move stale = new Move("pg-0", 3, 4, List.of(1, 2, 3), List.of(1, 2, 4));
        List<Group> now = List.of(new Group("pg-0", List.of(1, 2, 5)));

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MembershipPlanner.apply(now, List.of(stale)));
        assertTrue(e.getMessage().contains("expected: a group now on [1, 2, 3]"), e.getMessage());
    }
}
