package io.basalt.node.api;

import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.POST;

import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

import io.basalt.node.datastore.Datastore;
import io.basalt.node.mirror.Dr;
import io.basalt.node.mirror.MirrorService;
import io.basalt.node.mirror.MirrorStatus;
import io.basalt.replication.MirrorStore;
import io.javalin.http.Context;

/**
 * {@code /api/mirrors}: the mirrored vdisks and replicas of this site, as {@code basalt mirror
 * status --format json} shows them (live figures where this process runs the site's mirror
 * service, {@code basalt serve --mirror-port}; from the records elsewhere), and {@code basalt dr
 * failover|failback} as jobs. A failover or failback needs the mirror service: elsewhere it is
 * refused, naming where it runs.
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
                Route.of(POST, "/api/mirrors/{vdisk}/failback", this::failback));
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
        MirrorService s = running(row.vdisk());
        Jobs.accepted(ctx, jobs.start(planned ? "failover-planned" : "failover", row.vdisk(), 1, "vdisks", progress -> {
            Dr.Outcome o = s.failover(row.vdisk(), planned);
            progress.accept(1);
            return o;
        }));
    }

    private void failback(Context ctx) {
        MirrorStatus.Row row = row(ctx);
        boolean discardLocal = Json.bool(Json.bodyOrEmpty(ctx), "discardLocal", false);
        MirrorService s = running(row.vdisk());
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

    private MirrorService running(String vdisk) {
        return service.get().orElseThrow(() -> new ApiException(409, "vdisk: " + vdisk + ": this process runs no mirror service (expected: the"
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
