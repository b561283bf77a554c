package io.basalt.node.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.admin.ClusterStatus;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.iscsi.IscsiTarget;
import io.basalt.node.cluster.ClusterFile;
import io.basalt.node.cluster.LocalCluster;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.Sizes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code basalt cluster ...}: run and inspect clusters. */
@Command(name = "cluster", description = "Start a local cluster, show its health, change its members.", mixinStandardHelpOptions = true,
        subcommands = {ClusterCommand.Up.class, ClusterCommand.Status.class})
public final class ClusterCommand {

    /** Exit code of {@code cluster status} when some group has no quorum (I/O to it blocks). */
    static final int EXIT_NO_QUORUM = 3;

    @Command(name = "status", description = {"Ask every node for its groups and print, per group, the leader, each replica's lag",
            "and the health (ok, degraded, unavailable), like `ceph -s`. Exit code " + EXIT_NO_QUORUM + " when a group has no quorum."})
    static final class Status implements Callable<Integer> {
        @Spec CommandSpec spec;
        @picocli.CommandLine.Mixin ClusterRef cluster = new ClusterRef();
        @Option(names = "--timeout-ms", defaultValue = "3000", description = "Per-node RPC timeout (default ${DEFAULT-VALUE}).") long timeoutMs;

        @Override
        public Integer call() throws Exception {
            ClusterConfig config = ClusterFile.read(cluster.file()).toConfig();
            ClusterStatus status = ClusterStatus.collect(config, java.time.Duration.ofMillis(timeoutMs));
            PrintWriter out = spec.commandLine().getOut();
            out.print(status.render());
            out.flush();
            return status.anyUnavailable() ? EXIT_NO_QUORUM : 0;
        }
    }

    @Command(name = "up", description = {"Start N storage nodes as local processes on loopback, create a vdisk,",
            "serve it over iSCSI, and stop everything on Ctrl-C."})
    static final class Up implements Callable<Integer> {
        static final String IQN = "iqn.2026-11.io.basalt:cluster";

        @Spec CommandSpec spec;
        @Option(names = "--nodes", defaultValue = "3") int nodes;
        @Option(names = "--replicas", description = "Replicas per placement group (default: min(3, nodes)).") Integer replicas;
        @Option(names = "--pgs", defaultValue = "8", description = "Placement groups (default ${DEFAULT-VALUE}).") int pgs;
        @Option(names = "--base-port", defaultValue = "7100", description = "Node i listens on base-port + i (default ${DEFAULT-VALUE}).") int basePort;
        @Option(names = "--data", defaultValue = "./data/cluster", description = "Cluster directory (default ${DEFAULT-VALUE}).") Path data;
        @Option(names = "--vdisk", defaultValue = "disk0") String vdisk;
        @Option(names = "--size", defaultValue = "1G", converter = SizeConverter.class) long size;
        @Option(names = "--portal", defaultValue = "127.0.0.1:3260") String portal;
        @Option(names = "--serve-seconds", defaultValue = "-1", description = "Stop after this long (default: on Ctrl-C).") long serveSeconds;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            int r = replicas == null ? Math.min(3, nodes) : replicas;
            Path file = data.resolve("cluster.json");
            ClusterFile cluster = Files.exists(file) ? ClusterFile.read(file) : ClusterFile.local("basalt", nodes, basePort, pgs, r);
            if (cluster.nodes().size() != nodes) {
                throw new IllegalArgumentException("--nodes: " + nodes + " (expected: " + cluster.nodes().size() + ", as in the existing " + file
                        + "; remove that directory to start a new cluster)");
            }
            cluster.write(file);
            ClusterConfig config = cluster.toConfig();
            ServeCommand.HostPort hp = ServeCommand.HostPort.parse(portal);
            try (LocalCluster local = new LocalCluster()) {
                CountDownLatch stop = new CountDownLatch(1);
                Thread hook = Thread.ofPlatform().unstarted(() -> {
                    stop.countDown();
                    local.close();
                });
                Runtime.getRuntime().addShutdownHook(hook);
                for (ClusterFile.Node n : cluster.nodes()) {
                    LocalCluster.Child c = local.start(file, n.id(), data.resolve("node-" + n.id()));
                    out.printf("node %d pid %d on %s:%d (log %s)%n", n.id(), c.process().pid(), n.host(), n.port(), c.log());
                }
                out.flush();
                try (ClusterClient client = ClusterClient.open(config)) {
                    awaitQuorum(client, local, out);
                    if (client.vdisk(vdisk).isEmpty()) {
                        client.createVdisk(vdisk, size);
                        out.printf("created vdisk %s: %s thin, %d replicas, %d placement groups%n", vdisk, Sizes.format(size), r, pgs);
                    }
                    try (BlockDevice device = client.open(vdisk);
                         IscsiTarget target = IscsiTarget.builder().portal(hp.host(), hp.port()).addTarget(IQN, Map.of(0, device)).start()) {
                        var at = target.localAddress();
                        String url = "iscsi://" + at.getAddress().getHostAddress() + ":" + at.getPort() + "/" + IQN + "/0";
                        out.printf("serving %s: %s%n", vdisk, url);
                        out.printf("try: qemu-img info %s%n", url);
                        out.println(serveSeconds < 0 ? "Ctrl-C stops the gateway and every node." : "stopping in " + serveSeconds + " s.");
                        out.flush();
                        if (serveSeconds < 0) {
                            stop.await();
                        } else {
                            stop.await(serveSeconds, java.util.concurrent.TimeUnit.SECONDS);
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

        /** Waits until the meta group answers, failing fast (with the log's tail) if a node dies. */
        private static void awaitQuorum(ClusterClient client, LocalCluster local, PrintWriter out) throws Exception {
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(90);
            RuntimeException last = null;
            while (System.nanoTime() < deadline) {
                var dead = local.dead();
                if (dead.isPresent()) {
                    List<String> lines = Files.readAllLines(dead.get().log());
                    throw new IllegalStateException("node " + dead.get().id() + " exited with " + dead.get().process().exitValue() + "; last log lines:\n"
                            + String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size())));
                }
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
