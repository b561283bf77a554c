package io.basalt.chaos;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import io.basalt.chaos.disk.FaultMount;
import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.node.cluster.CgroupNetwork;

/**
 * One chaos run: N node processes in the run directory, client workers of the chosen workloads
 * in this process, the nemesis carrying out the seeded schedule, then the heal, the final reads
 * (for durability after every node was SIGKILLed at once and restarted), the checks and the
 * report ({@link Report}). The run directory holds {@code cluster.json}, each node's data and log,
 * {@code schedule.json}, {@code history.jsonl}, {@code faults.jsonl}, {@code report.txt},
 * {@code verdict.json} and {@code chaos.html}.
 */
public final class ChaosRun {
    /** A workload, as named on the command line. */
    public enum Workload {
        registers, durability, locks, model;

        /** {@code registers}, {@code durability}, {@code locks}, {@code model} or {@code all}. */
        public static Set<Workload> parse(String name) {
            return switch (name.trim().toLowerCase(Locale.ROOT)) {
                case "all" -> EnumSet.allOf(Workload.class);
                case "registers" -> EnumSet.of(registers);
                case "durability" -> EnumSet.of(durability);
                case "locks" -> EnumSet.of(locks);
                case "model" -> EnumSet.of(model);
                default -> throw new IllegalArgumentException("--workload: " + name + " (expected: registers, durability, locks, model or all)");
            };
        }
    }

    /**
     * What to run; {@code ackBeforeCommit} is the test-only durability mutation: the workloads' clients are opened with
     * {@value #ACK_BEFORE_COMMIT_PROPERTY}, so their write path acknowledges a write when it sends it, before the cluster
     * committed it, and the durability check must find lost writes; {@code skipFenceCheck} the test-only fencing mutation: the nodes start with {@value #SKIP_FENCE_CHECK}, so
     * their placement groups apply writes whatever token they carry, and the locks check must fail. Never for a real run.
     */
    public record Options(Set<Workload> workloads, Set<Schedule.Nemesis> nemeses, Duration time, long seed, int nodes, Path dir,
                          boolean ackBeforeCommit, boolean skipFenceCheck) {
        public Options {
            workloads = Set.copyOf(workloads);
            nemeses = Set.copyOf(nemeses);
            if (workloads.isEmpty() || nodes < 1 || time.isNegative() || time.isZero()) {
                throw new IllegalArgumentException("workloads " + workloads + ", nodes " + nodes + ", time " + time
                        + " (expected: a workload, >= 1 node, a positive time)");
            }
        }

        /** Without the fencing mutation. */
        public Options(Set<Workload> workloads, Set<Schedule.Nemesis> nemeses, Duration time, long seed, int nodes, Path dir, boolean ackBeforeCommit) {
            this(workloads, nemeses, time, seed, nodes, dir, ackBeforeCommit, false);
        }
    }

    /** The clients' test-only switch that acknowledges writes before the commit (PgChannel, module cluster-fs): read when a client opens. */
    static final String ACK_BEFORE_COMMIT_PROPERTY = "basalt.test.ackWritesBeforeCommit";
    /** The node JVMs' test-only switch that turns the placement groups' fence check off (PgFences, module cluster-fs). */
    static final String SKIP_FENCE_CHECK = "-Dbasalt.test.skipPgFenceCheck=true";

    /** How long the clients hold an I/O a group cannot answer before failing it: long faults end operations as info. */
    static final long IO_TIMEOUT_MS = 8000;
    static final int CLIENTS = 2;
    static final int REGISTER_WORKERS_PER_CLIENT = 3;
    static final int DURABILITY_WORKERS_PER_CLIENT = 2;
    /** How long the cluster may take to answer after a start, a restart or the heal. */
    static final Duration QUORUM_WAIT = Duration.ofSeconds(120);
    static final Duration PROGRESS_EVERY = Duration.ofSeconds(5);

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final Options options;
    private final Consumer<String> out;

