package io.basalt.chaos;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

import io.basalt.chaos.disk.Dropped;
import io.basalt.chaos.disk.FaultMode;
import io.basalt.chaos.disk.FaultMount;
import io.basalt.cluster.pg.BitRotForTest;
import io.basalt.node.cluster.CgroupNetwork;
import io.basalt.node.cluster.ClusterFile;
import io.basalt.node.cluster.LocalCluster;

/**
 * The cluster under test: N {@code basalt node} processes started by {@link LocalCluster} (as
 * {@code basalt cluster up} starts them) in the run directory, each with its data in
 * {@code node-ID/} and its log in {@code node-ID.log} (a restart appends to it, so every
 * incarnation's output is kept). Faults act on processes by pid: SIGKILL, SIGSTOP, SIGCONT. With a
 * {@link CgroupNetwork}, each node (every incarnation) runs in a cgroup of its own, {@code node-ID},
 * which the {@link Partitioner}'s rules match. With disks, each node's {@code node-ID/} is a
 * {@link FaultMount} over {@code disk-ID/}: its writes wait in memory until fsynced, so a power
 * cut can drop them, and its fsyncs, reads and writes can be made to fail.
 *
 * <p>Owns the processes and the mounts: {@link #close} thaws every paused node, stops them all
 * (SIGTERM, then SIGKILL), then unmounts every disk, also when the run failed.
 */
public final class NodeProcesses implements AutoCloseable {
    /** How long a killed process may take to exit, and a signal to be delivered. */
    static final long EXIT_WAIT_SECONDS = 30;

    private final Path runDir;
    private final Path clusterFile;
    /** The address book as it is now: a replacement adds a node to it and then drops the replaced one. */
    private volatile ClusterFile cluster;
    /** A replaced node's id to its replacement's, so a schedule planned on ids 1..N still names live nodes. */
    private final Map<Integer, Integer> replacedBy = new TreeMap<>();
    /** Nodes to start with {@code --join} (new and empty) the next time they start. */
    private final Set<Integer> joining = new TreeSet<>();
    private Optional<CgroupNetwork> net = Optional.empty();
    private final LocalCluster local = new LocalCluster();
    private final Map<Integer, LocalCluster.Child> current = new TreeMap<>();
    private final Set<Integer> paused = new TreeSet<>();
    private final Map<Integer, CgroupNetwork.Group> groups = new TreeMap<>();
    private final Map<Integer, FaultMount> disks = new TreeMap<>();
    /** More options for every node's JVM, after the java command. */
    private final List<String> jvmOptions = new java.util.ArrayList<>();

    private NodeProcesses(Path runDir, ClusterFile cluster) throws IOException {
        this.runDir = runDir;
        this.clusterFile = runDir.resolve("cluster.json");
        this.cluster = cluster;
        cluster.write(clusterFile);
    }

    /**
     * Writes {@code cluster.json} for {@code nodes} nodes (one PG each, min(3, nodes) replicas) on
     * free loopback ports, and starts them, each in a cgroup of {@code net} when there is one.
     */
    public static NodeProcesses start(Path runDir, int nodes, long ioTimeoutMs, Optional<CgroupNetwork> net) throws IOException {
        return start(runDir, nodes, ioTimeoutMs, net, false);
    }

    /** {@link #start}, and with {@code faultDisks} each node's data on a {@link FaultMount} of its own. */
    public static NodeProcesses start(Path runDir, int nodes, long ioTimeoutMs, Optional<CgroupNetwork> net, boolean faultDisks) throws IOException {
        return start(runDir, nodes, ioTimeoutMs, net, faultDisks, List.of());
    }

