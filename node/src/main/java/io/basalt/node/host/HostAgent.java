package io.basalt.node.host;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

import io.basalt.host.Accelerator;
import io.basalt.host.GuestNetwork;
import io.basalt.host.GuestProcess;
import io.basalt.host.Taps;
import io.basalt.host.VmSpec;
import io.basalt.lock.HoldState;
import io.basalt.lock.HostSessionClient;
import io.basalt.lock.LockMode;
import io.basalt.lock.LockResult.Grant;
import io.basalt.lock.Session;
import io.basalt.node.locks.LockedStore;

/**
 * A hypervisor host (docs/architecture.md, "Hosts and guests"): joins a datastore with a session
 * of its lock table, registers itself ({@code host/NAME}), and runs the VMs placed on it as QEMU
 * child processes. Each VM's disks are locked by this host's session (exclusive while it runs;
 * shared-read while it is being migrated in) and served to its QEMU by an iSCSI target of its own
 * on loopback, every write carrying the session's token, so a host that lost its lease is refused
 * by the store.
 *
 * <p>A reconcile loop (every {@link Options#pollPeriod}) makes the host match the records: it
 * starts the VMs placed on it that should run, stops those that should not, restarts elsewhere
 * the VMs of hosts whose sessions ended (HA: the live host with the most free memory claims them
 * by compare-and-set), and, when its own session has ended (a frozen host that woke up), kills its
 * stale guests and joins again as a new session. Live migration is in {@link Migrations}.
 */
public final class HostAgent implements AutoCloseable {
    private static final System.Logger log = System.getLogger(HostAgent.class.getName());
    /** The target name prefix of a VM's own iSCSI target; the VM's name follows. */
    static final String IQN_PREFIX = "iqn.2026-11.io.basalt:vm.";
    /** The most of a console log one API call returns. */
    static final int CONSOLE_CHUNK_BYTES = 1 << 20;

    /**
     * How the agent runs. {@code qemu} is the emulator binary; {@code runDir} holds a directory per
     * VM; {@code bridge} is the Linux bridge each VM's tap goes on (empty: user-mode networking).
     */
    public record Options(String qemu, Accelerator accelerator, Path runDir, int vcpus, long memoryMiB, long leaseMs,
                          Duration pollPeriod, Duration powerdownTimeout, Duration qmpTimeout, Optional<String> bridge,
                          java.net.InetSocketAddress apiListen) {
        /** With the control API on loopback. */
        public Options(String qemu, Accelerator accelerator, Path runDir, int vcpus, long memoryMiB, long leaseMs,
                       Duration pollPeriod, Duration powerdownTimeout, Duration qmpTimeout, Optional<String> bridge) {
            this(qemu, accelerator, runDir, vcpus, memoryMiB, leaseMs, pollPeriod, powerdownTimeout, qmpTimeout, bridge, AgentApi.LISTEN_DEFAULT);
        }

        public Options withApiListen(java.net.InetSocketAddress listen) {
            return new Options(qemu, accelerator, runDir, vcpus, memoryMiB, leaseMs, pollPeriod, powerdownTimeout, qmpTimeout, bridge, listen);
        }

        public Options {
            java.util.Objects.requireNonNull(bridge, "bridge");
            java.util.Objects.requireNonNull(apiListen, "apiListen");
            if (apiListen.getAddress() == null || apiListen.getAddress().isAnyLocalAddress()) {
                // The address is registered for the other hosts to call and to migrate to: it must be one they reach.
                throw new IllegalArgumentException("--listen " + apiListen.getHostString() + ":" + apiListen.getPort()
                        + " (expected: an address of this host that the other hosts reach it at, e.g. 10.0.0.5:0; not a wildcard)");
            }
            if (vcpus < 1 || memoryMiB < 1) {
                throw new IllegalArgumentException("host capacity: " + vcpus + " vCPUs, " + memoryMiB + " MiB (expected: at least 1 of each)");
            }
        }
    }

