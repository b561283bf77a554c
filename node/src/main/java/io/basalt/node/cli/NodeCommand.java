package io.basalt.node.cli;

import io.basalt.node.datastore.Datastore;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import io.basalt.cluster.server.ClusterNode;
import io.basalt.node.cluster.ClusterFile;
import io.basalt.node.cluster.NodeGateway;
import io.basalt.vdisk.store.VdiskStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code basalt node}: run one storage node of a cluster until SIGTERM or Ctrl-C. */
@Command(name = "node", description = "Run a storage node (one Raft server hosting the meta group and its placement groups).")
public final class NodeCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Option(names = "--config", required = true, paramLabel = "FILE", description = "The cluster file (cluster.json).")
    Path config;
    @Option(names = "--id", required = true, description = "This node's id in the cluster file.")
    int id;
    @Option(names = "--data", paramLabel = "DIR", description = "This node's data directory (default: next to the cluster file, node-ID).")
    Path data;
    @Option(names = "--join", description = {"A node new to a running cluster: start empty and wait to be given replicas",
            "(basalt cluster add-node / replace-node). Only matters on the first start."})
    boolean join;
    @Option(names = "--serve", paramLabel = "VDISK", description = {"Also serve this cluster vdisk over iSCSI from this node's process",
            "(waits for it to exist). Reads of groups this node replicates and writes to groups it leads skip the network."})
    String serve;
    @Option(names = "--portal", defaultValue = "127.0.0.1:3260", description = "Where --serve listens (default ${DEFAULT-VALUE}).")
    String portal;

    @Option(names = "--api-listen", paramLabel = "HOST:PORT|PORT|off", description = {"Where the management API (REST, OpenAPI, /metrics) listens",
            "(default: 127.0.0.1, port " + io.basalt.node.api.ApiServer.PORT_DEFAULT + " + the node's id; a taken default port only warns); off: no API."})
    String api;

    @Option(names = "--disk-reserve", paramLabel = "SIZE", converter = SizeConverter.class,
            description = {"Free space to keep on the data directory's filesystem: below it writes are refused (SCSI: space allocation failed)",
                    "while unmaps and removals go on. 0 turns the check off (default: 5%% of the filesystem, at least 1G)."})
    Long diskReserve;

    /** How long --serve waits for the cluster to have a meta leader and the vdisk. */
    static final Duration SERVE_WAIT = Duration.ofMinutes(5);

    @Override
    public Integer call() throws Exception {
        ClusterFile file = ClusterFile.read(config);
        Path dir = data != null ? data : config.toAbsolutePath().getParent().resolve("node-" + id);
        ClusterNode.Options options = new ClusterNode.Options(id, dir, VdiskStore.Options.defaults())
                .withDiskReserveBytes(diskReserve == null ? ClusterNode.Options.DISK_RESERVE_DEFAULT : diskReserve);
        io.basalt.cluster.ClusterConfig clusterConfig = file.nodeConfig(config, id);
        if (!file.hasTls()) {
            spec.commandLine().getOut().printf("node %d: cluster file %s has no TLS (made before it): Raft and the API are plaintext (docs/security.md)%n",
                    id, config);
        }
        ClusterNode node = ClusterNode.start(clusterConfig, join ? options.joining() : options);
        ServeCommand.HostPort hp = serve == null ? null : ServeCommand.HostPort.parse(portal);
        PrintWriter out = spec.commandLine().getOut();
        AtomicReference<NodeGateway> gateway = new AtomicReference<>();
        AtomicReference<io.basalt.node.api.ApiServer> apiServer = new AtomicReference<>();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
            try {
                io.basalt.node.api.ApiServer a = apiServer.getAndSet(null);
                if (a != null) {
                    a.close();
                }
                NodeGateway g = gateway.getAndSet(null);
                if (g != null) {
                    g.close();
                }
                node.close();
            } catch (Exception e) {
                System.err.println("node " + id + ": close failed: " + e);
            }
            stopped.countDown();
        }));
        var addr = clusterConfig.node(id);
        spec.commandLine().getOut().printf("node %d pid %d serving cluster %s on %s, data %s (disk reserve %d MiB)%n", id,
                ProcessHandle.current().pid(), file.name(), addr.address(), dir, node.diskReserve().reserveBytes() >> 20);
        spec.commandLine().getOut().flush();
        startApi(node, out).ifPresent(apiServer::set);
        if (serve != null) {
            // In the background: the gateway needs a meta leader, which may need this node's vote.
            Thread.ofPlatform().name("gateway-start").daemon().start(() -> {
                try {
                    gateway.set(NodeGateway.start(node, serve, hp.host(), hp.port(), SERVE_WAIT, out));
                } catch (Exception e) {
                    out.println("node " + id + ": serving " + serve + " failed: " + e.getMessage());
                    out.flush();
                }
            });
        }
        stopped.await();
        return 0;
    }

    /**
     * The management API on this node, working on the cluster through a client opened with this
     * node (local reads skip the network). A default port that is taken only warns: the node's
     * storage matters more than its management port; an --api-listen given explicitly must bind.
     */
    private java.util.Optional<io.basalt.node.api.ApiServer> startApi(ClusterNode node, PrintWriter out) {
        var listen = api == null ? java.util.Optional.of(new io.basalt.node.api.ApiServer.Listen("127.0.0.1", io.basalt.node.api.ApiServer.PORT_DEFAULT + id))
                : io.basalt.node.api.ApiServer.Listen.parse(api);
        if (listen.isEmpty()) {
            return java.util.Optional.empty();
        }
        io.basalt.node.metrics.RaftMeters.register(io.basalt.node.metrics.NodeMetrics.process(), node);
        Datastore store = new Datastore.Cluster(io.basalt.cluster.client.ClusterClient.open(node.config(), node));
        Path configDir = config.toAbsolutePath().getParent();
        try {
            // With the cluster's TLS the API is HTTPS, on this node's certificate.
            var server = io.basalt.node.api.ApiServer.start(new io.basalt.node.api.ApiServer.Backend(store, configDir, java.util.Optional.of(node.config())),
                    io.basalt.node.metrics.NodeMetrics.process(), listen.get().host(), listen.get().port(),
                    node.config().tls().map(io.basalt.cluster.tls.TlsIdentity::sslContext));
            out.printf("node %d api: %s%n", id, server.url());
            out.flush();
            return java.util.Optional.of(server.closing(store));
        } catch (IllegalArgumentException e) {
            store.close();
            if (api != null) {
                throw e;
            }
            out.printf("node %d: no api: %s%n", id, e.getMessage());
            out.flush();
            return java.util.Optional.empty();
        }
    }
}