    /**
     * As above, every node JVM (each incarnation, and a replacement) started with {@code jvmOptions}
     * too: a test's switches ({@code -D...}), such as {@link BitRotForTest#PROPERTY} for the bit-rot
     * nemesis's test-only requests ({@link BitRot}) or the fence check's switch.
     */
    public static NodeProcesses start(Path runDir, int nodes, long ioTimeoutMs, Optional<CgroupNetwork> net, boolean faultDisks,
                                      List<String> jvmOptions) throws IOException {
        ClusterFile file = ClusterFile.local("chaos", nodes, io.basalt.cluster.LoopbackPorts.freeBase(nodes), nodes, Math.min(3, nodes)).withIoTimeoutMs(ioTimeoutMs);
        NodeProcesses p = new NodeProcesses(runDir, file);
        p.net = net;
        p.jvmOptions.addAll(jvmOptions);
        try {
            for (ClusterFile.Node n : file.nodes()) {
                if (net.isPresent()) {
                    p.groups.put(n.id(), net.get().group("node-" + n.id()));
                }
                if (faultDisks) {
                    p.disks.put(n.id(), FaultMount.mount(runDir.resolve("disk-" + n.id()), runDir.resolve("node-" + n.id())));
                }
                p.restart(n.id());
            }
            return p;
        } catch (IOException | RuntimeException e) {
            p.close();
            throw e;
        }
    }

    public ClusterFile cluster() {
        return cluster;
    }

    public Set<Integer> ids() {
        return current.keySet();
    }

