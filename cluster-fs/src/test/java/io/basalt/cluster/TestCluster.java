package io.basalt.cluster;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;

import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.server.RaftServer;

import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.server.ClusterNode;
import io.basalt.cluster.raft.RaftSetup;
import io.basalt.vdisk.store.VdiskStore;

/**
 * An in-process cluster for tests: n {@link ClusterNode}s on loopback ports, each in its own
 * directory under a test's temp dir. {@link #close()} stops the client and every node, also
 * after a failure, and reports every failure to stop.
 */
public final class TestCluster implements AutoCloseable {
    /** Small engine caches and pools: many stores share one test JVM. */
    public static final VdiskStore.Options SMALL_STORE = new VdiskStore.Options(8L << 20, 2);

    /** The address book: grows when a test adds a node. */
    private volatile ClusterConfig config;
    private final Path dir;
    /** Running nodes by id. */
    private final java.util.Map<Integer, ClusterNode> nodes = new java.util.concurrent.ConcurrentSkipListMap<>();
    private ClusterClient client;
    /** Each node's {@link ClusterNode.Options#diskReserveBytes}. */
    private final long diskReserveBytes;

    private TestCluster(ClusterConfig config, Path dir, long diskReserveBytes) {
        this.config = config;
        this.dir = dir;
        this.diskReserveBytes = diskReserveBytes;
    }

    public static ClusterConfig config(String name, int nodeCount, int pgCount, int replicas, ClusterConfig.Tuning tuning) throws IOException {
        List<ClusterConfig.NodeAddress> addrs = new ArrayList<>();
        for (int id = 1; id <= nodeCount; id++) {
            addrs.add(new ClusterConfig.NodeAddress(id, "127.0.0.1", LoopbackPorts.free()));
        }
        return new ClusterConfig(name, addrs, pgCount, replicas, Math.min(3, nodeCount), ClusterConfig.STRIPE_GRAINS_DEFAULT, tuning);
    }

    /** Test timing: quick elections, short I/O timeout. */
    public static ClusterConfig.Tuning fastTuning() {
        return new ClusterConfig.Tuning(Duration.ofMillis(400), Duration.ofSeconds(2), Duration.ofSeconds(20), 100_000, 8L << 20, ClusterConfig.Tuning.PG_INFLIGHT_ENTRIES_DEFAULT);
    }

    public static TestCluster start(ClusterConfig config, Path dir) throws IOException {
        return start(config, dir, ClusterNode.Options.DISK_RESERVE_DEFAULT);
    }

    /** As {@link #start(ClusterConfig, Path)}, every node keeping {@code diskReserveBytes} free. */
    public static TestCluster start(ClusterConfig config, Path dir, long diskReserveBytes) throws IOException {
        TestCluster c = new TestCluster(config, dir, diskReserveBytes);
        try {
            for (int id = 1; id <= config.nodes().size(); id++) {
                c.startNode(id);
            }
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
        return c;
    }


    public ClusterConfig config() {
        return config;
    }

    public synchronized ClusterClient client() {
        if (client == null) {
            client = ClusterClient.open(config);
        }
        return client;
    }

    public ClusterNode node(int id) {
        ClusterNode n = nodes.get(id);
        if (n == null) {
            throw new IllegalStateException("node " + id + " is stopped");
        }
        return n;
    }

    public void startNode(int id) throws IOException {
        startNode(id, false);
    }

    private void startNode(int id, boolean join) throws IOException {
        if (nodes.containsKey(id)) {
            throw new IllegalStateException("node " + id + " is running");
        }
        ClusterNode.Options o = new ClusterNode.Options(id, dir.resolve("node" + id), SMALL_STORE).withDiskReserveBytes(diskReserveBytes);
        nodes.put(id, ClusterNode.start(config, join ? o.joining() : o));
    }

    /**
     * Adds node {@code id} on a free loopback port to the address book and starts it empty
     * (joining): it holds no group until {@link io.basalt.cluster.admin.ClusterAdmin} gives it some.
     */
    public void startJoiningNode(int id) throws IOException {
        config = config.withNode(new ClusterConfig.NodeAddress(id, "127.0.0.1", LoopbackPorts.free()));
        startNode(id, true);
    }

    public void stopNode(int id) throws IOException {
        ClusterNode n = node(id);
        nodes.remove(id);
        n.close();
    }

    public boolean isRunning(int id) {
        return nodes.containsKey(id);
    }

    /** The node that leads {@code group} as the running nodes see it, once they agree. */
    public Optional<Integer> leaderOf(RaftGroupId group) throws IOException {
        for (ClusterNode n : nodes.values()) {
            for (RaftGroupId id : n.server().getGroupIds()) {
                if (id.equals(group) && n.server().getDivision(id).getInfo().isLeader()) {
                    return Optional.of(n.id());
                }
            }
        }
        return Optional.empty();
    }

    public int waitForLeader(RaftGroupId group, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Optional<Integer> l = leaderOf(group);
            if (l.isPresent()) {
                return l.get();
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no leader of " + group + " within " + timeout);
    }

    /** Waits until the meta group and every placement group have a leader. */
    public void waitForAllLeaders(Duration timeout) throws IOException, InterruptedException {
        waitForLeader(RaftSetup.metaGroupId(config), timeout);
        for (int pg = 0; pg < config.pgCount(); pg++) {
            waitForLeader(pgGroup(pg), timeout);
        }
    }

    public RaftServer.Division division(int nodeId, RaftGroupId group) throws IOException {
        return node(nodeId).server().getDivision(group);
    }

    public RaftGroupId pgGroup(int pg) {
        return RaftSetup.pgGroupId(config, pg);
    }

    /**
     * The last {@code max} lines of the tests' Ratis log (see the module's surefire settings)
     * that contain every one of {@code needles}: for failure messages, to show what Ratis did.
     */
    public static String ratisLog(int max, String... needles) {
        String file = System.getProperty("org.slf4j.simpleLogger.logFile");
        if (file == null || file.equals("System.err") || !java.nio.file.Files.exists(java.nio.file.Path.of(file))) {
            return "(no Ratis log file)";
        }
        java.util.ArrayDeque<String> last = new java.util.ArrayDeque<>();
        try (var lines = java.nio.file.Files.lines(java.nio.file.Path.of(file), java.nio.charset.StandardCharsets.ISO_8859_1)) {
            lines.filter(l -> java.util.Arrays.stream(needles).allMatch(l::contains)).forEach(l -> {
                last.addLast(l.length() > 400 ? l.substring(0, 400) + "..." : l);
                if (last.size() > max) {
                    last.removeFirst();
                }
            });
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            return "(Ratis log unreadable: " + e + ")";
        }
        return String.join("\n", last);
    }

    public static void waitUntil(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what);
            }
            Thread.sleep(50);
        }
    }

    @Override
    public void close() throws IOException {
        List<Exception> failures = new ArrayList<>();
        synchronized (this) {
            if (client != null) {
                try {
                    client.close();
                } catch (RuntimeException e) {
                    failures.add(e);
                }
                client = null;
            }
        }
        for (Integer id : List.copyOf(nodes.keySet())) {
            try {
                nodes.remove(id).close();
            } catch (IOException | RuntimeException e) {
                failures.add(e);
            }
        }
        if (!failures.isEmpty()) {
            IOException e = new IOException("stopping the test cluster failed " + failures.size() + " times");
            failures.forEach(e::addSuppressed);
            throw e;
        }
    }
}
