package io.basalt.node.api;

import static io.javalin.http.HandlerType.GET;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.admin.ClusterStatus;
import io.basalt.cluster.meta.NodeSpace;
import io.basalt.lock.Holding;
import io.basalt.node.api.ApiViews.ClusterJson;
import io.basalt.lock.LockService;
import io.basalt.lock.Session;
import io.basalt.lock.VdiskLock;
import io.basalt.node.datastore.Datastore;
import io.basalt.node.host.HostRecord;
import io.basalt.node.host.Inventory;
import io.basalt.node.serve.TargetsFile;
import io.javalin.http.Context;

/**
 * The read side of everything around the vdisks: the cluster's health and nodes (or the embedded
 * store as a one-node "cluster"), iSCSI targets, locks, hosts and VMs, and the jobs.
 */
final class ClusterResource {
    /** How long {@code GET /api/cluster} waits for each node's answer. */
    static final Duration PROBE_TIMEOUT = Duration.ofSeconds(3);

    record NodeJson(int id, String address, Boolean up, Long freeBytes, Long reserveBytes, Long totalBytes) {}

    record LockJson(String vdisk, long fence, long lastToken, List<HolderJson> holders) {}

    record HolderJson(long session, String host, String mode, long token) {}

    record HostJson(String name, List<SessionJson> sessions, HostRecord agent) {}

    record SessionJson(long session, long leaseMs, long leaseAgeMs, List<String> locks) {}

    private final Datastore store;
    private final ApiServer.Backend backend;
    private final Jobs jobs;

    ClusterResource(ApiServer.Backend backend, Jobs jobs) {
        this.store = backend.store();
        this.backend = backend;
        this.jobs = jobs;
    }

    List<Route> routes() {
        return List.of(
                Route.of(GET, "/api/cluster", ctx -> Json.write(ctx, 200, cluster())),
                Route.of(GET, "/api/nodes", ctx -> Json.write(ctx, 200, nodes())),
                Route.of(GET, "/api/targets", ctx -> Json.write(ctx, 200, TargetsFile.load(backend.configDir()).targets().stream().map(ApiViews.TargetJson::of).toList())),
                Route.of(GET, "/api/locks", ctx -> Json.write(ctx, 200, locks(ctx.queryParam("vdisk"))), "vdisk"),
                Route.of(GET, "/api/hosts", ctx -> Json.write(ctx, 200, hosts())),
                Route.of(GET, "/api/vms", ctx -> Json.write(ctx, 200, new Inventory(store.configs()).vms())),
                Route.of(GET, "/api/vms/{name}", this::vm),
                Route.of(GET, "/api/jobs", ctx -> Json.write(ctx, 200, jobs.all())),
                Route.of(GET, "/api/jobs/{id}", ctx -> Json.write(ctx, 200, jobs.get(ctx.pathParam("id")).orElseThrow(() ->
                        ApiException.notFound("job: " + ctx.pathParam("id") + " (expected: a job of this server; see GET /api/jobs)")))));
    }

    private ClusterJson cluster() {
        if (backend.cluster().isEmpty()) {
            return ClusterJson.embedded();
        }
        ClusterConfig config = backend.cluster().get();
        return ClusterJson.of(config, ClusterStatus.collect(config, PROBE_TIMEOUT));
    }

    /** A cluster's nodes with the space they last reported; the embedded store as node 0 with its filesystem's space. */
    private List<NodeJson> nodes() throws IOException {
        if (backend.cluster().isEmpty()) {
            FileStore fs = Files.getFileStore(backend.configDir());
            return List.of(new NodeJson(0, "local:" + backend.configDir().toAbsolutePath(), true, fs.getUsableSpace(), null, fs.getTotalSpace()));
        }
        Map<Integer, NodeSpace> spaces = new TreeMap<>();
        if (store instanceof Datastore.Cluster c) {
            c.client().nodeSpaces().forEach(s -> spaces.put(s.nodeId(), s));
        }
        return backend.cluster().get().nodes().stream().map(n -> {
            NodeSpace s = spaces.get(n.id());
            return new NodeJson(n.id(), n.host() + ":" + n.port(), null, s == null ? null : s.freeBytes(), s == null ? null : s.reserveBytes(),
                    s == null ? null : s.totalBytes());
        }).toList();
    }

    private List<LockJson> locks(String only) {
        if (only != null && store.list().stream().noneMatch(v -> v.name().equals(only))) {
            throw ApiException.badRequest("vdisk: " + only + " (expected: an existing vdisk; see GET /api/vdisks)");
        }
        LockService locks = store.locks();
        Map<Long, String> hosts = new TreeMap<>();
        locks.sessions().forEach(s -> hosts.put(s.id(), s.host()));
        return locks.locks().stream().filter(l -> only == null || only.equals(l.vdisk()))
                .map(l -> new LockJson(l.vdisk(), l.fence(), l.lastToken(), holders(l, hosts))).toList();
    }

    private static List<HolderJson> holders(VdiskLock l, Map<Long, String> hosts) {
        return l.holders().stream().map((Holding h) -> new HolderJson(h.sessionId(), hosts.getOrDefault(h.sessionId(), "?"), h.mode().cliName(),
                h.token())).toList();
    }

    /** Hosts by name: their lock-table sessions (initiators and agents) and, for agents, their record. */
    private List<HostJson> hosts() {
        long now = System.currentTimeMillis();
        LockService locks = store.locks();
        Map<String, List<SessionJson>> sessions = new TreeMap<>();
        for (Session s : locks.sessions()) {
            List<String> held = locks.locks().stream().filter(l -> l.holders().stream().anyMatch(h -> h.sessionId() == s.id()))
                    .map(VdiskLock::vdisk).toList();
            sessions.computeIfAbsent(s.host(), h -> new java.util.ArrayList<>())
                    .add(new SessionJson(s.id(), s.leaseMs(), Math.max(0, now - s.renewedAtMs()), held));
        }
        Map<String, HostRecord> agents = new TreeMap<>();
        new Inventory(store.configs()).hosts().forEach(h -> agents.put(h.name(), h));
        java.util.SortedSet<String> names = new java.util.TreeSet<>(sessions.keySet());
        names.addAll(agents.keySet());
        return names.stream().map(n -> new HostJson(n, sessions.getOrDefault(n, List.of()), agents.get(n))).toList();
    }

    private void vm(Context ctx) {
        String name = ctx.pathParam("name");
        Json.write(ctx, 200, new Inventory(store.configs()).vm(name).orElseThrow(() ->
                ApiException.notFound("vm: " + name + " (expected: an existing VM; see GET /api/vms)")));
    }

}