    /** The test switches every node JVM starts with: the fence check's mutation, the bit-rot nemesis's requests. */
    private List<String> nodeJvmOptions(java.util.Set<Schedule.Nemesis> nemeses) {
        List<String> jvm = new java.util.ArrayList<>();
        if (options.skipFenceCheck()) {
            jvm.add(SKIP_FENCE_CHECK);
        }
        if (nemeses.contains(Schedule.Nemesis.bitrot)) {
            jvm.add("-D" + io.basalt.cluster.pg.BitRotForTest.PROPERTY + "=true");
        }
        return jvm;
    }

    public ChaosRun(Options options, Consumer<String> out) {
        this.options = options;
        this.out = out;
    }

    /** Runs it; the result says what was found (the report is already written). */
    public Report run() throws Exception {
        Path dir = options.dir();
        Files.createDirectories(dir);
        Set<Schedule.Nemesis> nemeses = EnumSet.noneOf(Schedule.Nemesis.class);
        nemeses.addAll(options.nemeses());
        if (nemeses.stream().anyMatch(Schedule.Nemesis::cuts)) {
            Optional<String> missing = CgroupNetwork.missing();
            if (missing.isPresent()) {
                nemeses.removeIf(Schedule.Nemesis::cuts);
                out.accept("chaos: partitions left out: they need " + missing.get());
            } else {
                CgroupNetwork.sweep().forEach(line -> out.accept("chaos: removed what a dead run left: " + line));
            }
        }
        if (nemeses.contains(Schedule.Nemesis.disk)) {
            Optional<String> missing = FaultMount.unavailableReason();
            if (missing.isPresent()) {
                nemeses.remove(Schedule.Nemesis.disk);
                out.accept("chaos: disk faults left out: they need " + missing.get());
            }
        }
        Schedule schedule = Schedule.plan(options.seed(), nemeses, options.time(), options.nodes());
        JSON.writeValue(dir.resolve("schedule.json").toFile(), schedule);
        out.accept("chaos: run directory " + dir.toAbsolutePath() + "; seed " + options.seed() + "; " + schedule.faults().size()
                + " faults planned; workloads " + options.workloads() + "; nemeses " + nemeses);
        // The network closes after the nodes: their cgroups can go only once their processes exited.
        try (CgroupNetwork net = nemeses.stream().anyMatch(Schedule.Nemesis::cuts) ? CgroupNetwork.open() : null;
             NodeProcesses nodes = NodeProcesses.start(dir, options.nodes(), IO_TIMEOUT_MS, Optional.ofNullable(net),
                     nemeses.contains(Schedule.Nemesis.disk), nodeJvmOptions(nemeses))) {
            if (net != null) {
                out.accept("chaos: partitions by iptables rules marked " + net.marker() + ", each node in cgroup " + net.marker() + "-node-N");
            }
            if (nodes.hasDisks()) {
                out.accept("chaos: each node's data on a fault disk: node-N is a FUSE mount of disk-N, unsynced writes held in memory");
            }
            out.accept("chaos: " + options.nodes() + " nodes started, pids " + nodes.ids().stream().map(nodes::pid).toList()
                    + " (logs " + dir.resolve("node-N.log") + ")");
            ClusterConfig config = nodes.cluster().toConfig();
            try (ClusterClient admin = ClusterClient.open(config)) {
                awaitQuorum(admin, nodes);
                if (options.workloads().contains(Workload.registers)) {
                    RegisterWorkload.setUp(admin);
                }
                if (options.workloads().contains(Workload.durability)) {
                    DurabilityWorkload.setUp(admin);
                }
                if (options.workloads().contains(Workload.locks)) {
                    LocksWorkload.setUp(admin);
                }
                if (options.workloads().contains(Workload.model)) {
                    ModelWorkload.setUp(admin);
                }
                if (nemeses.contains(Schedule.Nemesis.bitrot)) {
                    BitRot.setUp(admin);
                }
            }
            long startNs = System.nanoTime();
            try (History history = new History(dir.resolve("history.jsonl"), startNs)) {
                return runWorkloads(nodes, config, schedule, history, Optional.ofNullable(net).map(n -> new Partitioner(n, nodes)));
            }
        }
    }

