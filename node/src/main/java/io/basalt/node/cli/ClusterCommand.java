package io.basalt.node.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.admin.ClusterAdmin;
import io.basalt.cluster.admin.ClusterStatus;
import io.basalt.cluster.probe.NodeProbe;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.iscsi.IscsiTarget;
import io.basalt.node.cluster.ClusterCa;
import io.basalt.node.cluster.ClusterFile;
import io.basalt.node.cluster.LocalCluster;
import io.basalt.node.cluster.NodeGateway;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.Sizes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code basalt cluster ...}: run and inspect clusters. */
@Command(name = "cluster", description = "Start a local cluster, show its health, change its members.", mixinStandardHelpOptions = true,
        subcommands = {ClusterCommand.Up.class, ClusterCommand.Status.class, ClusterCommand.AddNode.class, ClusterCommand.RemoveNode.class,
                ClusterCommand.ReplaceNode.class, ClusterTlsCommand.class})
public final class ClusterCommand {

    /** Exit code of {@code cluster status} when some group has no quorum (I/O to it blocks). */
    static final int EXIT_NO_QUORUM = 3;

    @Command(name = "status", description = {"Ask every node for its groups and print, per group, the leader, each replica's lag",
            "and the health (ok, degraded, unavailable), like `ceph -s`. Exit code " + EXIT_NO_QUORUM + " when a group has no quorum."})
    static final class Status implements Callable<Integer> {
        @Spec CommandSpec spec;
        @picocli.CommandLine.Mixin ClusterRef cluster = new ClusterRef();
        @Option(names = "--timeout-ms", defaultValue = "3000", description = "Per-node RPC timeout (default ${DEFAULT-VALUE}).") long timeoutMs;
        @picocli.CommandLine.Mixin OutputFormat format;

        @Override
        public Integer call() throws Exception {
            ClusterConfig config = ClusterFile.read(cluster.file()).clientConfig(cluster.file());
            java.time.Duration timeout = java.time.Duration.ofMillis(timeoutMs);
            var views = io.basalt.cluster.probe.NodeProbe.probeAll(config, timeout); // once, for the groups' table and the scrub's
            ClusterStatus status = ClusterStatus.collect(config, views);
            if (status.groups().stream().anyMatch(g -> g.name().equals("meta") && g.health() != ClusterStatus.Health.UNAVAILABLE)) {
                status = withSpaces(status, config, spec.commandLine().getErr());
            }
            PrintWriter out = spec.commandLine().getOut();
            if (format.json()) {
                out.println(OutputFormat.toJson(io.basalt.node.api.ApiViews.ClusterJson.of(config, status)));
            } else {
                out.print(status.render());
                out.print(io.basalt.cluster.admin.ClusterScrub.render(io.basalt.cluster.admin.ClusterScrub.byNode(
                        io.basalt.cluster.admin.ClusterScrub.ask(config, views, false, -1, timeout))));
            }
            out.flush();
            return status.anyUnavailable() ? EXIT_NO_QUORUM : 0;
        }
    }

    /**
     * The nodes' disk space reports, read from the meta group within a few seconds; without them
     * (the meta group did not answer) the status as it was, and a line on stderr saying why.
     */
    private static ClusterStatus withSpaces(ClusterStatus status, ClusterConfig config, PrintWriter err) {
        ClusterConfig quick = config.withTuning(config.tuning().withTimeouts(java.time.Duration.ofSeconds(2), java.time.Duration.ofSeconds(3)));
        try (io.basalt.cluster.client.ClusterClient client = io.basalt.cluster.client.ClusterClient.open(quick)) {
            return status.withSpaces(client.nodeSpaces());
        } catch (RuntimeException e) {
            err.println("cluster status: disk space unknown, the meta group did not answer: " + e.getMessage());
            err.flush();
            return status;
        }
    }

