package io.basalt.cluster.probe;

import java.time.Duration;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.raft.RaftSetup;

/**
 * The current peers of every group of a cluster, as the nodes report them (Ratis keeps each
 * group's configuration in its log: that, not the config file, says who holds a group once
 * membership has changed). A group no reachable node reports falls back to its bootstrap peers
 * ({@link RaftSetup#metaGroup}, {@link RaftSetup#pgGroup}), which is right for a cluster that
 * never changed and the best guess otherwise.
 */
public final class GroupDirectory {
    /** A short bound: a client asks this once when it opens. */
    public static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);

    private final Map<RaftGroupId, RaftGroup> groups;

    private GroupDirectory(Map<RaftGroupId, RaftGroup> groups) {
        this.groups = groups;
    }

    public static GroupDirectory discover(ClusterConfig config) {
        return discover(config, NodeProbe.probeAll(config, PROBE_TIMEOUT).values());
    }

    /** The leader's configuration of each group where one reports it, else any holder's, else bootstrap. */
    static GroupDirectory discover(ClusterConfig config, java.util.Collection<NodeProbe.NodeView> views) {
        Map<RaftGroupId, RaftGroup> out = new LinkedHashMap<>();
        out.put(RaftSetup.metaGroupId(config), RaftSetup.metaGroup(config));
        for (int pg = 0; pg < config.pgCount(); pg++) {
            RaftGroupId id = RaftSetup.pgGroupId(config, pg);
            out.put(id, bootstrapPg(config, pg));
        }
        for (RaftGroupId id : List.copyOf(out.keySet())) {
            reported(id, views).ifPresent(g -> out.put(id, RaftGroup.valueOf(id, g.peers())));
        }
        return new GroupDirectory(out);
    }

    private static RaftGroup bootstrapPg(ClusterConfig config, int pg) {
        try {
            return RaftSetup.pgGroup(config, pg);
        } catch (IllegalArgumentException e) {
            return RaftGroup.valueOf(RaftSetup.pgGroupId(config, pg));
        }
    }

    /** The leader's view of group {@code id} where one reports it, else any holder's with peers (highest term first among leaders). */
    public static Optional<NodeProbe.GroupView> reported(RaftGroupId id, java.util.Collection<NodeProbe.NodeView> views) {
        Optional<NodeProbe.GroupView> best = Optional.empty();
        for (NodeProbe.NodeView v : views) {
            for (NodeProbe.GroupView g : v.groups()) {
                if (!g.groupId().equals(id) || g.peers().isEmpty()) {
                    continue;
                }
                if (best.isEmpty() || (g.isLeader() && (!best.get().isLeader()
                        || Comparator.comparingLong(NodeProbe.GroupView::term).compare(g, best.get()) > 0))) {
                    best = Optional.of(g);
                }
            }
        }
        return best;
    }

    /** The group {@code id} with its current peers (bootstrap peers for a group no node reports). */
    public RaftGroup group(RaftGroupId id) {
        RaftGroup g = groups.get(id);
        if (g == null) {
            throw new IllegalArgumentException("group " + id + " (expected: the meta group or a PG of this cluster)");
        }
        return g;
    }

    public RaftGroup meta(ClusterConfig config) {
        return groups.get(RaftSetup.metaGroupId(config));
    }

    public RaftGroup pg(ClusterConfig config, int pg) {
        return groups.get(RaftSetup.pgGroupId(config, pg));
    }
}
