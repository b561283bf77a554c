package io.basalt.cluster.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import org.apache.ratis.proto.RaftProtos.FollowerInfoProto;
import org.apache.ratis.proto.RaftProtos.LogInfoProto;
import org.apache.ratis.proto.RaftProtos.RaftConfigurationProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.proto.RaftProtos.RoleInfoProto;
import org.apache.ratis.proto.RaftProtos.ServerRpcProto;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.GroupInfoReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.junit.jupiter.api.Test;

import io.basalt.cluster.server.StaleCopySweep.Verdict;

/**
 * When a node may delete its copy of a group, from another peer's view of the group: only when
 * that peer is a member of a settled configuration without the node and knows a leader. The
 * whole flow on a real cluster is {@code MembershipTest.aReplacedNodeThatComesBack…}.
 */
class StaleCopySweepTest {
    private static final RaftPeerId N1 = RaftPeerId.valueOf("n1");
    private static final RaftPeerId N3 = RaftPeerId.valueOf("n3");

    private static RaftPeerProto peer(String id) {
        return RaftPeerProto.newBuilder().setId(ByteString.copyFromUtf8(id)).build();
    }

    private static RaftConfigurationProto conf(List<String> peers, List<String> oldPeers) {
        RaftConfigurationProto.Builder b = RaftConfigurationProto.newBuilder();
        peers.forEach(p -> b.addPeers(peer(p)));
        oldPeers.forEach(p -> b.addOldPeers(peer(p)));
        return b.build();
    }

    private static final RoleInfoProto LEADER = RoleInfoProto.newBuilder().setRole(RaftPeerRole.LEADER).build();
    private static final RoleInfoProto FOLLOWER_OF_N2 = RoleInfoProto.newBuilder().setRole(RaftPeerRole.FOLLOWER)
            .setFollowerInfo(FollowerInfoProto.newBuilder().setLeaderInfo(ServerRpcProto.newBuilder().setId(peer("n2")))).build();
    private static final RoleInfoProto CANDIDATE = RoleInfoProto.newBuilder().setRole(RaftPeerRole.CANDIDATE).build();

    private static Verdict verdict(RoleInfoProto role, RaftConfigurationProto conf) {
        RaftGroupId g = RaftGroupId.randomId();
        GroupInfoReply r = new GroupInfoReply(ClientId.randomId(), N1, g, 1, List.of(), RaftGroup.valueOf(g), role, true, conf,
                LogInfoProto.getDefaultInstance());
        return StaleCopySweep.verdict(r, N1, N3);
    }

    @Test
    void aSettledConfigurationWithoutTheNodeFromAMemberThatKnowsALeaderMeansStale() {
        assertEquals(Verdict.STALE, verdict(LEADER, conf(List.of("n1", "n2", "n4"), List.of())));
        assertEquals(Verdict.STALE, verdict(FOLLOWER_OF_N2, conf(List.of("n1", "n2", "n4"), List.of())));
    }

    @Test
    void aConfigurationNamingTheNodeMeansMember() {
        assertEquals(Verdict.MEMBER, verdict(LEADER, conf(List.of("n1", "n2", "n3"), List.of())));
        assertEquals(Verdict.MEMBER, verdict(LEADER, conf(List.of("n1", "n2", "n4"), List.of("n1", "n2", "n3"))));
    }

    @Test
    void aJointConfigurationAPeerWithoutALeaderOrANonMemberDecideNothing() {
        // Moving off the node, not settled yet: the old part still names it (a member until it ends).
        assertEquals(Verdict.UNKNOWN, verdict(CANDIDATE, conf(List.of("n1", "n2", "n3"), List.of())));
        assertEquals(Verdict.UNKNOWN, verdict(CANDIDATE, conf(List.of("n1", "n2", "n4"), List.of())));
        // The answering peer (n1) is not in the configuration it reports: itself a stale copy.
        assertEquals(Verdict.UNKNOWN, verdict(LEADER, conf(List.of("n2", "n4", "n5"), List.of())));
        assertEquals(Verdict.UNKNOWN, verdict(LEADER, conf(List.of("n1", "n2", "n4"), List.of("n1", "n2", "n5"))));
    }
}
