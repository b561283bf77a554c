package io.basalt.node.host;

import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import io.basalt.host.qmp.MigrationInfo;
import io.basalt.host.qmp.Qmp;
import io.basalt.host.qmp.QmpException;
import io.basalt.lock.HostSessionClient;
import io.basalt.lock.LockMode;
import io.basalt.lock.LockResult.Grant;

/**
 * Live migration of a VM between two host agents, with the disks' locks handed over at the
 * switch-over (docs/architecture.md, "Hosts and guests"). The source agent drives it:
 *
 * <ol>
 *   <li>The destination locks the disks shared-read (which coexists with the source's exclusive
 *       lock), serves them on its own loopback target and starts QEMU paused, waiting for the
 *       migration ({@code -incoming}).</li>
 *   <li>The source's QEMU sends RAM and device state. At the end it stops the vCPUs, flushes its
 *       disks (QEMU inactivates its block devices before it completes) and completes.</li>
 *   <li>The source hands each disk's exclusive lock to the destination's session in the lock table
 *       (new token, fence raised: from here the source's writes are refused), and passes the grants
 *       to the destination, which raises the fences where writes land and only then resumes the
 *       guest ({@code cont}).</li>
 * </ol>
 *
 * A failure before the hand-off leaves the VM running on the source with its locks (the
 * destination's QEMU is killed and its shared locks given back). Downtime is QEMU's (vCPUs stopped
 * until the source completed) plus the time from completion to the destination's {@code cont}.
 */
final class Migrations implements AutoCloseable {
    private static final System.Logger log = System.getLogger(Migrations.class.getName());
    /** The longest migration this waits for (a 256 MiB TCG guest takes about a second here). */
    static final Duration MIGRATION_TIMEOUT = Duration.ofMinutes(10);
    /** How often the source asks QEMU how the migration goes, besides listening for its MIGRATION events. */
    static final Duration POLL = Duration.ofMillis(20);
    /** QEMU's own default: the longest pause it plans for at the switch-over. */
    static final Duration DOWNTIME_LIMIT = Duration.ofMillis(300);

    /** What a completed migration printed and measured. */
    record Result(String vm, String from, String to, long downtimeMs, long totalMs, long qemuDowntimeMs, long handoffMs) {
        String line() {
            return "migrated " + vm + " from " + from + " to " + to + ": downtime " + downtimeMs + " ms, total " + totalMs + " ms";
        }
    }

    private final HostAgent agent;
    /** VMs being migrated in: started paused, disks locked shared-read. */
    private final Map<String, HostAgent.LocalVm> incoming = new ConcurrentHashMap<>();

    Migrations(HostAgent agent) {
        this.agent = agent;
    }

    /** Source side: migrates {@code vm}, running here, to host {@code to}. */
    Result migrateOut(String vm, String to) throws IOException, InterruptedException {
        HostAgent.LocalVm local = agent.vms().get(vm);
        if (local == null) {
            throw new IllegalArgumentException("vm: " + vm + " (expected: a VM running on " + agent.name() + ")");
        }
        if (to.equals(agent.name())) {
            throw new IllegalArgumentException("--to " + to + " (expected: another host; " + vm + " runs on " + to + ")");
        }
        HostRecord dest = agent.inventory().host(to).orElseThrow(
                () -> new IllegalArgumentException("--to " + to + " (expected: a host that ran `basalt host run`)"));
        if (!agent.busy().add(vm)) {
            throw new IllegalStateException("vm " + vm + " is being started, stopped or migrated already");
        }
        long startNs = System.nanoTime();
        AgentClient peer = agent.clientOf(dest.api());
        try {
            agent.report(vm, VmRecord.State.MIGRATING, "to " + to);
            int port = peer.incoming(vm);
            String uri = "tcp:" + AgentApi.hostOf(dest.api()) + ":" + port;
            long completedNs;
            MigrationInfo info;
            try {
                completedNs = sendState(local.guest().qmp(), uri);
                info = local.guest().qmp().queryMigrate();
            } catch (IOException | RuntimeException e) {
                abortPeer(peer, vm);
                agent.report(vm, VmRecord.State.RUNNING, "migration to " + to + " failed: " + e.getMessage());
                throw new IOException("migration of " + vm + " to " + to + " failed; it keeps running on " + agent.name() + ": " + e.getMessage(), e);
            }
            long handoffStartNs = System.nanoTime();
            List<Grant> grants = handOff(local, dest, peer, vm);
            long handoffNs = System.nanoTime() - handoffStartNs;
            try {
                peer.switchover(vm, grants);
            } catch (IOException | RuntimeException e) {
                // The destination could not resume the guest (its QEMU refused the state, or died): the source has it all still.
                takeBack(local, peer, vm, grants);
                agent.report(vm, VmRecord.State.RUNNING, "migration to " + to + " failed at the switch-over: " + e.getMessage());
                throw new IOException("migration of " + vm + " to " + to + " failed at the switch-over; it keeps running on " + agent.name()
                        + ": " + e.getMessage(), e);
            }
            long doneNs = System.nanoTime();
            agent.vms().remove(vm);
            local.guest().close();
            local.closeServing();
            long qemuDowntimeMs = info.downtimeMs().orElse(0);
            Result r = new Result(vm, agent.name(), to, qemuDowntimeMs + (doneNs - completedNs) / 1_000_000,
                    (doneNs - startNs) / 1_000_000, qemuDowntimeMs, handoffNs / 1_000_000);
            agent.say(r.line());
            io.micrometer.core.instrument.Timer.builder("basalt.migration.downtime").tags("from", agent.name(), "to", to)
                    .description("Live migrations and the time each guest was paused (its vCPUs stopped on the source to resumed on the destination)")
                    .register(io.basalt.node.metrics.NodeMetrics.process().registry()).record(java.time.Duration.ofMillis(r.downtimeMs()));
            return r;
        } finally {
            agent.busy().remove(vm);
        }
    }