    /** The port node {@code id} listens on, for every group it serves. */
    public int port(int id) {
        return cluster.nodes().stream().filter(n -> n.id() == id).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("node: " + id + " (expected: one of " + current.keySet() + ")")).port();
    }

    /** The cgroup node {@code id} runs in; only when started with a {@link CgroupNetwork}. */
    public synchronized CgroupNetwork.Group group(int id) {
        CgroupNetwork.Group g = groups.get(id);
        if (g == null) {
            throw new IllegalStateException("node " + id + " has no cgroup (the run has no network faults)");
        }
        return g;
    }

    public synchronized long pid(int id) {
        return child(id).process().pid();
    }

    /** Starts node {@code id} on its data directory (again, after a kill). */
    public synchronized void restart(int id) throws IOException {
        LocalCluster.Child old = current.get(id);
        if (old != null && old.process().isAlive()) {
            throw new IllegalStateException("node " + id + " (pid " + old.process().pid() + ") still runs; kill it before a restart");
        }
        CgroupNetwork.Group group = groups.get(id);
        List<String> options = joining.remove(id) ? List.of("--join") : List.of();
        current.put(id, local.start(clusterFile, id, runDir.resolve("node-" + id), options, command -> {
            List<String> c = new java.util.ArrayList<>(command);
            c.addAll(1, jvmOptions);
            return group == null ? c : group.wrap(c);
        }));
    }

    /** The node now standing for node {@code id} of the first address book: itself, or its replacement's (its replacement's ...). */
    public synchronized int current(int id) {
        int now = id;
        while (replacedBy.containsKey(now)) {
            now = replacedBy.get(now);
        }
        return now;
    }

    /**
     * Node {@code old} killed for good and its data directory wiped, and a new, empty node with the
     * next free id started on a free port with {@code --join}, added to {@code cluster.json}
     * (in its own cgroup, on a fault disk of its own, as the others); returns the new id. The
     * caller moves {@code old}'s replicas to it ({@link io.basalt.cluster.admin.ClusterAdmin#replaceNode})
     * and then calls {@link #forget}.
     */
    public int replace(int old) throws IOException, InterruptedException {
        kill(old);
        int id;
        synchronized (this) {
            FaultMount disk = disks.remove(old);
            if (disk != null) {
                disk.close();
                deleteTree(runDir.resolve("disk-" + old));
            }
            deleteTree(runDir.resolve("node-" + old));
            id = java.util.stream.Stream.concat(cluster.nodes().stream().map(ClusterFile.Node::id), replacedBy.keySet().stream())
                    .mapToInt(Integer::intValue).max().orElse(0) + 1;
            cluster = cluster.withNode(new ClusterFile.Node(id, "127.0.0.1", io.basalt.cluster.LoopbackPorts.freeBase(1) + 1));
            cluster.write(clusterFile);
            if (net.isPresent()) {
                groups.put(id, net.get().group("node-" + id));
            }
            if (!disks.isEmpty() || disk != null) {
                disks.put(id, FaultMount.mount(runDir.resolve("disk-" + id), runDir.resolve("node-" + id)));
            }
            current.remove(old); // never restarted: its data is gone, and a node started empty without --join would found a cluster of its own
            paused.remove(old);
            joining.add(id);
            restart(id);
            replacedBy.put(old, id);
        }
        return id;
    }

    /** Drops replaced node {@code old} from the address book, once no group holds it. */
    public synchronized void forget(int old) throws IOException {
        cluster = cluster.withoutNode(old);
        cluster.write(clusterFile);
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!java.nio.file.Files.exists(dir)) {
            return;
        }
        try (var paths = java.nio.file.Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                java.nio.file.Files.delete(p);
            }
        }
    }

    /** SIGKILL of node {@code id}; returns once the process has exited. */
    public void kill(int id) throws InterruptedException {
        Process p;
        synchronized (this) {
            p = child(id).process();
            paused.remove(id); // a stopped process dies of SIGKILL too
        }
        p.destroyForcibly(); // SIGKILL on Linux
        if (!p.waitFor(EXIT_WAIT_SECONDS, TimeUnit.SECONDS)) {
            throw new IllegalStateException("node " + id + " (pid " + p.pid() + ") did not exit " + EXIT_WAIT_SECONDS + " s after SIGKILL");
        }
    }

    /** SIGSTOP of node {@code id}: the whole JVM frozen, as a host paused by its hypervisor or a long GC. */
    public synchronized void pause(int id) throws IOException, InterruptedException {
        signal("STOP", id);
        paused.add(id);
    }

    /** SIGCONT of node {@code id}. */
    public synchronized void resume(int id) throws IOException, InterruptedException {
        signal("CONT", id);
        paused.remove(id);
    }

    public synchronized boolean hasDisks() {
        return !disks.isEmpty();
    }

    /**
     * The power cut of node {@code id}'s disk, once the node is dead ({@link #kill}): every write
     * it had not synced is dropped; its disk is back in mode normal. Returns what was dropped.
     */
    public synchronized Dropped powerCut(int id) throws IOException {
        if (child(id).process().isAlive()) {
            throw new IllegalStateException("node " + id + " (pid " + child(id).process().pid() + ") still runs; kill it before a power cut");
        }
        return disk(id).powerCut();
    }

    /** Switches node {@code id}'s disk to {@code mode} (fsync failing, full, reads failing, or normal). */
    public synchronized void diskMode(int id, FaultMode mode) {
        disk(id).mode(mode);
    }

    private FaultMount disk(int id) {
        FaultMount m = disks.get(id);
        if (m == null) {
            throw new IllegalStateException("node " + id + " has no fault disk (the run has no disk faults)");
        }
        return m;
    }

    public synchronized boolean alive(int id) {
        return child(id).process().isAlive();
    }

    /** Every node running and thawed: paused ones continued, dead ones restarted. Returns what it did, empty if nothing. */
    public synchronized String heal() throws IOException, InterruptedException {
        StringBuilder did = new StringBuilder();
        for (int id : new TreeSet<>(paused)) {
            resume(id);
            did.append("continued node ").append(id).append("; ");
        }
        for (int id : current.keySet()) {
            if (!child(id).process().isAlive()) {
                restart(id);
                did.append("restarted node ").append(id).append("; ");
            }
        }
        return did.toString();
    }

    private void signal(String name, int id) throws IOException, InterruptedException {
        long pid = child(id).process().pid();
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(pid)).redirectErrorStream(true).start();
        if (!kill.waitFor(EXIT_WAIT_SECONDS, TimeUnit.SECONDS) || kill.exitValue() != 0) {
            kill.destroyForcibly();
            throw new IOException("kill -" + name + " " + pid + " (node " + id + ") failed: " + new String(kill.getInputStream().readAllBytes()).strip());
        }
    }

    private LocalCluster.Child child(int id) {
        LocalCluster.Child c = current.get(id);
        if (c == null) {
            throw new IllegalArgumentException("node: " + id + " (expected: one of " + current.keySet() + ")");
        }
        return c;
    }

    @Override
    public synchronized void close() {
        for (int id : new TreeSet<>(paused)) {
            try {
                resume(id); // a stopped JVM cannot run its shutdown hook on SIGTERM
            } catch (IOException e) {
                child(id).process().destroyForcibly();
            } catch (InterruptedException e) {
                child(id).process().destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        local.close();
        for (var e : disks.entrySet()) {
            try {
                e.getValue().close();
            } catch (IOException ex) {
                System.err.println("chaos: unmounting the disk of node " + e.getKey() + " failed: " + ex.getMessage());
            }
        }
        disks.clear();
    }
}
