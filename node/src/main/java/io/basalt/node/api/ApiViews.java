package io.basalt.node.api;

import java.util.List;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.admin.ClusterStatus;
import io.basalt.node.datastore.Datastore;
import io.basalt.vdisk.store.Usage;

/**
 * The JSON shapes of the API's resources, shared with the CLI: {@code basalt vdisk ls --format
 * json} prints what {@code GET /api/vdisks} answers, so a script can move between the two.
 */
public final class ApiViews {
    private ApiViews() {}

    /** A vdisk: geometry, lineage and space. {@code parent} is {@code NAME@SNAP} or null. */
    public record VdiskJson(long id, String name, long sizeBytes, int blockSizeBytes, int grainSizeBytes, String parent, int chainDepth,
                            long createdMs, String rollingBackTo, int snapshotCount, long usedBytes, long storedBytes, long versionCount) {
        public static VdiskJson of(Datastore store, String name) {
            Datastore.VdiskView v = store.info(name);
            Usage u = store.usage(name);
            return new VdiskJson(v.id(), v.name(), v.sizeBytes(), v.blockSizeBytes(), v.grainSizeBytes(), v.parent().orElse(null), v.chainDepth(),
                    v.createdEpochMs(), v.rollingBackTo().orElse(null), store.snapshots(name).size(), u.usedBytes(), u.storedBytes(), u.versionCount());
        }
    }

    /** A snapshot of {@code vdisk}. */
    public record SnapshotJson(String vdisk, String name, long sizeBytes, long createdMs) {
        public static List<SnapshotJson> of(Datastore store, String vdisk) {
            return store.snapshots(vdisk).stream().map(s -> new SnapshotJson(vdisk, s.name(), s.sizeBytes(), s.createdEpochMs())).toList();
        }
    }

    /** An iSCSI target: its LUNs (number to VDISK or VDISK@SNAP), ACL and CHAP users; never the CHAP secrets. */
    public record TargetJson(String iqn, java.util.SortedMap<Integer, String> luns, List<String> initiators, ChapJson chap) {
        public static TargetJson of(io.basalt.node.serve.TargetsFile.Target t) {
            ChapJson chap = t.chap() == null ? null : new ChapJson(t.chap().user(), t.chap().mutualUser());
            return new TargetJson(t.iqn(), t.luns(), t.initiators(), chap);
        }
    }

    /** The CHAP users of a target: {@code mutualUser} is null for one-way CHAP. */
    public record ChapJson(String user, String mutualUser) {}

    /** A placement group or the meta group as {@code cluster status} sees it. */
    public record GroupJson(String name, Integer leader, long term, long commitIndex, String health, String why, List<ClusterStatus.ReplicaState> replicas) {}

    /** The cluster's health: {@code mode} is {@code cluster}, or {@code embedded} for the single-node store. */
    public record ClusterJson(String mode, String name, String health, List<ClusterStatus.NodeState> nodes, List<GroupJson> groups) {
        public static ClusterJson embedded() {
            return new ClusterJson("embedded", "embedded", "OK", List.of(), List.of());
        }

        public static ClusterJson of(ClusterConfig config, ClusterStatus s) {
            String health = s.anyUnavailable() ? "UNAVAILABLE" : s.count(ClusterStatus.Health.DEGRADED) > 0 ? "DEGRADED" : "OK";
            List<GroupJson> groups = s.groups().stream().map(g -> new GroupJson(g.name(), g.leader().isPresent() ? g.leader().getAsInt() : null,
                    g.term(), g.commitIndex(), g.health().name(), g.why(), g.replicas())).toList();
            return new ClusterJson("cluster", config.name(), health, s.nodes(), groups);
        }
    }
}