    /** Starts the migration to {@code uri} and waits for it to complete; returns when it was seen completed. */
    private static long sendState(Qmp qmp, String uri) throws IOException, InterruptedException {
        CompletableFuture<Long> completed = new CompletableFuture<>();
        try (AutoCloseable listening = qmp.onEvent(e -> {
            if (e.name().equals("MIGRATION") && e.data().path("status").asText().equals("completed")) {
                completed.complete(System.nanoTime());
            }
        })) {
            qmp.migrateSetDowntimeLimit(DOWNTIME_LIMIT);
            qmp.migrate(uri);
            long deadline = System.nanoTime() + MIGRATION_TIMEOUT.toNanos();
            while (true) {
                try {
                    return completed.get(POLL.toMillis(), TimeUnit.MILLISECONDS);
                } catch (java.util.concurrent.TimeoutException e) {
                    MigrationInfo info = qmp.queryMigrate();
                    if (info.completed()) {
                        return completed.getNow(System.nanoTime());
                    }
                    if (info.failed()) {
                        throw new IOException("QEMU reports migration " + info.status() + info.errorDesc().map(d -> ": " + d).orElse(""));
                    }
                    if (System.nanoTime() > deadline) {
                        qmp.execute("migrate_cancel", null);
                        throw new IOException("migration did not complete within " + MIGRATION_TIMEOUT.toMinutes() + " min (" + info.status() + ")");
                    }
                } catch (java.util.concurrent.ExecutionException e) {
                    throw new IllegalStateException("completion listener failed", e);
                }
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("closing the event listener: " + e.getMessage(), e);
        }
    }

    /**
     * Hands every disk's lock to the destination's session. Should one fail, the VM goes back to
     * running on the source: the destination gives its locks up, the source takes back those it had
     * handed over and resumes its QEMU.
     */
    private List<Grant> handOff(HostAgent.LocalVm local, HostRecord dest, AgentClient peer, String vm) throws IOException, InterruptedException {
        HostSessionClient session = agent.session();
        List<Grant> grants = new ArrayList<>();
        // One meta-group round trip each, all at once: the guest is paused meanwhile, so a VM with
        // several disks waits for the slowest hand-off, not for their sum.
        RuntimeException failed = null;
        for (CompletableFuture<Grant> f : eachDisk(local.record().disks(), disk -> session.handoff(disk, dest.session()))) {
            try {
                grants.add(f.join());
            } catch (java.util.concurrent.CompletionException e) {
                failed = failed != null ? failed : e.getCause() instanceof RuntimeException r ? r : e;
            }
        }
        try {
            if (failed != null) {
                throw failed;
            }
            return grants;
        } catch (RuntimeException e) {
            takeBack(local, peer, vm, grants);
            agent.report(vm, VmRecord.State.RUNNING, "migration to " + dest.name() + " failed at the lock hand-off: " + e.getMessage());
            throw new IOException("migration of " + vm + " to " + dest.name() + " failed at the lock hand-off; it keeps running on "
                    + agent.name() + ": " + e.getMessage(), e);
        }
    }

    /**
     * A migration given up after (some of) the locks were handed over: the destination gives up (its
     * QEMU killed, its locks released), the source takes the handed-over locks back (new tokens,
     * fences raised) and resumes its QEMU, which still holds the guest's whole state.
     */
    private void takeBack(HostAgent.LocalVm local, AgentClient peer, String vm, List<Grant> handedOver) throws IOException, InterruptedException {
        abortPeer(peer, vm);
        HostSessionClient session = agent.session();
        for (Grant g : handedOver) {
            Grant back = session.acquire(g.vdisk(), LockMode.EXCLUSIVE);
            agent.store().raiseFence(back.vdisk(), back.fence());
        }
        local.guest().qmp().cont();
    }

    private static void abortPeer(AgentClient peer, String vm) {
        try {
            peer.abortIncoming(vm);
        } catch (IOException | RuntimeException e) {
            log.log(System.Logger.Level.WARNING, "abort of the incoming side of " + vm + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Destination side: locks {@code vm}'s disks shared-read and starts its QEMU waiting for the migration; returns the port. */
    int prepareIncoming(String vm, String listenHost) throws IOException, InterruptedException {
        VmRecord record = agent.inventory().existingVm(vm);
        if (agent.vms().containsKey(vm) || !agent.busy().add(vm)) {
            throw new IllegalStateException("vm " + vm + " already runs or is being started on " + agent.name());
        }
        try {
            int port = freePort(listenHost);
            incoming.put(vm, agent.launch(record, LockMode.SHARED_READ, Optional.of("tcp:" + listenHost + ":" + port)));
            return port;
        } catch (IOException | InterruptedException | RuntimeException e) {
            agent.busy().remove(vm);
            throw e;
        }
    }

    /** Destination side: adopts the handed-over grants, raises their fences where writes land, resumes the guest. */
    void switchover(String vm, List<Grant> grants) throws IOException, InterruptedException {
        HostAgent.LocalVm local = incoming.remove(vm);
        if (local == null) {
            throw new IllegalStateException("vm " + vm + " is not being migrated in to " + agent.name());
        }
        try {
            grants.forEach(agent.session()::received);
            // Each fence is a placement-group round trip on a cluster: raised all at once, as the guest waits for every one.
            for (CompletableFuture<Grant> f : eachDisk(grants, g -> {
                agent.store().raiseFence(g.vdisk(), g.fence());
                return g;
            })) {
                try {
                    f.join();
                } catch (java.util.concurrent.CompletionException e) {
                    throw e.getCause() instanceof RuntimeException r ? r : e;
                }
            }
            local.guest().qmp().cont();
            agent.vms().put(vm, local);
            agent.inventory().updateVm(vm, r -> r.onHost(agent.name()).reported(VmRecord.State.RUNNING, ""));
        } finally {
            agent.busy().remove(vm);
        }
    }

    /** Destination side: gives up a migration in (kills the waiting QEMU, gives the shared locks back). */
    void abortIncoming(String vm) {
        HostAgent.LocalVm local = incoming.remove(vm);
        if (local == null) {
            return;
        }
        try {
            local.guest().close();
            local.closeServing();
            HostAgent.releaseQuietly(agent.session(), local.record().disks());
        } finally {
            agent.busy().remove(vm);
        }
    }

    /** {@code step} of every item at once, each on its own virtual thread; the futures in the items' order. */
    private static <T, R> List<CompletableFuture<R>> eachDisk(List<T> items, java.util.function.Function<T, R> step) {
        return items.stream().map(i -> CompletableFuture.supplyAsync(() -> step.apply(i), VIRTUAL)).toList();
    }

    private static final java.util.concurrent.Executor VIRTUAL = r -> Thread.ofVirtual().name("migration-handoff").start(r);

    private static int freePort(String host) throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getByName(host))) {
            return s.getLocalPort();
        }
    }

    @Override
    public void close() {
        List.copyOf(incoming.keySet()).forEach(this::abortIncoming);
    }
}
