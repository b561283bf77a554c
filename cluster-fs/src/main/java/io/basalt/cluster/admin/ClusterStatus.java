package io.basalt.cluster.admin;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.TreeMap;

import org.apache.ratis.protocol.RaftGroupId;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.meta.NodeSpace;
import io.basalt.cluster.probe.NodeProbe;
import io.basalt.cluster.raft.RaftSetup;

/**
 * The cluster as every node reports it, for {@code basalt cluster status}: each node asked
 * over Ratis's group management (its groups, roles, peers, commit indexes), then per group the
 * leader, each replica's lag behind the leader's commit index, and a health:
 * <ul>
 *   <li>{@link Health#OK}: a leader, every replica of the configuration up and within
 *       {@link #LAG_ENTRIES_DEGRADED} entries;</li>
 *   <li>{@link Health#DEGRADED}: a leader and a majority, but a replica is down, lagging, behind
 *       the leader's snapshot (it can only catch up by installing it), or has not answered the
 *       leader for {@link #SILENT_MS_DEGRADED} ms while behind;</li>
 *   <li>{@link Health#UNAVAILABLE}: no leader or no majority up: I/O to it blocks.</li>
 * </ul>
 * Nodes to ask: the config's nodes plus every peer any group's configuration names (so a node
 * added by a membership change is asked even if the config file does not list it yet).
 */
public record ClusterStatus(String cluster, List<NodeState> nodes, List<GroupState> groups, Map<Integer, NodeSpace> spaces) {
    /** A replica further behind the leader's commit index than this is "lagging". */
    public static final long LAG_ENTRIES_DEGRADED = 1000;
    /** A replica behind the leader that has not answered it for this long is "silent". */
    public static final long SILENT_MS_DEGRADED = 5000;
    public static final Duration PROBE_TIMEOUT_DEFAULT = Duration.ofSeconds(3);

    public enum Health { OK, DEGRADED, UNAVAILABLE }

    public record NodeState(int id, String address, boolean up, String reason, int groupCount) {}

    /** @param lag entries behind the leader's commit index; -1 when unknown (down, or no leader) */
    public record ReplicaState(int nodeId, boolean up, boolean leader, long lag) {}

    public record GroupState(String name, OptionalInt leader, long term, long commitIndex, List<ReplicaState> replicas,
                             Health health, String why) {
        public List<Integer> replicaNodeIds() {
            return replicas.stream().map(ReplicaState::nodeId).toList();
        }
    }

    public ClusterStatus {
        nodes = List.copyOf(nodes);
        groups = List.copyOf(groups);
        spaces = Map.copyOf(spaces);
    }

    /** With the nodes' disk space reports from the meta group (docs/decisions/disk-reserve.md). */
    public ClusterStatus withSpaces(List<NodeSpace> reports) {
        Map<Integer, NodeSpace> m = new TreeMap<>();
        reports.forEach(r -> m.put(r.nodeId(), r));
        return new ClusterStatus(cluster, nodes, groups, m);
    }

    /** Nodes whose last report put them below their disk reserve: their groups refuse data writes. */
    public List<Integer> fullNodes() {
        return spaces.values().stream().filter(NodeSpace::full).map(NodeSpace::nodeId).toList();
    }

    /** Nodes not full but below {@link NodeSpace#NEARFULL_RESERVES} reserves: writes stop there soon. */
    public List<Integer> nearFullNodes() {
        return spaces.values().stream().filter(NodeSpace::nearFull).map(NodeSpace::nodeId).toList();
    }

    public static ClusterStatus collect(ClusterConfig config) {
        return collect(config, PROBE_TIMEOUT_DEFAULT);
    }

    public static ClusterStatus collect(ClusterConfig config, Duration timeout) {
        return collect(config, NodeProbe.probeAll(config, timeout));
    }

    /** The status from nodes already probed ({@link NodeProbe#probeAll}), so a caller that needs them too probes once. */
    public static ClusterStatus collect(ClusterConfig config, Map<Integer, NodeProbe.NodeView> views) {
        List<NodeState> nodes = new ArrayList<>();
        for (NodeProbe.NodeView v : views.values()) {
            nodes.add(new NodeState(v.nodeId(), v.address(), v.up(), v.error(), v.groups().size()));
        }
        List<GroupState> groups = new ArrayList<>();
        GroupNames names = new GroupNames(config);
        for (RaftGroupId g : names.allGroups(views.values())) {
            groups.add(group(names.name(g), g, views));
        }
        return new ClusterStatus(config.name(), nodes, groups, Map.of());
    }

