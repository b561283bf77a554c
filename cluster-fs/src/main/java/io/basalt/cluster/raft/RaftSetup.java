package io.basalt.cluster.raft;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.grpc.GrpcTlsConfig;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.Placement;

/**
 * Group ids, peers and Ratis properties of a cluster: every choice of Ratis setting is made
 * here, and docs/decisions/cluster-on-ratis.md says why.
 */
public final class RaftSetup {
    /** The largest log entry the client builds (a group-commit batch). */
    public static final int ENTRY_BYTES_MAX = 1 << 20;
    static final SizeInBytes APPENDER_BUFFER_BYTES = SizeInBytes.valueOf("2MB");
    /** Ratis requires room for one whole entry plus 8 bytes of framing. */
    static final SizeInBytes LOG_WRITE_BUFFER_BYTES = SizeInBytes.valueOf("2200KB");
    /**
     * Ratis purges the log after a snapshot only when at least this many entries lie between it
     * and the last purge. Small, because snapshots also come by bytes (entries of up to 1 MiB;
     * StoreStateMachine.SEGMENTS_PER_SNAPSHOT): a purge only deletes closed segment files.
     */
    static final int PURGE_GAP_ENTRIES = 64;
    /** Closed log segments a group keeps on the heap besides the open one. */
    static final int SEGMENT_CACHE_NUM_MAX = 1;

    private RaftSetup() {}

    public static RaftGroupId metaGroupId(ClusterConfig c) {
        return groupId(c.name() + "/meta");
    }

    public static RaftGroupId pgGroupId(ClusterConfig c, int pg) {
        return groupId(c.name() + "/pg/" + pg);
    }

    private static RaftGroupId groupId(String key) {
        return RaftGroupId.valueOf(UUID.nameUUIDFromBytes(key.getBytes(StandardCharsets.UTF_8)));
    }

    public static RaftPeerId peerId(int nodeId) {
        return RaftPeerId.valueOf("n" + nodeId);
    }

    /** Node id of a Basalt peer id ({@code "n7"} is 7; the inverse of {@link #peerId}), empty for anything else. */
    public static java.util.OptionalInt nodeIdOf(RaftPeerId id) {
        String s = id.toString();
        if (s.length() < 2 || s.charAt(0) != 'n' || !s.substring(1).chars().allMatch(Character::isDigit) || s.length() > 10) {
            return java.util.OptionalInt.empty();
        }
        return java.util.OptionalInt.of(Integer.parseInt(s.substring(1)));
    }

    /** The meta group at bootstrap: the first {@code metaVoterCount} nodes. */
    public static RaftGroup metaGroup(ClusterConfig c) {
        List<RaftPeer> peers = new ArrayList<>();
        for (int i = 0; i < c.metaVoterCount(); i++) {
            peers.add(peer(c, c.nodes().get(i).id(), i == 0 ? 1 : 0));
        }
        return RaftGroup.valueOf(metaGroupId(c), peers);
    }