    private Report runWorkloads(NodeProcesses nodes, ClusterConfig config, Schedule schedule, History history, Optional<Partitioner> partitioner)
            throws Exception {
        long startNs = history.startNs();
        RegisterWorkload registers = options.workloads().contains(Workload.registers) ? new RegisterWorkload(history) : null;
        DurabilityWorkload durability = options.workloads().contains(Workload.durability)
                ? new DurabilityWorkload(history) : null;
        LocksWorkload locks = options.workloads().contains(Workload.locks) ? new LocksWorkload(history) : null;
        ModelWorkload model = options.workloads().contains(Workload.model) ? new ModelWorkload(history) : null;
        List<ClusterClient> clients = options.ackBeforeCommit() ? openMutantClients(config) : openClients(config);
        Nemesis nemesis = new Nemesis(nodes, schedule, startNs, options.dir().resolve("faults.jsonl"), line -> out.accept("chaos: " + line),
                partitioner);
        List<Nemesis.Window> windows = new ArrayList<>();
        try {
            if (registers != null) {
                registers.start(clients, REGISTER_WORKERS_PER_CLIENT, 1, options.seed());
            }
            if (durability != null) {
                durability.start(clients, DURABILITY_WORKERS_PER_CLIENT, 101, options.seed());
            }
            if (locks != null) {
                locks.start(config, options.seed());
            }
            if (model != null) {
                model.start(config, options.seed());
            }
            long endNs = startNs + options.time().toNanos();
            Thread progress = Thread.ofPlatform().daemon().name("chaos-progress").start(() -> progress(history, nemesis, endNs));
            try {
                windows.addAll(nemesis.run(endNs));
                sleepUntil(endNs);
            } finally {
                progress.interrupt();
                if (partitioner.isPresent()) {
                    partitioner.get().heal(); // the nemesis heals each partition; this is for a run that failed in one
                }
                String healed = nodes.heal();
                out.accept("chaos: time is up; healed: " + (healed.isEmpty() ? "nothing to heal" : healed));
            }
            if (locks != null) {
                locks.stop(); // before any final kill: its hosts' last operations end against a whole cluster
            }
            if (model != null) {
                model.stop(); // likewise; what it left unknown the model allows for
            }
            if (durability != null) {
                // Every node SIGKILLed at once while writes are in flight; the clients are closed
                // before the restart, so no write still in a client lands afterwards.
                int index = windows.size() + 1;
                List<Integer> all = List.copyOf(nodes.ids());
                List<Long> pids = all.stream().map(nodes::pid).toList();
                out.accept("chaos: final fault " + index + ": kill-all " + all + " pids " + pids + (nodes.hasDisks() ? " with a power cut" : "")
                        + " (durability: every acknowledged write must survive)");
                long killedNs = System.nanoTime();
                for (int id : all) {
                    nodes.kill(id);
                }
                if (nodes.hasDisks()) {
                    for (int id : all) {
                        var dropped = nodes.powerCut(id);
                        out.accept("chaos: final power cut of node " + id + " dropped " + dropped.bytes() + " unsynced bytes in " + dropped.fileCount() + " files");
                    }
                }
                stopAll(registers, durability);
                closeAll(clients);
                for (int id : all) {
                    nodes.restart(id);
                }
                long restartedNs = System.nanoTime();
                long backNs = nemesis.awaitBack(all);
                windows.add(finalKill(index, all, pids, killedNs - startNs, restartedNs - startNs, backNs == Nemesis.NOT_BACK ? backNs : backNs - startNs));
                clients = openClients(nodes.cluster().toConfig()); // a replaced node changed the cluster file
                awaitQuorum(clients.get(0), nodes);
                durability.finalReads(clients.get(0), 1000);
            } else {
                stopAll(registers, null);
            }
            if (registers != null) {
                awaitQuorum(clients.get(0), nodes);
                registers.finalReads(clients, 1001);
            }
            if (locks != null) {
                awaitQuorum(clients.get(0), nodes);
                locks.finalReads(clients.get(0), 1002);
                out.accept("chaos: locks: " + locks.describe());
            }
            if (model != null) {
                awaitQuorum(clients.get(0), nodes);
                model.finalReads(clients.get(0), 1003);
                out.accept("chaos: model: " + model.describe());
            }
        } finally {
            if (locks != null) {
                locks.stop(); // a run that failed part way: its hosts stop too
            }
            if (model != null) {
                model.stop();
            }
            closeAll(clients);
        }
        Report report = Report.of(options, history, windows, registers, durability, locks, model);
        report.write(options.dir());
        return report;
    }