    static GroupState group(String name, RaftGroupId g, Map<Integer, NodeProbe.NodeView> views) {
        Map<Integer, NodeProbe.GroupView> holders = new TreeMap<>();
        for (NodeProbe.NodeView v : views.values()) {
            v.groups().stream().filter(x -> x.groupId().equals(g)).findFirst().ifPresent(x -> holders.put(v.nodeId(), x));
        }
        // The leader is the holder that says it leads (the newest term wins); its node id is the
        // one we asked, not its own leader-id field, which can be unset while it takes office.
        Optional<Map.Entry<Integer, NodeProbe.GroupView>> leaderEntry = holders.entrySet().stream().filter(e -> e.getValue().isLeader())
                .max(Comparator.comparingLong(e -> e.getValue().term()));
        Optional<NodeProbe.GroupView> leader = leaderEntry.map(Map.Entry::getValue);
        // The leader's configuration is the newest; without a leader, any holder's is the best we have.
        List<Integer> conf = leader.map(NodeProbe.GroupView::peerNodeIds)
                .or(() -> holders.values().stream().findFirst().map(NodeProbe.GroupView::peerNodeIds)).orElse(List.of());
        if (conf.isEmpty()) {
            return new GroupState(name, OptionalInt.empty(), 0, 0, List.of(), Health.UNAVAILABLE, "no node reports this group");
        }
        OptionalInt leaderId = leaderEntry.map(e -> OptionalInt.of(e.getKey())).orElse(OptionalInt.empty());
        long leaderCommit = leader.flatMap(l -> Optional.ofNullable(l.commitIndex().get(leaderId.getAsInt()))).orElse(0L);
        List<ReplicaState> replicas = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        int up = 0;
        for (int id : conf) {
            boolean isUp = holders.containsKey(id);
            boolean isLeader = leaderId.isPresent() && leaderId.getAsInt() == id;
            long lag = -1;
            if (isUp && leader.isPresent()) {
                Long c = leader.get().commitIndex().get(id);
                lag = c == null ? -1 : Math.max(0, leaderCommit - c);
            }
            up += isUp ? 1 : 0;
            replicas.add(new ReplicaState(id, isUp, isLeader, lag));
            if (!isUp) {
                NodeProbe.NodeView v = views.get(id);
                problems.add("node " + id + (v == null || v.up() ? " does not hold it" : " down"));
            } else if (!isLeader && lag >= 0) {
                replicaProblem(id, lag, leader.get()).ifPresent(problems::add);
            }
        }
        int majority = conf.size() / 2 + 1;
        Health health;
        String why;
        if (leader.isEmpty() || up < majority) {
            health = Health.UNAVAILABLE;
            why = leader.isEmpty() ? "no leader (" + up + " of " + conf.size() + " replicas up)" : "no quorum: " + up + " of " + conf.size() + " up";
        } else if (!problems.isEmpty()) {
            health = Health.DEGRADED;
            why = String.join(", ", problems);
        } else {
            health = Health.OK;
            why = "";
        }
        return new GroupState(name, leaderId, leader.map(NodeProbe.GroupView::term).orElse(0L), leaderCommit, replicas, health, why);
    }

    /** What is wrong with follower {@code id}, {@code lag} entries behind {@code leader}, if anything. */
    private static Optional<String> replicaProblem(int id, long lag, NodeProbe.GroupView leader) {
        Long commit = leader.commitIndex().get(id);
        if (commit != null && lag > 0 && commit < leader.snapshotIndex()) {
            // The leader may have purged the log up to its snapshot: entries cannot bring this
            // replica back, only a snapshot install can. (A replica stuck here is how a new
            // replica that never received the snapshot looked in CI: docs/decisions/cluster-membership.md.)
            return Optional.of("node " + id + " is at entry " + commit + ", behind the leader's snapshot at " + leader.snapshotIndex()
                    + " (needs a snapshot install)");
        }
        Long silentMs = leader.rpcElapsedMs().get(id);
        if (silentMs != null && lag > 0 && silentMs > SILENT_MS_DEGRADED) {
            return Optional.of("node " + id + " lags " + lag + " entries and has not answered the leader for "
                    + String.format(java.util.Locale.ROOT, "%.1f", silentMs / 1000.0) + " s");
        }
        if (lag > LAG_ENTRIES_DEGRADED) {
            return Optional.of("node " + id + " lags " + lag + " entries");
        }
        return Optional.empty();
    }

