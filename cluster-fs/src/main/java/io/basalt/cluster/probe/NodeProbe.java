package io.basalt.cluster.probe;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.proto.RaftProtos.CommitInfoProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.proto.RaftProtos.RoleInfoProto;
import org.apache.ratis.proto.RaftProtos.ServerRpcProto;
import org.apache.ratis.protocol.GroupInfoReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.util.TimeDuration;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.raft.RaftSetup;

/**
 * Asks one node, over Ratis's group-management RPCs ({@code list}, {@code info}), which groups it
 * holds and how each looks from there. One attempt per RPC, bounded by {@code timeout}: a node
 * that does not answer is reported with the reason, never retried here.
 */
public final class NodeProbe {
    private NodeProbe() {}

    /**
     * One group as one node sees it.
     *
     * @param peers         the group's current configuration (Ratis's, from the log)
     * @param commitIndex   node id to its commit index as this node last heard it (on the leader:
     *                      the followers' progress)
     * @param rpcElapsedMs  on the leader: node id to ms since the follower last answered
     * @param leaderId      the leader this node knows of, or empty
     * @param term          the leader's term when this node leads, else 0
     * @param snapshotIndex the log index of this node's latest snapshot, or -1
     */
    public record GroupView(RaftGroupId groupId, RaftPeerRole role, OptionalInt leaderId, long term, List<RaftPeer> peers,
                            Map<Integer, Long> commitIndex, Map<Integer, Long> rpcElapsedMs, long appliedIndex,
                            long snapshotIndex, boolean storageHealthy) {
        public GroupView {
            peers = List.copyOf(peers);
            commitIndex = Map.copyOf(commitIndex);
            rpcElapsedMs = Map.copyOf(rpcElapsedMs);
        }

        public boolean isLeader() {
            return role == RaftPeerRole.LEADER;
        }

        public List<Integer> peerNodeIds() {
            List<Integer> out = new ArrayList<>();
            for (RaftPeer p : peers) {
                RaftSetup.nodeIdOf(p.getId()).ifPresent(out::add);
            }
            return out;
        }
    }

    /** What one node answered: its groups, or why it could not be asked. */
    public record NodeView(int nodeId, String address, String error, List<GroupView> groups) {
        public NodeView {
            groups = List.copyOf(groups);
        }

        public boolean up() {
            return error == null;
        }
    }

    /** A client that talks to the one peer {@code nodeId} at {@code address}, one attempt per call (with the cluster's TLS, if any). */
    public static RaftClient clientFor(ClusterConfig config, int nodeId, String address, Duration timeout) {
        RaftProperties p = new RaftProperties();
        RaftClientConfigKeys.Rpc.setRequestTimeout(p, TimeDuration.valueOf(timeout.toMillis(), TimeUnit.MILLISECONDS));
        RaftPeer peer = RaftPeer.newBuilder().setId(RaftSetup.peerId(nodeId)).setAddress(address).build();
        return RaftClient.newBuilder().setProperties(p).setParameters(RaftSetup.parameters(config)).setRaftGroup(RaftGroup.valueOf(RaftGroupId.randomId(), peer))
                .setRetryPolicy(RetryPolicies.noRetry()).build();
    }

    /** Probes the config's nodes, then any node a group's configuration names that was not asked yet. */
    public static Map<Integer, NodeView> probeAll(ClusterConfig config, Duration timeout) {
        Map<Integer, NodeView> views = new TreeMap<>();
        Map<Integer, String> addresses = new LinkedHashMap<>();
        config.nodes().forEach(a -> addresses.put(a.id(), a.address()));
        Deque<Integer> todo = new ArrayDeque<>(addresses.keySet());
        while (!todo.isEmpty()) {
            int id = todo.poll();
            NodeView v = probe(config, id, addresses.get(id), timeout);
            views.put(id, v);
            for (GroupView g : v.groups()) {
                for (RaftPeer p : g.peers()) {
                    OptionalInt pid = RaftSetup.nodeIdOf(p.getId());
                    if (pid.isPresent() && !addresses.containsKey(pid.getAsInt())) {
                        addresses.put(pid.getAsInt(), p.getAddress());
                        todo.add(pid.getAsInt());
                    }
                }
            }
        }
        return views;
    }