    /** The final kill of every node, logged to {@code faults.jsonl} like the scheduled ones. */
    private Nemesis.Window finalKill(int index, List<Integer> all, List<Long> pids, long startNs, long endNs, long backNs) throws IOException {
        Schedule.Fault f = new Schedule.Fault(index, Schedule.Kind.KILL_ALL, all, startNs / 1_000_000, 0, Math.max(1, (endNs - startNs) / 1_000_000));
        Nemesis.Window window = new Nemesis.Window(f, pids, startNs, endNs, backNs);
        try (var w = Files.newBufferedWriter(options.dir().resolve("faults.jsonl"), java.nio.file.StandardOpenOption.APPEND)) {
            w.write(new ObjectMapper().writeValueAsString(Nemesis.line(window, true)));
            w.newLine();
        }
        return window;
    }

    private static void stopAll(RegisterWorkload registers, DurabilityWorkload durability) throws InterruptedException {
        if (registers != null) {
            registers.stop();
        }
        if (durability != null) {
            durability.stop();
        }
    }

    /** Two clients, as two hosts would be, with the run's I/O timeout. */
    private static List<ClusterClient> openClients(ClusterConfig config) {
        List<ClusterClient> clients = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            clients.add(ClusterClient.open(config));
        }
        return clients;
    }

    /** {@link #openClients} with the write path acknowledging before the commit; the switch is read as each client opens, then cleared. */
    private List<ClusterClient> openMutantClients(ClusterConfig config) {
        out.accept("chaos: MUTATION: the workloads' clients acknowledge writes before the cluster committed them (test only)");
        System.setProperty(ACK_BEFORE_COMMIT_PROPERTY, "true");
        try {
            return openClients(config);
        } finally {
            System.clearProperty(ACK_BEFORE_COMMIT_PROPERTY);
        }
    }

    private void closeAll(List<ClusterClient> clients) {
        for (ClusterClient c : clients) {
            try {
                c.close();
            } catch (RuntimeException e) {
                out.accept("chaos: closing a client: " + e.getMessage()); // nothing is lost: its operations are all recorded
            }
        }
        clients.clear();
    }

    /** Waits until the meta group answers, failing fast (with the log's tail) if a node died. */
    private void awaitQuorum(ClusterClient client, NodeProcesses nodes) throws Exception {
        long t0 = System.nanoTime();
        long deadline = t0 + QUORUM_WAIT.toNanos();
        RuntimeException last = null;
        while (System.nanoTime() < deadline) {
            for (int id : nodes.ids()) {
                if (!nodes.alive(id)) {
                    throw new IllegalStateException("node " + id + " exited on its own; see " + options.dir().resolve("node-" + id + ".log"));
                }
            }
            try {
                client.vdisks();
                out.accept("chaos: the cluster answers (" + (System.nanoTime() - t0) / 1_000_000 + " ms)");
                return;
            } catch (RuntimeException e) {
                last = e;
                Thread.sleep(500);
            }
        }
        throw new TimeoutException("the cluster did not answer within " + QUORUM_WAIT.toSeconds() + " s: " + (last == null ? "" : last.getMessage()));
    }

    private void progress(History history, Nemesis nemesis, long endNs) {
        long startNs = history.startNs();
        try {
            while (System.nanoTime() < endNs) {
                Thread.sleep(PROGRESS_EVERY.toMillis());
                out.accept(String.format("chaos: %d s of %d s; ok %d, failed %d, info %d; faults %d; now: %s", (System.nanoTime() - startNs) / 1_000_000_000,
                        options.time().toSeconds(), history.okCount(), history.failCount(), history.infoCount(), nemesis.windows().size(), nemesis.now()));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // the run is over
        }
    }

    private static void sleepUntil(long atNs) throws InterruptedException {
        long waitNs = atNs - System.nanoTime();
        if (waitNs > 0) {
            Thread.sleep(waitNs / 1_000_000L, (int) (waitNs % 1_000_000L));
        }
    }
}