    public boolean anyUnavailable() {
        return groups.stream().anyMatch(g -> g.health() == Health.UNAVAILABLE);
    }

    public Optional<GroupState> group(String name) {
        return groups.stream().filter(g -> g.name().equals(name)).findFirst();
    }

    public long count(Health h) {
        return groups.stream().filter(g -> g.health() == h).count();
    }

    /** One summary line, then a node table and a group table (like {@code ceph -s} and {@code ceph pg dump}). */
    public String render() {
        StringBuilder sb = new StringBuilder();
        long up = nodes.stream().filter(NodeState::up).count();
        List<Integer> full = fullNodes();
        List<Integer> nearFull = nearFullNodes();
        sb.append(String.format("cluster %s: nodes %d up, %d down; groups %d ok, %d degraded, %d unavailable%s%s%n", cluster, up,
                nodes.size() - up, count(Health.OK), count(Health.DEGRADED), count(Health.UNAVAILABLE),
                full.isEmpty() ? "" : "; FULL nodes " + full + ": their groups refuse data writes",
                nearFull.isEmpty() ? "" : "; NEARFULL nodes " + nearFull + ": less than " + NodeSpace.NEARFULL_RESERVES
                        + " reserves free, writes stop at the reserve"));
        sb.append(String.format("%n%-6s %-22s %-5s %-34s %s%n", "NODE", "ADDRESS", "STATE", "DISK (free / reserve)", "GROUPS / REASON"));
        for (NodeState n : nodes) {
            NodeSpace sp = spaces.get(n.id());
            String disk = sp == null ? "-" : gib(sp.freeBytes()) + " / " + gib(sp.reserveBytes()) + " of " + gib(sp.totalBytes()) + (sp.full() ? " FULL" : sp.nearFull() ? " NEARFULL" : "");
            sb.append(String.format("%-6d %-22s %-5s %-34s %s%n", n.id(), n.address(), n.up() ? "up" : "down", disk,
                    n.up() ? Integer.toString(n.groupCount()) : n.reason()));
        }
        sb.append(String.format("%n%-8s %-6s %-5s %-9s %-28s %s%n", "GROUP", "LEADER", "TERM", "COMMIT", "REPLICAS (lag)", "HEALTH"));
        for (GroupState g : groups) {
            List<String> reps = new ArrayList<>();
            for (ReplicaState r : g.replicas()) {
                reps.add(r.nodeId() + (r.leader() ? "*" : !r.up() ? "(down)" : r.lag() < 0 ? "(?)" : "(" + r.lag() + ")"));
            }
            String health = g.health().name().toLowerCase(java.util.Locale.ROOT) + (g.why().isEmpty() ? "" : ": " + g.why());
            sb.append(String.format("%-8s %-6s %-5d %-9d %-28s %s%n", g.name(), g.leader().isPresent() ? Integer.toString(g.leader().getAsInt()) : "-",
                    g.term(), g.commitIndex(), String.join(" ", reps), health));
        }
        return sb.toString();
    }

    private static String gib(long bytes) {
        return String.format(java.util.Locale.ROOT, "%.1fG", bytes / (double) (1L << 30));
    }

    /** Names of the cluster's groups ("meta", "pg-N"); any other group a node holds shows as its uuid. */
    static final class GroupNames {
        private final Map<RaftGroupId, String> names = new LinkedHashMap<>();

        GroupNames(ClusterConfig config) {
            names.put(RaftSetup.metaGroupId(config), "meta");
            for (int pg = 0; pg < config.pgCount(); pg++) {
                names.put(RaftSetup.pgGroupId(config, pg), "pg-" + pg);
            }
        }

        String name(RaftGroupId g) {
            return names.getOrDefault(g, g.getUuid().toString());
        }

        /** The cluster's groups in order, then any unknown group some node holds. */
        List<RaftGroupId> allGroups(java.util.Collection<NodeProbe.NodeView> views) {
            List<RaftGroupId> out = new ArrayList<>(names.keySet());
            for (NodeProbe.NodeView v : views) {
                for (NodeProbe.GroupView g : v.groups()) {
                    if (!out.contains(g.groupId())) {
                        out.add(g.groupId());
                    }
                }
            }
            return out;
        }
    }
}