    /** How long add-node and replace-node wait for the new node to answer. */
    static final int NEW_NODE_WAIT_SECONDS_DEFAULT = 60;

    @Command(name = "add-node", description = {"Add a running, empty node (started with `basalt node --join`) to the cluster file",
            "and move placement-group replicas to it until it holds its share. I/O continues."})
    static final class AddNode implements Callable<Integer> {
        @Spec CommandSpec spec;
        @picocli.CommandLine.Mixin ClusterRef cluster = new ClusterRef();
        @Option(names = "--id", required = true, description = "The new node's id.") int id;
        @Option(names = "--address", paramLabel = "HOST:PORT", description = "The new node's address (required unless the cluster file has it).") String address;
        @Option(names = "--wait-seconds", defaultValue = "" + NEW_NODE_WAIT_SECONDS_DEFAULT) int waitSeconds;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            ClusterFile file = withNewNode(cluster.file(), id, address, out);
            ClusterConfig config = file.clientConfig(cluster.file());
            awaitNode(config, id, waitSeconds, cluster.file(), out);
            var moves = new ClusterAdmin(config, line -> println(out, line)).addNode(id);
            println(out, "node " + id + " added: " + moves.size() + " replicas moved to it");
            return 0;
        }
    }

    @Command(name = "remove-node", description = {"Move every replica off a node (keeping each group's replica count), then drop it",
            "from the cluster file. The node can be stopped afterwards. I/O continues."})
    static final class RemoveNode implements Callable<Integer> {
        @Spec CommandSpec spec;
        @picocli.CommandLine.Mixin ClusterRef cluster = new ClusterRef();
        @Option(names = "--id", required = true, description = "The node to remove.") int id;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            ClusterFile file = ClusterFile.read(cluster.file());
            var moves = new ClusterAdmin(file.clientConfig(cluster.file()), line -> println(out, line)).removeNode(id);
            file.withoutNode(id).write(cluster.file());
            println(out, "node " + id + " removed: " + moves.size() + " replicas moved off it; it holds nothing and can be stopped");
            return 0;
        }
    }

    @Command(name = "replace-node", description = {"Put a running, empty node (started with `basalt node --join`) in place of a dead",
            "(or live) node in every group it held, meta included; then drop the old node from the cluster file. I/O continues.",
            "Wipe the old node's data directory before ever starting it again."})
    static final class ReplaceNode implements Callable<Integer> {
        @Spec CommandSpec spec;
        @picocli.CommandLine.Mixin ClusterRef cluster = new ClusterRef();
        @Option(names = "--old", required = true, description = "The node to replace.") int old;
        @Option(names = "--new", required = true, description = "The replacement node's id.") int replacement;
        @Option(names = "--address", paramLabel = "HOST:PORT", description = "The replacement's address (required unless the cluster file has it).") String address;
        @Option(names = "--wait-seconds", defaultValue = "" + NEW_NODE_WAIT_SECONDS_DEFAULT) int waitSeconds;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            ClusterFile file = withNewNode(cluster.file(), replacement, address, out);
            ClusterConfig config = file.clientConfig(cluster.file());
            awaitNode(config, replacement, waitSeconds, cluster.file(), out);
            var moves = new ClusterAdmin(config, line -> println(out, line)).replaceNode(old, replacement);
            file.withoutNode(old).write(cluster.file());
            println(out, "node " + old + " replaced by node " + replacement + " in " + moves.size() + " groups");
            return 0;
        }
    }

    private static void println(PrintWriter out, String line) {
        out.println(line);
        out.flush();
    }

    /** The cluster file with node {@code id} in it (written back if it was added). */
    private static ClusterFile withNewNode(Path path, int id, String address, PrintWriter out) throws Exception {
        ClusterFile file = ClusterFile.read(path);
        boolean known = file.nodes().stream().anyMatch(n -> n.id() == id);
        if (address == null) {
            if (!known) {
                throw new IllegalArgumentException("--address: missing (expected: HOST:PORT, node " + id + " is not in " + path + ")");
            }
            return file;
        }
        ServeCommand.HostPort hp = ServeCommand.HostPort.parse(address);
        ClusterFile grown = file.withNode(new ClusterFile.Node(id, hp.host(), hp.port()));
        grown.toConfig();
        if (grown.hasTls()) {
            // The new node's certificate, for its host; copy it and ca.crt to that machine (docs/security.md).
            ClusterCa.issue(ClusterCa.dirOf(path), ClusterCa.nodeName(id), hp.host());
            println(out, "certificate " + ClusterCa.nodeName(id) + " for " + hp.host() + " in " + ClusterCa.dirOf(path));
        }
        grown.write(path);
        println(out, "cluster file " + path + ": node " + id + " at " + address);
        return grown;
    }

    /** Waits until node {@code id} answers, saying how to start it meanwhile. */
    private static void awaitNode(ClusterConfig config, int id, int waitSeconds, Path file, PrintWriter out) throws Exception {
        String address = config.node(id).address();
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(waitSeconds);
        boolean said = false;
        while (true) {
            var v = NodeProbe.probe(config, id, address, java.time.Duration.ofSeconds(2));
            if (v.up()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalArgumentException("node " + id + " at " + address + " did not answer within " + waitSeconds + " s: " + v.error());
            }
            if (!said) {
                println(out, "waiting for node " + id + " at " + address + " (start it with: basalt node --config " + file + " --id " + id + " --join)");
                said = true;
            }
            Thread.sleep(500);
        }
    }

    @Command(name = "up", description = {"Start N storage nodes as local processes on loopback, create a vdisk,",
            "serve it over iSCSI, and stop everything on Ctrl-C."})
    static final class Up implements Callable<Integer> {
        static final String IQN = NodeGateway.IQN;
        /** How long {@code up} waits for node 1's gateway to serve once the vdisk exists. */
        static final java.time.Duration GATEWAY_WAIT = java.time.Duration.ofSeconds(120);

        enum Gateway { node, separate }

        @Spec CommandSpec spec;
        @Option(names = "--nodes", defaultValue = "3") int nodes;
        @Option(names = "--replicas", description = "Replicas per placement group (default: min(3, nodes)).") Integer replicas;
        @Option(names = "--pgs", description = {"Placement groups (default: one per node, so each node leads one;",
                "measured faster on one machine than 8: docs/decisions/gateway-inside-the-node.md)."}) Integer pgs;
        @Option(names = "--base-port", defaultValue = "7100", description = "Node i listens on base-port + i (default ${DEFAULT-VALUE}).") int basePort;
        @Option(names = "--data", defaultValue = "./data/cluster", description = "Cluster directory (default ${DEFAULT-VALUE}).") Path data;
        @Option(names = "--vdisk", defaultValue = "disk0") String vdisk;
        @Option(names = "--size", defaultValue = "1G", converter = SizeConverter.class) long size;
        @Option(names = "--portal", defaultValue = "127.0.0.1:3260") String portal;
        @Option(names = "--hosts", defaultValue = "0", paramLabel = "N",
                description = "Also start N host agents (host-1..host-N, basalt host run) on this machine (default: none).") int hosts;
        @Option(names = "--serve-seconds", defaultValue = "-1", description = "Stop after this long (default: on Ctrl-C).") long serveSeconds;
        @Option(names = "--gateway", defaultValue = "node", description = {"Where the iSCSI target runs: node = in node 1's process",
                "(reads of its replicas and writes it leads skip the network), separate = in this process (default ${DEFAULT-VALUE})."})
        Gateway gateway;
        @Option(names = "--disk-reserve", paramLabel = "SIZE", converter = SizeConverter.class,
                description = "Each node's free-space reserve (basalt node --disk-reserve; default: 5%% of the filesystem, at least 1G).")
        Long diskReserve;
        @Option(names = "--io-timeout-ms", paramLabel = "MS", description = {"How long the gateway holds an I/O a group cannot answer",
                "(no quorum) before answering BUSY; written to cluster.json as ioTimeoutMs (default 30000)."})
        Long ioTimeoutMs;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            int r = replicas == null ? Math.min(3, nodes) : replicas;
            Path file = data.resolve("cluster.json");
            int pgCount = pgs == null ? nodes : pgs;
            boolean existing = Files.exists(file);
            ClusterFile cluster = existing ? ClusterFile.read(file) : ClusterFile.local("basalt", nodes, basePort, pgCount, r).withTls();
            if (ioTimeoutMs != null) {
                cluster = cluster.withIoTimeoutMs(ioTimeoutMs); // also for an existing cluster: its nodes read it as they start
            }
            if (hosts < 0) {
                throw new IllegalArgumentException("--hosts " + hosts + " (expected: 0 or more host agents)");
            }
            if (cluster.nodes().size() != nodes) {
                throw new IllegalArgumentException("--nodes: " + nodes + " (expected: " + cluster.nodes().size() + ", as in the existing " + file
                        + "; remove that directory to start a new cluster)");
            }
            cluster.toConfig(); // refuses a bad --io-timeout-ms, naming it, before the file is written
            if (!existing) {
                ClusterCa.create(ClusterCa.dirOf(file), cluster.name(), cluster.nodes());
                out.printf("cluster CA and certificates: %s (keys mode 0600)%n", ClusterCa.dirOf(file));
            } else if (!cluster.hasTls()) {
                out.printf("cluster %s was made before TLS: its Raft port and management API stay plaintext (docs/security.md)%n", file);
            }
            cluster.write(file);
            ClusterConfig config = cluster.clientConfig(file);
            ServeCommand.HostPort hp = ServeCommand.HostPort.parse(portal);
            try (LocalCluster local = new LocalCluster()) {
                CountDownLatch stop = new CountDownLatch(1);
                Thread hook = Thread.ofPlatform().unstarted(() -> {
                    stop.countDown();
                    local.close();
                });
                Runtime.getRuntime().addShutdownHook(hook);
                for (ClusterFile.Node n : cluster.nodes()) {
                    List<String> options = new java.util.ArrayList<>(gateway == Gateway.node && n.id() == cluster.nodes().get(0).id()
                            ? List.of("--serve", vdisk, "--portal", portal) : List.of());
                    if (diskReserve != null) {
                        options.addAll(List.of("--disk-reserve", Long.toString(diskReserve)));
                    }
                    LocalCluster.Child c = local.start(file, n.id(), data.resolve("node-" + n.id()), options);
                    out.printf("node %d pid %d on %s:%d (log %s)%n", n.id(), c.process().pid(), n.host(), n.port(), c.log());
                }
                out.flush();
                try (ClusterClient client = ClusterClient.open(config)) {
                    awaitQuorum(client, local, out);
                    if (client.vdisk(vdisk).isEmpty()) {
                        client.createVdisk(vdisk, size);
                        out.printf("created vdisk %s: %s thin, %d replicas, %d placement groups%n", vdisk, Sizes.format(size), r, config.pgCount());
                    }
                    startHosts(local, file, out);
                    if (gateway == Gateway.node) {
                        LocalCluster.Child first = local.children().get(0);
                        String url = awaitGateway(first, local);
                        out.printf("gateway: in node %d's process (pid %d)%n", first.id(), first.process().pid());
                        announce(out, vdisk, url);
                        await(stop);
                    } else {
                        try (BlockDevice device = client.open(vdisk);
                             IscsiTarget target = IscsiTarget.builder().portal(hp.host(), hp.port()).addTarget(IQN, Map.of(0, device)).start()) {
                            var at = target.localAddress();
                            out.printf("gateway: in this process (pid %d)%n", ProcessHandle.current().pid());
                            announce(out, vdisk, "iscsi://" + at.getAddress().getHostAddress() + ":" + at.getPort() + "/" + IQN + "/0");
                            await(stop);
                        }
                    }
                } finally {
                    if (stop.getCount() > 0) {
                        Runtime.getRuntime().removeShutdownHook(hook);
                    }
                }
            }
            out.println("stopped all nodes");
            return 0;
        }

        /** {@code --hosts N}: host agents host-1..host-N, each its own process, started once the cluster answers. */
        private void startHosts(LocalCluster local, Path file, PrintWriter out) throws Exception {
            for (int i = 1; i <= hosts; i++) {
                String name = "host-" + i;
                LocalCluster.Child h = local.startHost(file, name, data.resolve(name));
                long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
                while (h.logLines().stream().noneMatch(l -> l.equals("host " + name + " running; Ctrl-C to stop"))) {
                    if (!h.process().isAlive() || System.nanoTime() > deadline) {
                        List<String> lines = h.logLines();
                        throw new IllegalStateException("host agent " + name + (h.process().isAlive() ? " did not start within 60 s" : " exited with "
                                + h.process().exitValue()) + "; last log lines:\n" + String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size())));
                    }
                    Thread.sleep(200);
                }
                out.printf("host %s pid %d (log %s)%n", name, h.process().pid(), h.log());
            }
            out.flush();
        }

        private void announce(PrintWriter out, String what, String url) {
            out.printf("serving %s: %s%n", what, url);
            out.printf("try: qemu-img info %s%n", url);
            out.println(serveSeconds < 0 ? "Ctrl-C stops the gateway and every node." : "stopping in " + serveSeconds + " s.");
            out.flush();
        }

        private void await(CountDownLatch stop) throws InterruptedException {
            if (serveSeconds < 0) {
                stop.await();
            } else {
                stop.await(serveSeconds, java.util.concurrent.TimeUnit.SECONDS);
            }
        }

        /** The URL node {@code gw} prints once it serves (NodeGateway), failing fast if a node dies or it reports a failure. */
        private static String awaitGateway(LocalCluster.Child gw, LocalCluster local) throws Exception {
            long deadline = System.nanoTime() + GATEWAY_WAIT.toNanos();
            while (System.nanoTime() < deadline) {
                failIfDead(local);
                for (String line : gw.logLines()) {
                    if (line.startsWith("serving ") && line.contains("iscsi://")) {
                        return line.substring(line.indexOf("iscsi://")).trim();
                    }
                    if (line.contains(": serving ") && line.contains(" failed: ")) {
                        throw new IllegalStateException("node " + gw.id() + "'s gateway: " + line);
                    }
                }
                Thread.sleep(200);
            }
            throw new IllegalStateException("node " + gw.id() + " did not serve the vdisk within " + GATEWAY_WAIT.toSeconds() + " s; see " + gw.log());
        }

        private static void failIfDead(LocalCluster local) throws java.io.IOException {
            var dead = local.dead();
            if (dead.isPresent()) {
                List<String> lines = dead.get().logLines();
                throw new IllegalStateException("node " + dead.get().id() + " exited with " + dead.get().process().exitValue() + "; last log lines:\n"
                        + String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size())));
            }
        }

        /** Waits until the meta group answers, failing fast (with the log's tail) if a node dies. */
        private static void awaitQuorum(ClusterClient client, LocalCluster local, PrintWriter out) throws Exception {
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(90);
            RuntimeException last = null;
            while (System.nanoTime() < deadline) {
                failIfDead(local);
                try {
                    client.vdisks();
                    out.println("cluster is up: the meta group has a leader");
                    return;
                } catch (RuntimeException e) {
                    last = e;
                    Thread.sleep(500);
                }
            }
            throw new IllegalStateException("cluster did not come up within 90 s: " + (last == null ? "" : last.getMessage()), last);
        }
    }
}
