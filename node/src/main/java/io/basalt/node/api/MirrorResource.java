package io.basalt.node.api;

import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.POST;

import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

import io.basalt.node.datastore.Datastore;
import io.basalt.node.mirror.Dr;
import io.basalt.node.mirror.MirrorConfig;
import io.basalt.node.mirror.MirrorGroups;
import io.basalt.node.mirror.MirrorService;
import io.basalt.node.mirror.MirrorStatus;
import io.basalt.replication.MirrorStore;
import io.javalin.http.Context;

/**
 * {@code /api/mirrors}: the mirrored vdisks and replicas of this site, as {@code basalt mirror
 * status --format json} shows them (live figures where this process runs the site's mirror
 * service, {@code basalt serve --mirror-port}; from the records elsewhere), and {@code basalt dr
 * failover|failback} as jobs; {@code /api/mirror-groups}: the consistency groups ({@code basalt
 * mirror group ls}) and {@code basalt dr failover|failback --group} as jobs. A failover or failback
 * needs the mirror service: elsewhere it is refused, naming where it runs.
 */
final class MirrorResource {
    private final Datastore store;
    private final Supplier<Optional<MirrorService>> service;
    private final Jobs jobs;

    MirrorResource(Datastore store, Supplier<Optional<MirrorService>> service, Jobs jobs) {
        this.store = store;
        this.service = service;
        this.jobs = jobs;
    }

    List<Route> routes() {
        return List.of(
                Route.of(GET, "/api/mirrors", this::list),
                Route.of(POST, "/api/mirrors/{vdisk}/failover", this::failover),
                Route.of(POST, "/api/mirrors/{vdisk}/failback", this::failback),
                Route.of(GET, "/api/mirror-groups", this::groups),
                Route.of(POST, "/api/mirror-groups/{group}/failover", this::failoverGroup),
                Route.of(POST, "/api/mirror-groups/{group}/failback", this::failbackGroup));
    }

    /** {@code basalt mirror group ls --format json}: groups mirrored from here, and groups whose replicas are here. */
    private void groups(Context ctx) {
        Optional<MirrorService> s = service.get();
        Json.write(ctx, 200, s.isPresent() ? s.get().groupRows()
                : MirrorGroups.rows(new MirrorConfig(store.configs()), v -> MirrorGroups.consistentRound(site(), v)));
    }

    /** {@code basalt dr failover --group G}: every replica of the group here made primary at one round; a job, progress in vdisks. */
    private void failoverGroup(Context ctx) {
        String group = ctx.pathParam("group");
        boolean planned = Json.bool(Json.bodyOrEmpty(ctx), "planned", false);
        MirrorConfig config = new MirrorConfig(store.configs());
        Optional<MirrorConfig.ReplicaGroup> replicas = config.replicaGroup(group);
        if (replicas.isEmpty()) {
            throw config.group(group).isPresent()
                    ? new ApiException(409, "group: " + group + " is primary here (expected: a group whose replicas are here; a failover is asked at"
                            + " the site that takes over)")
                    : notAGroup(group);
        }
        MirrorService s = running("group: " + group);
        int members = replicas.get().vdisks().size();
        Jobs.accepted(ctx, jobs.start(planned ? "group-failover-planned" : "group-failover", group, members, "vdisks", progress -> {
            List<Dr.Outcome> out = s.failoverGroup(group, planned);
            progress.accept(out.size());
            return out;
        }));
    }

    /** {@code basalt dr failback --group G}: at the old primary, each member failed back; a job, progress in vdisks. */
    private void failbackGroup(Context ctx) {
        String group = ctx.pathParam("group");
        boolean discardLocal = Json.bool(Json.bodyOrEmpty(ctx), "discardLocal", false);
        MirrorConfig config = new MirrorConfig(store.configs());
        MirrorConfig.Group here = config.group(group).orElseThrow(() -> config.replicaGroup(group).isPresent()
                ? new ApiException(409, "group: " + group + " has its replicas here (expected: a group this site mirrored before the failover;"
                        + " a failback is asked at the old primary)")
                : notAGroup(group));
        MirrorService s = running("group: " + group);
        Jobs.accepted(ctx, jobs.start("group-failback", group, here.vdisks().size(), "vdisks", progress -> {
            List<Dr.Outcome> out = s.failbackGroup(group, discardLocal);
            progress.accept(out.size());
            return out;
        }));
    }

    private static ApiException notAGroup(String group) {
        return ApiException.notFound("group: " + group + " (expected: a consistency group of this site; see GET /api/mirror-groups)");
    }

    private void list(Context ctx) {
        Optional<MirrorService> s = service.get();
        Json.write(ctx, 200, s.isPresent() ? s.get().status(Optional.empty()) : MirrorStatus.offline(site(), store.configs(), Optional.empty()));
    }

    private void failover(Context ctx) {
        MirrorStatus.Row row = row(ctx);
        boolean planned = Json.bool(Json.bodyOrEmpty(ctx), "planned", false);
        if (!row.role().equals("replica")) {
            throw new ApiException(409, "vdisk: " + row.vdisk() + " is " + row.role() + " here (expected: a replica; a failover is asked at the site that"
                    + " takes over)");
        }
        MirrorService s = running("vdisk: " + row.vdisk());
        Jobs.accepted(ctx, jobs.start(planned ? "failover-planned" : "failover", row.vdisk(), 1, "vdisks", progress -> {
            Dr.Outcome o = s.failover(row.vdisk(), planned);
            progress.accept(1);
            return o;
        }));
    }

    private void failback(Context ctx) {
        MirrorStatus.Row row = row(ctx);
        boolean discardLocal = Json.bool(Json.bodyOrEmpty(ctx), "discardLocal", false);
        MirrorService s = running("vdisk: " + row.vdisk());
        Jobs.accepted(ctx, jobs.start("failback", row.vdisk(), 1, "vdisks", progress -> {
            Dr.Outcome o = s.failback(row.vdisk(), discardLocal);
            progress.accept(1);
            return o;
        }));
    }

    /** The {vdisk} of the path as a row of this site's mirrors (404 naming it when it is none). */
    private MirrorStatus.Row row(Context ctx) {
        String vdisk = ctx.pathParam("vdisk");
        Optional<MirrorService> s = service.get();
        List<MirrorStatus.Row> all = s.isPresent() ? s.get().status(Optional.empty()) : MirrorStatus.offline(site(), store.configs(), Optional.empty());
        return all.stream().filter(r -> r.vdisk().equals(vdisk)).findFirst().orElseThrow(() -> ApiException.notFound("vdisk: " + vdisk
                + " (expected: a mirrored vdisk or a replica of this site; see GET /api/mirrors)"));
    }

    /** The mirror service of this process; refused, naming {@code what} ("vdisk: web1"), where none runs. */
    private MirrorService running(String what) {
        return service.get().orElseThrow(() -> new ApiException(409, what + ": this process runs no mirror service (expected: the"
                + " API of the site's mirroring process, basalt serve --mirror-port)"));
    }

    private MirrorStore site() {
        return switch (store) {
            case Datastore.Local local -> MirrorStore.of(local.store());
            case Datastore.Cluster cluster -> io.basalt.node.host.ConsistentSnapshots.mirrorSite(cluster);
            default -> throw new IllegalStateException("datastore " + store.getClass().getSimpleName() + " (expected: the embedded store or a cluster)");
        };
    }
}
