package io.basalt.cluster.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.HashMap;
import java.util.Map;

import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.GroupManagementRequest;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.statemachine.StateMachine;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.Placement;
import io.basalt.cluster.client.LocalNode;
import io.basalt.cluster.raft.RaftSetup;
import io.basalt.cluster.raft.DiskReserve;
import io.basalt.cluster.raft.StateMachines;
import io.basalt.vdisk.store.VdiskStore;

/**
 * One storage node: one Ratis {@link RaftServer} hosting the meta group (when this node is one
 * of its voters) and every placement group placed on it. Start with {@link #start}; stop with
 * {@link #close}, which stops the server and closes every store.
 *
 * <p>Layout under {@code dataDir}: {@code raft/<group uuid>/} per group, holding Ratis's log and
 * metadata, the live store ({@code store/}) and snapshots ({@code snapshots/}).
 */
public final class ClusterNode implements LocalNode, AutoCloseable {
    private final ClusterConfig config;
    private final int nodeId;
    private final RaftServer server;
    private final Map<RaftGroupId, String> groupNames;

    private final DiskReserve reserve;
    private volatile SpaceReporter reporter;
    private volatile StaleCopySweep sweep;
    private volatile LeaseMonitor leases;
    private volatile StallWatch stalls;
    private volatile ScrubWorker scrubs;
    /** The client the lease monitor and the space reporter share. */
    private final NodeClient client;

    private ClusterNode(ClusterConfig config, int nodeId, RaftServer server, Map<RaftGroupId, String> groupNames, DiskReserve reserve) {
        this.reserve = reserve;
        this.config = config;
        this.nodeId = nodeId;
        this.server = server;
        this.groupNames = groupNames;
        this.client = new NodeClient(config);
    }

    /** Written into the data dir once the node holds its bootstrap groups (or joined empty). */
    static final String BOOTSTRAPPED_FILE = "bootstrapped";

    /**
     * What a node needs beyond the cluster config: its id, its data directory, engine options.
     *
     * @param join start a node new to a running cluster: it creates no group itself and is given
     *             replicas by {@link io.basalt.cluster.admin.ClusterAdmin}; without it, a node
     *             started for the first time creates the groups {@link Placement} puts on it
     */
    public record Options(int nodeId, Path dataDir, VdiskStore.Options storeOptions, boolean join, long diskReserveBytes) {
        /** {@link #diskReserveBytes}: the default of {@link DiskReserve} (5 % of the filesystem, at least 1 GiB). */
        public static final long DISK_RESERVE_DEFAULT = io.basalt.vdisk.store.SpaceReserve.DEFAULT;

        public Options {
            io.basalt.vdisk.store.SpaceReserve.checkReserveBytes(diskReserveBytes);
        }

        public Options(int nodeId, Path dataDir, VdiskStore.Options storeOptions) {
            this(nodeId, dataDir, storeOptions, false, DISK_RESERVE_DEFAULT);
        }

        public Options joining() {
            return new Options(nodeId, dataDir, storeOptions, true, diskReserveBytes);
        }

        /** Free space to keep on the data directory's filesystem; 0 turns the check off. */
        public Options withDiskReserveBytes(long bytes) {
            return new Options(nodeId, dataDir, storeOptions, join, bytes);
        }

        /** Reads {@code node.id} and {@code node.data.dir} (engine options: defaults). */
        public static Options fromProperties(java.util.Properties p) {
            String id = p.getProperty("node.id");
            String dir = p.getProperty("node.data.dir");
            if (id == null || !id.trim().matches("\\d+")) {
                throw new IllegalArgumentException("node.id: '" + id + "' (expected: a node id from cluster.nodes)");
            }
            if (dir == null || dir.isBlank()) {
                throw new IllegalArgumentException("node.data.dir: missing (expected: a directory)");
            }
            return new Options(Integer.parseInt(id.trim()), Path.of(dir.trim()), VdiskStore.Options.defaults());
        }
    }

