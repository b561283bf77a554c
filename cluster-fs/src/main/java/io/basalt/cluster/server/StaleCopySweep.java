package io.basalt.cluster.server;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.ratis.client.RaftClient;
import org.apache.ratis.proto.RaftProtos.RaftConfigurationProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.proto.RaftProtos.RoleInfoProto;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.GroupInfoReply;
import org.apache.ratis.protocol.GroupManagementRequest;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.basalt.cluster.probe.NodeProbe;
import io.basalt.cluster.raft.LogEvictionStop;
import io.basalt.cluster.raft.RaftSetup;

/**
 * Deletes the copies of groups this node was taken out of while it was down. A node replaced by
 * {@code cluster replace-node} (or removed) while dead keeps its old divisions on disk; started
 * again, it loads them in configurations that still name it, campaigns in them forever (its
 * pre-votes are refused, so it takes no leader's term, but it never stops) and keeps their data
 * on its disk. Ceph's OSDs drop stray PG copies once the map no longer maps the PG to them; this
 * is the same for a Raft group: ask the other peers of the copy's configuration how the group
 * looks now, and delete the copy once one of them, a member that knows a leader, holds a settled
 * configuration (no joint phase) without this node.
 *
 * <p>Why a settled configuration without this node is final: Raft only appends the new
 * configuration after the joint one (old and new together) is committed, and from then on the
 * group never returns to the old one alone. Only groups this node held at start are examined, and
 * each only until its fate is known (its copy has a leader, or a current member's configuration
 * names this node): a group added to this node later (a move in progress) is never touched.
 */
final class StaleCopySweep implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StaleCopySweep.class);
    static final Duration FIRST_CHECK = Duration.ofSeconds(2);
    static final Duration CHECK_EVERY = Duration.ofSeconds(5);
    static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);

    private final RaftServer server;
    private final RaftPeerId self;
    private final Map<RaftGroupId, String> names;
    private final Set<RaftGroupId> pending;
    private final Thread thread;
    private final ClientId clientId = ClientId.randomId();
    private long callId;
    private volatile boolean closed;

    private final io.basalt.cluster.ClusterConfig config;

    private StaleCopySweep(io.basalt.cluster.ClusterConfig config, RaftServer server, RaftPeerId self, Map<RaftGroupId, String> names,
                           Iterable<RaftGroupId> groups) {
        this.config = config;
        this.server = server;
        this.self = self;
        this.names = names;
        this.pending = new LinkedHashSet<>();
        groups.forEach(pending::add);
        this.thread = Thread.ofPlatform().daemon().name("basalt-stale-copies-" + self).unstarted(this::run);
    }

    /** Examines the groups {@code server} holds now, in the background, until each one's fate is known. */
    static StaleCopySweep start(io.basalt.cluster.ClusterConfig config, RaftServer server, RaftPeerId self, Map<RaftGroupId, String> names)
            throws IOException {
        StaleCopySweep s = new StaleCopySweep(config, server, self, names, server.getGroupIds());
        s.thread.start();
        return s;
    }

    private void run() {
        try {
            Thread.sleep(FIRST_CHECK);
            while (!closed && !pending.isEmpty()) {
                for (RaftGroupId id : new ArrayList<>(pending)) {
                    if (closed) {
                        return;
                    }
                    try {
                        if (examine(id)) {
                            pending.remove(id);
                        }
                    } catch (IOException | RuntimeException e) {
                        log.debug("{}: {} not examined yet: {}", self, name(id), e.toString());
                    }
                }
                Thread.sleep(CHECK_EVERY);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** True once {@code id}'s fate is known (kept, deleted, or gone); false to look again later. */
    private boolean examine(RaftGroupId id) throws IOException {
        if (!contains(server.getGroupIds(), id)) {
            return true; // removed meanwhile (by an admin)
        }
        RaftServer.Division d = server.getDivision(id);
        if (d.getInfo().getLeaderId() != null) {
            return true; // this copy leads, or a leader talks to it: a member
        }
        for (RaftPeer p : d.getRaftConf().getAllPeers()) {
            var nodeId = RaftSetup.nodeIdOf(p.getId());
            if (p.getId().equals(self) || p.getAddress() == null || nodeId.isEmpty()) {
                continue;
            }
            GroupInfoReply r;
            try (RaftClient c = NodeProbe.clientFor(config, nodeId.getAsInt(), p.getAddress(), PROBE_TIMEOUT)) {
                r = c.getGroupManagementApi(p.getId()).info(id);
            } catch (IOException | RuntimeException e) {
                continue; // down, or does not hold the group: ask the next peer
            }
            Verdict v = verdict(r, p.getId(), self);
            if (v == Verdict.MEMBER) {
                return true;
            }
            if (v == Verdict.STALE) {
                delete(id, p.getId(), r.getConf().orElseThrow());
                return true;
            }
        }
        return false;
    }

    enum Verdict { MEMBER, STALE, UNKNOWN }

    /**
     * What peer {@code answering}'s view of a group says of {@code self}'s copy: STALE only when
     * the peer is a member of a settled configuration that leaves {@code self} out and knows a leader.
     */
    static Verdict verdict(GroupInfoReply r, RaftPeerId answering, RaftPeerId self) {
        if (r.getConf().isEmpty()) {
            return Verdict.UNKNOWN;
        }
        RaftConfigurationProto conf = r.getConf().get();
        if (has(conf.getPeersList(), self) || has(conf.getOldPeersList(), self)
                || has(conf.getListenersList(), self) || has(conf.getOldListenersList(), self)) {
            return knowsLeader(r.getRoleInfoProto()) ? Verdict.MEMBER : Verdict.UNKNOWN;
        }
        boolean settled = conf.getOldPeersCount() == 0 && conf.getOldListenersCount() == 0;
        return settled && has(conf.getPeersList(), answering) && knowsLeader(r.getRoleInfoProto()) ? Verdict.STALE : Verdict.UNKNOWN;
    }

    private static boolean knowsLeader(RoleInfoProto role) {
        return role.getRole() == RaftPeerRole.LEADER
                || role.hasFollowerInfo() && role.getFollowerInfo().hasLeaderInfo() && role.getFollowerInfo().getLeaderInfo().hasId()
                        && !role.getFollowerInfo().getLeaderInfo().getId().getId().isEmpty();
    }

    private static boolean has(List<RaftPeerProto> peers, RaftPeerId id) {
        return peers.stream().anyMatch(p -> RaftPeerId.valueOf(p.getId()).equals(id));
    }

    private static boolean contains(Iterable<RaftGroupId> ids, RaftGroupId id) {
        for (RaftGroupId g : ids) {
            if (g.equals(id)) {
                return true;
            }
        }
        return false;
    }

    private void delete(RaftGroupId id, RaftPeerId told, RaftConfigurationProto conf) throws IOException {
        List<String> now = conf.getPeersList().stream().map(p -> RaftPeerId.valueOf(p.getId()).toString()).toList();
        LogEvictionStop.beforeClose(server, id);
        RaftClientReply reply = server.groupManagement(GroupManagementRequest.newRemove(clientId, self, ++callId, id, true, false));
        if (!reply.isSuccess()) {
            throw new IOException("deleting the stale copy of " + name(id) + " failed: " + reply.getException());
        }
        log.warn("{}: {} no longer has this node (its members are {}, as {} reports); deleted this node's stale copy",
                self, name(id), now, told);
    }

    private String name(RaftGroupId id) {
        return names.getOrDefault(id, id.toString());
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
    }
}