    /**
     * Asks node {@code nodeId} at {@code address} for every group it holds; a group whose replica
     * cannot answer is left out, so one closed replica does not make the whole node look down.
     */
    public static NodeView probe(ClusterConfig config, int nodeId, String address, Duration timeout) {
        try (RaftClient c = clientFor(config, nodeId, address, timeout)) {
            var api = c.getGroupManagementApi(RaftSetup.peerId(nodeId));
            List<GroupView> groups = new ArrayList<>();
            for (RaftGroupId g : api.list().getGroupIds()) {
                try {
                    groups.add(view(api.info(g)));
                } catch (IOException | RuntimeException e) {
                    // One replica that cannot answer (Ratis closed it) is left out as a replica the
                    // node does not hold; the node and its other groups still answer.
                }
            }
            return new NodeView(nodeId, address, null, groups);
        } catch (IOException | RuntimeException e) {
            return new NodeView(nodeId, address, reason(e), List.of());
        }
    }

    /** Asks node {@code nodeId} about one group; throws when it cannot answer. */
    static GroupView info(ClusterConfig config, int nodeId, String address, RaftGroupId group, Duration timeout) throws IOException {
        try (RaftClient c = clientFor(config, nodeId, address, timeout)) {
            return view(c.getGroupManagementApi(RaftSetup.peerId(nodeId)).info(group));
        }
    }

    static GroupView view(GroupInfoReply r) {
        RoleInfoProto role = r.getRoleInfoProto();
        Map<Integer, Long> commits = new HashMap<>();
        for (CommitInfoProto ci : r.getCommitInfos()) {
            RaftSetup.nodeIdOf(RaftPeerId.valueOf(ci.getServer().getId())).ifPresent(id -> commits.put(id, ci.getCommitIndex()));
        }
        Map<Integer, Long> elapsed = new HashMap<>();
        OptionalInt leader = OptionalInt.empty();
        long term = 0;
        if (role.getRole() == RaftPeerRole.LEADER && role.hasLeaderInfo()) {
            term = role.getLeaderInfo().getTerm();
            leader = RaftSetup.nodeIdOf(r.getServerId());
            for (ServerRpcProto f : role.getLeaderInfo().getFollowerInfoList()) {
                RaftSetup.nodeIdOf(RaftPeerId.valueOf(f.getId().getId())).ifPresent(id -> elapsed.put(id, f.getLastRpcElapsedTimeMs()));
            }
        } else if (role.hasFollowerInfo() && role.getFollowerInfo().hasLeaderInfo()
                && role.getFollowerInfo().getLeaderInfo().hasId()) {
            leader = RaftSetup.nodeIdOf(RaftPeerId.valueOf(role.getFollowerInfo().getLeaderInfo().getId().getId()));
        }
        long applied = r.getLogInfoProto().hasApplied() ? r.getLogInfoProto().getApplied().getIndex() : -1;
        long snapshot = r.getLogInfoProto().hasLastSnapshot() ? r.getLogInfoProto().getLastSnapshot().getIndex() : -1;
        return new GroupView(r.getRaftGroupId(), role.getRole(), leader, term, new ArrayList<>(r.getGroup().getPeers()), commits,
                elapsed, applied, snapshot, r.isRaftStorageHealthy());
    }

    /** The innermost message of a failure, in one line: what an operator can act on. */
    public static String reason(Throwable e) {
        Throwable t = e;
        String msg = String.valueOf(e);
        for (Throwable c = e; c != null && c.getCause() != c; c = c.getCause()) {
            if (c instanceof javax.net.ssl.SSLException) {
                // Say it plainly: the usual cause is a certificate of another cluster's CA (or none).
                return cut("TLS handshake refused (expected: a certificate of this cluster's CA on both ends): " + c.getMessage());
            }
        }
        while (t != null) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) {
                msg = t.getClass().getSimpleName() + ": " + t.getMessage();
            }
            t = t.getCause() == t ? null : t.getCause();
        }
        return cut(msg);
    }

    private static String cut(String msg) {
        String line = msg.replace('\n', ' ');
        return line.length() > 160 ? line.substring(0, 160) + "…" : line;
    }
}