    /** A VM this agent runs: its QEMU, its disks as served to it (in the order of the record's), its tap if any. */
    record LocalVm(VmRecord record, List<ServedDisk> disks, GuestProcess guest, Optional<String> tap) {
        void closeServing() {
            disks.forEach(ServedDisk::close);
            tap.ifPresent(Taps::deleteQuietly);
        }

        /** The same VM with its record now {@code r} and its disks {@code d}. */
        LocalVm with(VmRecord r, List<ServedDisk> d) {
            return new LocalVm(r, List.copyOf(d), guest, tap);
        }
    }

    private final String name;
    private final LockedStore store;
    private final Inventory inventory;
    private final Options options;
    private final PrintWriter out;
    private final Map<String, LocalVm> vms = new ConcurrentHashMap<>();
    /** VMs whose start, stop or migration is under way here: the reconcile loop leaves them alone. */
    private final Set<String> busy = ConcurrentHashMap.newKeySet();
    private final Migrations migrations;
    private final DiskGrowth growth;
    /** Reconcile passes so far: the disks' sizes are looked at every {@link #GROWTH_EVERY_PASSES}th. */
    private long passes;
    /** Every 4th pass (2 s at the default poll period): one namespace read per disk of each VM here. */
    static final int GROWTH_EVERY_PASSES = 4;
    private final AgentApi api;
    private final String agentToken;
    private final java.util.Optional<AgentTls> agentTls;
    private volatile HostSessionClient session;
    private final Thread loop;
    private volatile boolean closed;

    private HostAgent(String name, LockedStore store, Inventory inventory, Options options, PrintWriter out) throws IOException {
        this.name = name;
        this.store = store;
        this.inventory = inventory;
        this.options = options;
        this.out = out;
        this.session = HostSessionClient.open(store.locks(), name, options.leaseMs(), System::nanoTime);
        this.migrations = new Migrations(this);
        this.growth = new DiskGrowth(name, store, this::say);
        this.agentToken = inventory.agentToken();
        this.agentTls = inventory.agentTls();
        this.api = AgentApi.start(this, options.apiListen(), agentToken, agentTls);
        this.loop = Thread.ofPlatform().daemon().name("basalt-host-" + name).unstarted(this::reconcileLoop);
    }

    /** Starts the agent named {@code name} on {@code store}, its records in {@code inventory}. */
    public static HostAgent start(String name, LockedStore store, Inventory inventory, Options options, PrintWriter out) throws IOException {
        if (!VmSpec.NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("host name: '" + name + "' (expected: " + VmSpec.NAME.pattern() + ")");
        }
        HostAgent agent = new HostAgent(name, store, inventory, options, out);
        try {
            agent.register();
            agent.loop.start();
            return agent;
        } catch (RuntimeException e) {
            agent.close();
            throw e;
        }
    }

    public String name() {
        return name;
    }

    /** Where this agent's control API listens ({@code HOST:PORT}). */
    public String apiAddress() {
        return api.address();
    }

    /** A client of this agent's control API, with the datastore's agent token. */
    public AgentClient apiClient() {
        return new AgentClient(api.address(), agentToken, agentTls);
    }

    /** A client of the agent whose API is at {@code address} (another host's), with the agent token. */
    AgentClient clientOf(String address) {
        return new AgentClient(address, agentToken, agentTls);
    }

    /** The address incoming migrations listen on: this agent's API host. */
    String apiListenHost() {
        return api.listenHost();
    }

    HostSessionClient session() {
        return session;
    }

    LockedStore store() {
        return store;
    }

    Inventory inventory() {
        return inventory;
    }

    Options options() {
        return options;
    }

    Map<String, LocalVm> vms() {
        return vms;
    }

    Set<String> busy() {
        return busy;
    }

    Migrations migrations() {
        return migrations;
    }

    void say(String line) {
        out.println(line);
        out.flush();
    }

