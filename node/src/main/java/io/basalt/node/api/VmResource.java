package io.basalt.node.api;

import static io.javalin.http.HandlerType.DELETE;
import static io.javalin.http.HandlerType.POST;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

import com.fasterxml.jackson.databind.node.ObjectNode;

import io.basalt.node.datastore.Datastore;
import io.basalt.node.host.HostRecord;
import io.basalt.node.host.Inventory;
import io.basalt.node.host.VmControl;
import io.basalt.node.host.VmRecord;
import io.javalin.http.Context;

/**
 * What is done to VMs and hosts, as {@code basalt vm start|stop|kill|migrate} and {@code basalt host
 * maintenance} do it (through {@link VmControl}, which asks the host agents). A start or stop waits
 * for the agent as the CLI does and answers 200; a live migration and a host's evacuation are jobs
 * (202, {@code GET /api/jobs/ID}). What can be checked before the work starts is checked here, so
 * that a request that cannot succeed is refused at once naming the bad value, not as a failed job.
 */
final class VmResource {
    /** A start's or stop's outcome: the line the CLI prints. */
    record Outcome(String message) {}

    /** A finished migration: the source agent's line (downtime and total time). */
    record MigrateResult(String vm, String from, String to, String message) {}

    /** A finished evacuation: one line per VM, and how many stayed on the host. */
    record MaintenanceResult(String host, int left, List<String> lines) {}

    private final Datastore store;
    private final Jobs jobs;

    VmResource(Datastore store, Jobs jobs) {
        this.store = store;
        this.jobs = jobs;
    }

    List<Route> routes() {
        return List.of(
                Route.of(POST, "/api/vms/{name}/start", this::start),
                Route.of(POST, "/api/vms/{name}/stop", this::stop),
                Route.of(POST, "/api/vms/{name}/migrate", this::migrate),
                Route.of(POST, "/api/hosts/{name}/maintenance", this::enterMaintenance),
                Route.of(DELETE, "/api/hosts/{name}/maintenance", this::exitMaintenance));
    }

    private void start(Context ctx) throws Exception {
        VmRecord vm = vm(ctx);
        Optional<String> on = Optional.ofNullable(Json.string(Json.bodyOrEmpty(ctx), "on", null));
        Json.write(ctx, 200, new Outcome(control().start(vm.name(), on)));
    }

    private void stop(Context ctx) throws Exception {
        VmRecord vm = vm(ctx);
        boolean kill = Json.bool(Json.bodyOrEmpty(ctx), "kill", false);
        Json.write(ctx, 200, new Outcome(control().stop(vm.name(), kill)));
    }

    private void migrate(Context ctx) {
        VmRecord vm = vm(ctx);
        String to = Json.string(Json.body(ctx), "to");
        VmControl control = control();
        if (vm.desired() != VmRecord.Desired.RUNNING || vm.state() != VmRecord.State.RUNNING || !control.isLive(vm.host())) {
            throw new ApiException(409, "vm: " + vm.name() + " is " + vm.state().name().toLowerCase(java.util.Locale.ROOT)
                    + (vm.host().isEmpty() ? "" : " on " + vm.host()) + " (expected: a running VM)");
        }
        if (to.equals(vm.host())) {
            throw ApiException.badRequest("to: " + to + " (expected: another host than the one it runs on)");
        }
        if (!control.isLive(to)) {
            throw ApiException.badRequest("to: " + to + " (expected: a live host; live: "
                    + control.liveHosts().stream().map(HostRecord::name).toList() + ")");
        }
        if (new Inventory(store.configs()).host(to).map(HostRecord::maintenance).orElse(false)) {
            throw new ApiException(409, "to: " + to + " is in maintenance (expected: a host that takes VMs; "
                    + "DELETE /api/hosts/" + to + "/maintenance ends it)");
        }
        String from = vm.host();
        Jobs.accepted(ctx, jobs.start("migrate", vm.name(), 1, "vms", progress -> {
            String line = control.migrate(vm.name(), to);
            progress.accept(1);
            return new MigrateResult(vm.name(), from, to, line);
        }));
    }

    private void enterMaintenance(Context ctx) {
        HostRecord host = host(ctx);
        Inventory inventory = new Inventory(store.configs());
        long running = inventory.vms().stream()
                .filter(v -> v.host().equals(host.name()) && v.desired() == VmRecord.Desired.RUNNING).count();
        VmControl control = control();
        Jobs.accepted(ctx, jobs.start("maintenance", host.name(), running, "vms", progress -> {
            List<String> lines = Collections.synchronizedList(new ArrayList<>());
            long[] done = {0};
            int left = control.enterMaintenance(host.name(), line -> {
                lines.add(line);
                if (line.startsWith("migrated ") || line.startsWith("vm ")) {
                    progress.accept(++done[0]);
                }
            });
            return new MaintenanceResult(host.name(), left, List.copyOf(lines));
        }));
    }

    private void exitMaintenance(Context ctx) {
        HostRecord host = host(ctx);
        control().exitMaintenance(host.name());
        Json.write(ctx, 200, new Outcome("host " + host.name() + ": out of maintenance (takes VMs again)"));
    }

    private VmControl control() {
        return new VmControl(new Inventory(store.configs()), store.locks());
    }

    private VmRecord vm(Context ctx) {
        String name = ctx.pathParam("name");
        return new Inventory(store.configs()).vm(name).orElseThrow(() ->
                ApiException.notFound("vm: " + name + " (expected: an existing VM; see GET /api/vms)"));
    }

    private HostRecord host(Context ctx) {
        String name = ctx.pathParam("name");
        return new Inventory(store.configs()).host(name).orElseThrow(() ->
                ApiException.notFound("host: " + name + " (expected: a host agent that ran `basalt host run`; see GET /api/hosts)"));
    }

}