    /**
     * Starts node {@code options.nodeId()} of {@code config}: Ratis recovers the groups found on
     * disk, with the configuration their logs hold. Only the first start of a bootstrap node
     * (no {@value #BOOTSTRAPPED_FILE} file yet, not joining) creates groups, the ones
     * {@link Placement} puts on it; later starts never do, because membership changes
     * (docs/decisions/cluster-membership.md) may have moved replicas away from the formula.
     */
    public static ClusterNode start(ClusterConfig config, Options options) throws IOException {
        config.node(options.nodeId());
        Path raftDir = options.dataDir().resolve("raft");
        Files.createDirectories(raftDir);
        DiskReserve reserve = DiskReserve.of(raftDir, options.diskReserveBytes());
        Map<RaftGroupId, String> names = new HashMap<>();
        Map<RaftGroupId, Integer> pgs = new HashMap<>();
        RaftGroupId metaId = RaftSetup.metaGroupId(config);
        names.put(metaId, "meta");
        for (int pg = 0; pg < config.pgCount(); pg++) {
            names.put(RaftSetup.pgGroupId(config, pg), "pg-" + pg);
            pgs.put(RaftSetup.pgGroupId(config, pg), pg);
        }
        StateMachine.Registry registry = groupId -> {
            if (groupId.equals(metaId)) {
                return StateMachines.meta();
            }
            Integer pg = pgs.get(groupId);
            if (pg == null) {
                throw new IllegalArgumentException("group " + groupId + " is not a group of cluster " + config.name());
            }
            return StateMachines.pg(pg, options.storeOptions(), reserve);
        };
        RaftServer server = RaftServer.newBuilder()
                .setServerId(RaftSetup.peerId(options.nodeId()))
                .setProperties(RaftSetup.serverProperties(config, options.nodeId(), raftDir))
                .setParameters(RaftSetup.parameters(config))
                .setStateMachineRegistry(registry)
                .build();
        ClusterNode node = new ClusterNode(config, options.nodeId(), server, names, reserve);
        try {
            server.start();
            Path bootstrapped = options.dataDir().resolve(BOOTSTRAPPED_FILE);
            if (!Files.exists(bootstrapped)) {
                if (!options.join()) {
                    node.addMissingGroups();
                }
                Files.writeString(bootstrapped, options.join() ? "joined\n" : "bootstrap groups created\n");
            }
            node.reporter = SpaceReporter.start(config, options.nodeId(), reserve, server, node.client);
            node.sweep = StaleCopySweep.start(config, server, RaftSetup.peerId(options.nodeId()), names);
            node.leases = LeaseMonitor.start(config, options.nodeId(), server, node.client);
            node.scrubs = ScrubWorker.start(config, server, RaftSetup.peerId(options.nodeId()), pgs);
            node.stalls = StallWatch.start(options.nodeId(), server, id -> node.groupNames.getOrDefault(id, id.toString()));
        } catch (IOException | RuntimeException e) {
            node.close();
            throw e;
        }
        return node;
    }

    private void addMissingGroups() throws IOException {
        Set<RaftGroupId> present = new HashSet<>();
        server.getGroupIds().forEach(present::add);
        RaftPeerId self = RaftSetup.peerId(nodeId);
        List<RaftGroup> wanted = new ArrayList<>();
        wanted.add(RaftSetup.metaGroup(config));
        for (int pg = 0; pg < config.pgCount(); pg++) {
            wanted.add(RaftSetup.pgGroup(config, pg));
        }
        ClientId clientId = ClientId.randomId();
        long callId = 0;
        for (RaftGroup g : wanted) {
            if (g.getPeer(self) == null || present.contains(g.getGroupId())) {
                continue;
            }
            RaftClientReply reply = server.groupManagement(GroupManagementRequest.newAdd(clientId, self, ++callId, g));
            if (!reply.isSuccess()) {
                throw new IOException("node " + nodeId + ": adding group " + groupNames.get(g.getGroupId()) + " failed: " + reply);
            }
        }
    }