    /** The VMs running here, by name. */
    public Set<String> running() {
        return Set.copyOf(vms.keySet());
    }

    /** The QEMU pid of VM {@code vm} here, if it runs here. */
    public Optional<Long> pidOf(String vm) {
        return Optional.ofNullable(vms.get(vm)).map(v -> v.guest().pid());
    }

    private void register() {
        inventory.putHost(new HostRecord(name, session.sessionId(), api.address(), options.vcpus(), options.memoryMiB(),
                inventory.host(name).map(HostRecord::maintenance).orElse(false), System.currentTimeMillis()));
        say("host " + name + " session " + session.sessionId() + " api " + api.address() + " (" + options.vcpus() + " vCPUs, "
                + options.memoryMiB() + " MiB, " + options.accelerator().qemuName() + ")");
    }

    private void reconcileLoop() {
        while (!closed) {
            try {
                reconcile();
            } catch (RuntimeException e) {
                // The datastore is unreachable for now (no meta leader): try again next period.
                log.log(System.Logger.Level.WARNING, "host " + name + ": reconcile: " + e.getMessage());
            }
            try {
                Thread.sleep(options.pollPeriod());
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** One pass: make this host match the records (see the class comment). Also what the API's poke runs. */
    synchronized void reconcile() {
        if (closed) {
            return;
        }
        rejoinIfSessionEnded();
        List<VmRecord> records = inventory.vms();
        Map<String, VmRecord> byName = records.stream().collect(Collectors.toMap(VmRecord::name, r -> r));
        for (VmRecord vm : records) {
            if (busy.contains(vm.name())) {
                continue;
            }
            if (wantsStart(vm)) {
                // Read again before acting: a migration that ended since the list was read changed the record.
                VmRecord fresh = inventory.vm(vm.name()).orElse(null);
                if (fresh != null && !busy.contains(vm.name()) && wantsStart(fresh)) {
                    startVm(fresh);
                }
            } else if (wantsStop(vm)) {
                VmRecord fresh = inventory.vm(vm.name()).orElse(null);
                if (!busy.contains(vm.name()) && (fresh == null || wantsStop(fresh))) {
                    stopVm(vm.name(), false);
                }
            }
        }
        for (String local : List.copyOf(vms.keySet())) {
            LocalVm vm = vms.get(local);
            if (vm != null && !busy.contains(local) && (!byName.containsKey(local) || !vm.guest().isAlive())) {
                guestEnded(local, byName.containsKey(local));
            }
        }
        restartOrphans(records);
        if (++passes % GROWTH_EVERY_PASSES == 0) {
            growth.check(vms, busy);
        }
    }

    /** Placed here, wanted running, not running here. A failed start is not retried by itself: the record says why, and `basalt vm start` asks again. */
    private boolean wantsStart(VmRecord vm) {
        return vm.host().equals(name) && vm.desired() == VmRecord.Desired.RUNNING && vm.state() != VmRecord.State.FAILED && !vms.containsKey(vm.name());
    }

    /** Running here, but wanted stopped or placed elsewhere. */
    private boolean wantsStop(VmRecord vm) {
        return vms.containsKey(vm.name()) && (vm.desired() == VmRecord.Desired.STOPPED || !vm.host().equals(name));
    }

    /** A frozen host that woke up finds its session ended: its guests' writes are refused by now; kill them, join afresh. */
    private void rejoinIfSessionEnded() {
        HostSessionClient s = session;
        // A VM being migrated out gives its locks away on purpose (the hand-off): only a settled VM's lost lock means fenced.
        boolean lost = vms.values().stream().filter(vm -> !busy.contains(vm.record().name()))
                .anyMatch(vm -> vm.record().disks().stream().anyMatch(d -> s.hold(d) == HoldState.LOST));
        if (!lost && s.valid()) {
            return;
        }
        if (!lost && !sessionGone(s.sessionId())) {
            return;    // unconfirmed (no quorum to renew): the guests' writes wait; nothing to kill yet
        }
        say("host " + name + ": session " + s.sessionId() + " ended (" + (lost ? "a lock was taken away" : "lease lost") + "); killing " + vms.size() + " stale guests and rejoining");
        for (String vm : List.copyOf(vms.keySet())) {
            killLocal(vm);
        }
        s.close();
        session = HostSessionClient.open(store.locks(), name, options.leaseMs(), System::nanoTime);
        register();
    }

    private boolean sessionGone(long id) {
        return store.locks().sessions().stream().noneMatch(x -> x.id() == id);
    }

    /** Starts {@code vm} here: its disks locked exclusive, served on loopback, QEMU started. Failures are reported in its record. */
    void startVm(VmRecord vm) {
        busy.add(vm.name());
        try {
            report(vm.name(), VmRecord.State.STARTING, "");
            LocalVm local = launch(vm, LockMode.EXCLUSIVE, Optional.empty());
            vms.put(vm.name(), local);
            report(vm.name(), VmRecord.State.RUNNING, "");
            say("started vm " + vm.name() + " on " + name + " (qemu pid " + local.guest().pid() + ")");
        } catch (IOException | RuntimeException e) {
            log.log(System.Logger.Level.WARNING, "host " + name + ": start of vm " + vm.name() + " failed", e);
            report(vm.name(), VmRecord.State.FAILED, "start on " + name + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            busy.remove(vm.name());
        }
    }

    /**
     * Locks {@code vm}'s disks in {@code mode}, serves them on a loopback iSCSI target of its own,
     * makes its tap on the bridge (or gives it user-mode networking) and starts QEMU on them ({@code incomingUri}: waiting for a live migration, paused). On failure
     * everything taken so far is given back.
     */
    LocalVm launch(VmRecord vm, LockMode mode, Optional<String> incomingUri) throws IOException, InterruptedException {
        List<ServedDisk> served = new ArrayList<>();
        Optional<String> tap = Optional.empty();
        HostSessionClient s = session;
        try {
            for (int i = 0; i < vm.disks().size(); i++) {
                served.add(ServedDisk.serve(store, s, vm.name(), vm.disks().get(i), vm.diskSlots().get(i), mode));
            }
            GuestNetwork network = new GuestNetwork.User();
            if (options.bridge().isPresent()) {
                tap = Optional.of(Taps.nameFor(name, vm.name()));
                Taps.create(tap.get(), options.bridge().get());
                network = new GuestNetwork.Tap(tap.get());
            }
            VmSpec spec = vm.spec(served.stream().map(ServedDisk::url).toList()).withNetwork(network);
            if (incomingUri.isPresent()) {
                spec = spec.startPaused().incomingOn(incomingUri.get());
            }
            GuestProcess guest = GuestProcess.start(options.qemu(), options.accelerator(), spec, options.runDir().resolve(vm.name()),
                    options.qmpTimeout());
            return new LocalVm(vm, List.copyOf(served), guest, tap);
        } catch (IOException | InterruptedException | RuntimeException e) {
            served.forEach(ServedDisk::close);
            tap.ifPresent(Taps::deleteQuietly);
            releaseQuietly(s, served.stream().map(ServedDisk::vdisk).toList());
            throw e;
        }
    }

    /** Stops {@code vm} here (ACPI, then quit, then SIGKILL when {@code kill} is false; SIGKILL at once otherwise). */
    void stopVm(String vm, boolean kill) {
        busy.add(vm);
        try {
            LocalVm local = vms.remove(vm);
            if (local == null) {
                return;
            }
            GuestProcess.Stopped stopped;
            if (kill) {
                local.guest().kill();
                stopped = new GuestProcess.Stopped(GuestProcess.StopWay.KILLED, -1, Duration.ZERO);
            } else {
                stopped = local.guest().stop(options.powerdownTimeout());
            }
            local.guest().close();
            local.closeServing();
            releaseQuietly(session, local.record().disks());
            report(vm, VmRecord.State.STOPPED, "");
            say("stopped vm " + vm + " on " + name + " (" + stopped.way().name().toLowerCase(java.util.Locale.ROOT) + " in "
                    + stopped.took().toMillis() + " ms)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            busy.remove(vm);
        }
    }

    /** What {@code basalt vm snapshot} did on a running VM: the snapshots made and how long the guest was paused for them. */
    public record VmSnapshot(String vm, String snapshot, List<String> disks, long pausedMs) {
        public String line() {
            return "snapshot " + snapshot + " of vm " + vm + ": " + disks.stream().map(d -> d + "@" + snapshot).collect(Collectors.joining(", "))
                    + " at one instant (guest paused " + pausedMs + " ms)";
        }
    }

    /**
     * {@code basalt vm snapshot}: a crash-consistent snapshot of all of {@code vm}'s disks at one
     * instant. The guest's vCPUs stop (QEMU drains and flushes its disks as it stops them), each disk
     * is snapshotted by this host's lock (fenced like a write), and the guest goes on, also when a
     * snapshot failed. {@code only}: just these of its disks (a backup of one disk of a running VM).
     */
    VmSnapshot snapshot(String vm, String snap, Optional<List<String>> only) throws InterruptedException {
        if (!busy.add(vm)) {
            throw new IllegalStateException("vm " + vm + " on " + name + ": a start, stop or migration is under way (expected: try again when it ends)");
        }
        try {
            LocalVm local = vms.get(vm);
            if (local == null) {
                throw new IllegalStateException("vm " + vm + ": not running on " + name);
            }
            List<String> disks = only.orElse(local.record().disks());
            for (String disk : disks) {
                if (!local.record().disks().contains(disk)) {
                    throw new IllegalArgumentException("disk: " + disk + " (expected: a disk of vm " + vm + ": " + local.record().disks() + ")");
                }
            }
            long t0 = System.nanoTime();
            local.guest().qmp().stop();
            try {
                for (String disk : disks) {
                    long token = session.grant(disk).map(Grant::token).orElseThrow(
                            () -> new IllegalStateException("vm " + vm + ": host " + name + " no longer holds " + disk + "'s lock"));
                    store.createSnapshot(disk, snap, token);
                }
            } finally {
                local.guest().qmp().cont();
            }
            long pausedMs = (System.nanoTime() - t0) / 1_000_000;
            say("snapshot " + snap + " of vm " + vm + " on " + name + " (guest paused " + pausedMs + " ms)");
            return new VmSnapshot(vm, snap, disks, pausedMs);
        } catch (io.basalt.host.qmp.QmpException e) {
            throw new IllegalStateException("vm " + vm + " on " + name + ": QMP: " + e.getMessage(), e);
        } finally {
            busy.remove(vm);
        }
    }

    /** {@code basalt vm kill}: records {@code vm} stopped and, when it runs here, kills its QEMU at once. */
    synchronized void kill(String vm) {
        // Refused before anything changes: a kill that cannot happen now must not leave the record wanting it stopped.
        if (busy.contains(vm)) {
            throw new IllegalStateException("vm " + vm + " on " + name + ": a start, stop or migration is under way (expected: try again when it ends)");
        }
        inventory.updateVm(vm, r -> r.withDesired(VmRecord.Desired.STOPPED));
        if (vms.containsKey(vm)) {
            stopVm(vm, true);
        } else {
            report(vm, VmRecord.State.STOPPED, "");
        }
    }

    /** Up to {@link #CONSOLE_CHUNK_BYTES} of {@code vm}'s serial console log on this host from byte {@code from}; empty at its end. */
    byte[] consoleFrom(String vm, long from) throws IOException {
        if (!VmSpec.NAME.matcher(vm).matches() || from < 0) {
            throw new IllegalArgumentException("console of vm '" + vm + "' from byte " + from + " (expected: a VM name and a byte offset ≥ 0)");
        }
        Path log = options.runDir().resolve(vm).resolve("console.log");
        if (!java.nio.file.Files.exists(log)) {
            return new byte[0];
        }
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(log)) {
            long n = Math.max(0, Math.min(CONSOLE_CHUNK_BYTES, ch.size() - from));
            java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate((int) n);
            while (buf.hasRemaining() && ch.read(buf, from + buf.position()) > 0) {
                // read until full: the log only grows
            }
            return java.util.Arrays.copyOf(buf.array(), buf.position());
        }
    }

    /** QEMU exited on its own (the guest powered off, or crashed), or the VM's record is gone: clean up here. */
    private void guestEnded(String vm, boolean recordExists) {
        LocalVm local = vms.remove(vm);
        if (local == null) {
            return;
        }
        local.guest().close();
        local.closeServing();
        releaseQuietly(session, local.record().disks());
        if (recordExists) {
            inventory.updateVm(vm, r -> r.withDesired(VmRecord.Desired.STOPPED).reported(VmRecord.State.STOPPED, "guest powered off on " + name));
        }
        say("vm " + vm + " ended on " + name);
    }

    private void killLocal(String vm) {
        LocalVm local = vms.remove(vm);
        if (local != null) {
            local.guest().close();
            local.closeServing();
        }
    }

    /**
     * HA: a VM that should run on a host whose session is gone (expired: the host died or was cut
     * off) is claimed by the live, non-maintenance host with the most free memory that can take it,
     * by compare-and-set of its record, and started there. The lock table's fences make sure the
     * old host's writes are refused from the moment its session expired.
     */
    private void restartOrphans(List<VmRecord> records) {
        List<HostRecord> hosts = inventory.hosts();
        Set<Long> live = store.locks().sessions().stream().map(Session::id).collect(Collectors.toSet());
        Set<String> liveHosts = hosts.stream().filter(h -> live.contains(h.session())).map(HostRecord::name).collect(Collectors.toSet());
        for (VmRecord vm : records) {
            if (vm.desired() != VmRecord.Desired.RUNNING || vm.host().isEmpty() || liveHosts.contains(vm.host()) || busy.contains(vm.name())) {
                continue;
            }
            Optional<HostRecord> best = Placement.choose(vm, hosts.stream().filter(h -> liveHosts.contains(h.name())).toList(), records);
            if (best.isEmpty() || !best.get().name().equals(name)) {
                continue;
            }
            String from = vm.host();
            VmRecord claimed = inventory.updateVm(vm.name(), r -> r.host().equals(from)
                    ? r.onHost(name).reported(VmRecord.State.STARTING, "host " + from + " is gone; restarting on " + name) : r);
            if (claimed.host().equals(name)) {
                say("vm " + vm.name() + ": host " + from + " is gone (its session ended); restarting it on " + name);
                startVm(claimed);
            }
        }
    }

    void report(String vm, VmRecord.State state, String message) {
        try {
            inventory.updateVm(vm, r -> r.reported(state, message));
        } catch (IllegalArgumentException gone) {
            // the VM was removed meanwhile
        }
    }

    static void releaseQuietly(HostSessionClient s, List<String> disks) {
        for (String disk : disks) {
            try {
                if (s.grant(disk).isPresent()) {
                    s.release(disk);
                }
            } catch (RuntimeException e) {
                log.log(System.Logger.Level.WARNING, "release of " + disk + " by session " + s.sessionId() + ": " + e.getMessage());
            }
        }
    }

    /**
     * Kills every guest here and ends the session. Their records still want them running, so the
     * other hosts restart them as after a crash of this host; stop or migrate them first
     * ({@code basalt host maintenance}) to leave them running.
     */
    @Override
    public void close() {
        closed = true;
        loop.interrupt();
        try {
            loop.join(Duration.ofSeconds(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        api.close();
        migrations.close();
        for (String vm : List.copyOf(vms.keySet())) {
            killLocal(vm);
        }
        session.close();
    }
}