    /** PG {@code pg} at bootstrap: its replicas per {@link Placement}, the first with the higher priority. */
    public static RaftGroup pgGroup(ClusterConfig c, int pg) {
        List<Integer> nodes = new Placement(c).nodesOf(pg);
        List<RaftPeer> peers = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            peers.add(peer(c, nodes.get(i), i == 0 ? 1 : 0));
        }
        return RaftGroup.valueOf(pgGroupId(c, pg), peers);
    }

    private static RaftPeer peer(ClusterConfig c, int nodeId, int priority) {
        return RaftPeer.newBuilder().setId(peerId(nodeId)).setAddress(c.node(nodeId).address()).setPriority(priority).build();
    }

    /** Properties of node {@code nodeId}'s server, storing Raft logs under {@code raftDir}. */
    public static RaftProperties serverProperties(ClusterConfig c, int nodeId, Path raftDir) {
        RaftProperties p = new RaftProperties();
        RaftServerConfigKeys.setStorageDir(p, List.of(new File(raftDir.toString())));
        ClusterConfig.NodeAddress self = c.node(nodeId);
        GrpcConfigKeys.Server.setHost(p, self.host());
        GrpcConfigKeys.Server.setPort(p, self.port());
        var t = c.tuning();
        long electionMs = t.electionTimeoutMin().toMillis();
        RaftServerConfigKeys.Rpc.setTimeoutMin(p, TimeDuration.valueOf(electionMs, TimeUnit.MILLISECONDS));
        RaftServerConfigKeys.Rpc.setTimeoutMax(p, TimeDuration.valueOf(2 * electionMs, TimeUnit.MILLISECONDS));
        RaftServerConfigKeys.Rpc.setRequestTimeout(p, TimeDuration.valueOf(t.requestTimeout().toMillis(), TimeUnit.MILLISECONDS));
        // Linearizable reads: ReadIndex, answered from the leader lease while it holds.
        RaftServerConfigKeys.Read.setOption(p, RaftServerConfigKeys.Read.Option.LINEARIZABLE);
        RaftServerConfigKeys.Read.setLeaderLeaseEnabled(p, true);
        // Snapshots are RocksDB checkpoints; the log is purged up to them, so a follower that
        // falls further behind catches up by snapshot install.
        RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(p, true);
        RaftServerConfigKeys.Snapshot.setAutoTriggerThreshold(p, t.snapshotEveryEntries());
        // No snapshot on stop: a restart after a stop then recovers exactly as after a crash
        // (replay from the last snapshot, skipping what the store already holds), so that one
        // path is exercised by every restart, and stopping stays quick.
        RaftServerConfigKeys.Snapshot.setTriggerWhenStopEnabled(p, false);
        RaftServerConfigKeys.Snapshot.setCreationGap(p, Math.min(1024, t.snapshotEveryEntries()));
        RaftServerConfigKeys.Log.setPurgeUptoSnapshotIndex(p, true);
        RaftServerConfigKeys.Log.setPurgeGap(p, (int) Math.min(PURGE_GAP_ENTRIES, t.snapshotEveryEntries()));
        RaftServerConfigKeys.Log.setSegmentSizeMax(p, SizeInBytes.valueOf(t.logSegmentSizeBytes()));
        // Ratis keeps the open segment's entries on the heap, and up to 6 closed segments (200 MB
        // per group by default): with a group per PG that is most of a node's heap, churned through
        // the old generation (docs/decisions/raft-log-cache-bounded.md). Keep one closed segment; a follower further
        // behind is served from the segment files.
        RaftServerConfigKeys.Log.setSegmentCacheNumMax(p, SEGMENT_CACHE_NUM_MAX);
        RaftServerConfigKeys.Log.setSegmentCacheSizeMax(p, SizeInBytes.valueOf(2 * t.logSegmentSizeBytes()));
        RaftServerConfigKeys.Log.Appender.setBufferByteLimit(p, APPENDER_BUFFER_BYTES);
        RaftServerConfigKeys.Log.setWriteBufferSize(p, LOG_WRITE_BUFFER_BYTES);
        // The log is fsync'd before an append is acknowledged (Ratis's default, stated here so
        // it is not lost): an acknowledged write is on stable storage on a majority.
        RaftServerConfigKeys.Log.setUnsafeFlushEnabled(p, false);
        // No commit-index metadata entry after each commit (Ratis's default appends and
        // replicates one): with one write entry in flight per PG it doubled the log entries,
        // appends and fsyncs of every write. Raft needs no persisted commit index, and each store
        // keeps its applied index with its data (docs/decisions/no-raft-metadata-entries.md).
        RaftServerConfigKeys.Log.setLogMetadataEnabled(p, false);
        return p;
    }

    /**
     * Ratis parameters of a server or client of cluster {@code c}: with TLS, mutual TLS on every
     * gRPC channel (server to server, client to server, admin), trusting the cluster CA alone;
     * a peer without a certificate it signed fails the handshake. Empty for a plaintext cluster.
     */
    public static Parameters parameters(ClusterConfig c) {
        Parameters p = new Parameters();
        c.tls().ifPresent(id -> GrpcConfigKeys.TLS.setConf(p, new GrpcTlsConfig(id.privateKey(), id.certificate(), id.caCertificate(), true)));
        return p;
    }

    /** Properties of a client of cluster {@code c}. */
    public static RaftProperties clientProperties(ClusterConfig c) {
        RaftProperties p = new RaftProperties();
        RaftClientConfigKeys.Rpc.setRequestTimeout(p, TimeDuration.valueOf(c.tuning().requestTimeout().toMillis(), TimeUnit.MILLISECONDS));
        return p;
    }
}