    /** The free space this node keeps on its data directory's filesystem. */
    public DiskReserve diskReserve() {
        return reserve;
    }

    @Override
    public int id() {
        return nodeId;
    }

    public ClusterConfig config() {
        return config;
    }

    /**
     * The live store of placement group {@code pg} when this node holds its only replica, for
     * in-process reads: with one voter every acknowledged write has been applied to this store,
     * so reading it directly is linearizable. Empty for a replicated PG (reads must go through
     * the leader's ReadIndex/lease check there).
     */
    @Override
    public java.util.function.Supplier<io.basalt.cluster.pg.PgStore> soleReplicaStore(int pg) {
        RaftGroupId id = RaftSetup.pgGroupId(config, pg);
        if (!soleReplica(id)) {
            return null;
        }
        // Checked again on every read: a membership change may have added replicas since.
        return () -> {
            try {
                return soleReplica(id) ? StateMachines.pgStore(server.getDivision(id).getStateMachine()) : null;
            } catch (IOException e) {
                return null;
            }
        };
    }

    @Override
    public void askScrub(int pg) {
        try {
            StateMachines.pgScrub(server.getDivision(RaftSetup.pgGroupId(config, pg)).getStateMachine()).request(io.basalt.cluster.pg.PgScrubState.ALL_VDISKS);
        } catch (IOException e) {
            // The replica left this node meanwhile: the nodes holding it now scrub it.
        }
    }

    /** True when this node holds {@code id} and its current configuration has no other peer. */
    private boolean soleReplica(RaftGroupId id) {
        try {
            RaftGroup group = server.getDivision(id).getGroup();
            return group.getPeers().size() == 1 && group.getPeer(RaftSetup.peerId(nodeId)) != null;
        } catch (IOException e) {
            return false;
        }
    }

    /** The Ratis server, for status, in-process submission and tests. */
    @Override
    public RaftServer server() {
        return server;
    }

    /**
     * Every group this node holds, as this node sees it: role, leader, term, applied index and
     * each peer's commit index (on the leader these show the followers' lag).
     */
    public List<GroupStatus> status() throws IOException {
        List<GroupStatus> out = new ArrayList<>();
        for (RaftGroupId id : server.getGroupIds()) {
            RaftServer.Division d = server.getDivision(id);
            var info = d.getInfo();
            Map<String, Long> commits = new java.util.TreeMap<>();
            d.getCommitInfos().forEach(c -> commits.put(RaftPeerId.valueOf(c.getServer().getId()).toString(), c.getCommitIndex()));
            out.add(new GroupStatus(groupNames.getOrDefault(id, id.toString()), info.getCurrentRole().name(),
                    info.getLeaderId() == null ? "none" : info.getLeaderId().toString(), info.getCurrentTerm(),
                    info.getLastAppliedIndex(), commits, info.isAlive()));
        }
        out.sort((a, b) -> a.group().compareTo(b.group()));
        return out;
    }

    /**
     * A group as one node sees it.
     *
     * @param peerCommitIndex peer id ("n2") to the commit index this node last heard from it
     * @param alive           false once the division stopped (for example after an apply failure)
     */
    public record GroupStatus(String group, String role, String leader, long term, long appliedIndex,
                              Map<String, Long> peerCommitIndex, boolean alive) {
        public GroupStatus {
            peerCommitIndex = Map.copyOf(peerCommitIndex);
        }
    }

    @Override
    public void close() throws IOException {
        ScrubWorker scrub = scrubs;
        if (scrub != null) {
            scrub.close();
        }
        StallWatch w = stalls;
        if (w != null) {
            w.close();
        }
        LeaseMonitor l = leases;
        if (l != null) {
            l.close();
        }
        StaleCopySweep s = sweep;
        if (s != null) {
            s.close();
        }
        SpaceReporter r = reporter;
        if (r != null) {
            r.close();
        }
        client.close();
        io.basalt.cluster.raft.LogEvictionStop.beforeClose(server);
        server.close();
    }
}
