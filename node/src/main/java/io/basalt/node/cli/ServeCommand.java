package io.basalt.node.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import io.basalt.node.datastore.Datastore;
import io.basalt.node.serve.Exporter;
import io.basalt.node.serve.TargetsFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt serve}: serve the iSCSI targets configured with {@code basalt target} until
 * Ctrl-C, from the embedded store or (with {@code --cluster}) as a gateway to a cluster.
 */
@Command(name = "serve", description = "Serve the iSCSI targets configured with 'basalt target' until Ctrl-C (--cluster: from a cluster).")
public final class ServeCommand implements Callable<Integer> {
    @Mixin DatastoreOptions store;
    @Spec CommandSpec spec;
    @Option(names = "--portal", defaultValue = "127.0.0.1:3260", description = "Address to listen on (default ${DEFAULT-VALUE}).")
    String portal;
    @Option(names = "--mirror-port", paramLabel = "PORT", description = {"Also run mirroring (the embedded store, or --cluster: this gateway is the",
            "cluster's mirroring gateway, one per site): listen for peer sites' mirror links on this port (0: any free one)",
            "and ship this site's mirrored vdisks (basalt mirror enable). Off by default."})
    Integer mirrorPort;
    @Option(names = "--mirror-bind", defaultValue = "0.0.0.0", paramLabel = "HOST",
            description = "Address the mirror link listens on (default ${DEFAULT-VALUE}; TLS, peers prove the shared secret).")
    String mirrorBind;
    @Option(names = "--api-listen", paramLabel = "HOST:PORT|PORT|off", defaultValue = "127.0.0.1:" + io.basalt.node.api.ApiServer.PORT_DEFAULT,
            description = {"Where the management API (REST, OpenAPI, /metrics) listens (default ${DEFAULT-VALUE}); off: no API.",
                    "Requests need a token: basalt token create."})
    String api;
    @Option(names = "--api-tls", description = {"Serve the API over HTTPS alone. Embedded store: with a CA of the store's own, made the first time",
            "in DIR/tls (clients: --api-ca DIR); --cluster: with a certificate of the cluster's CA. See docs/security.md."})
    boolean apiTls;

    @Override
    public Integer call() throws Exception {
        HostPort hp = HostPort.parse(portal);
        var listen = io.basalt.node.api.ApiServer.Listen.parse(api);
        TargetsFile.Config config = TargetsFile.load(store.configDir());
        if (config.targets().isEmpty() && mirrorPort == null && listen.isEmpty()) {
            throw new IllegalArgumentException("targets: none in " + store.configDir().resolve(TargetsFile.FILE_NAME)
                    + " (expected: at least one; add with 'basalt target create' and 'basalt target lun add'; or mirror with --mirror-port;"
                    + " or serve only the API: --api-listen)");
        }
        java.nio.file.Path mirrorDir = mirrorPort == null ? null : store.configDir();
        PrintWriter out = spec.commandLine().getOut();
        Datastore s = store.open();
        Serving serving = new Serving(s);
        try {
            serving.start(config, hp, mirrorDir, listen, out);
        } catch (Exception e) {
            serving.close();
            throw e;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
            serving.close();
            stopped.countDown();
        }));
        out.println("serving; Ctrl-C to stop");
        out.flush();
        stopped.await();
        return 0;
    }

    /**
     * What one serve runs: the targets, the management API, and on the embedded store its control
     * socket and mirroring; closed in reverse.
     */
    private final class Serving implements AutoCloseable {
        private final Datastore store;
        private Exporter exporter;
        private io.basalt.node.api.ApiServer apiServer;
        private io.basalt.node.mirror.MirrorService mirror;
        private io.basalt.node.mirror.MirrorMeters mirrorMeters;
        private ControlServer control;

        Serving(Datastore store) {
            this.store = store;
        }

        void start(TargetsFile.Config config, HostPort hp, java.nio.file.Path mirrorDir,
                   java.util.Optional<io.basalt.node.api.ApiServer.Listen> listen, PrintWriter out) throws java.io.IOException {
            // Targets configured later (through the API or basalt target) are served from the next start.
            if (!config.targets().isEmpty()) {
                exporter = Exporter.start(store.serving(), config, hp.host(), hp.port());
                printUrls(out, config, exporter.address());
            }
            if (listen.isPresent()) {
                if (store instanceof Datastore.Local local) {
                    io.basalt.node.metrics.LockMeters.register(io.basalt.node.metrics.NodeMetrics.process(), local.locks()::events);
                    io.basalt.node.metrics.StoreMeters.register(io.basalt.node.metrics.NodeMetrics.process(), () -> store.list().stream()
                            .collect(java.util.stream.Collectors.toMap(Datastore.VdiskView::name, Datastore.VdiskView::sizeBytes)), ServeCommand.this.store.configDir());
                }
                java.nio.file.Path configDir = ServeCommand.this.store.configDir();
                java.util.Optional<io.basalt.cluster.tls.TlsIdentity> tls = apiTls
                        ? java.util.Optional.of(io.basalt.node.api.ServeApiTls.identity(configDir, !(store instanceof Datastore.Local), listen.get().host()))
                        : java.util.Optional.empty();
                apiServer = io.basalt.node.api.ApiServer.start(new io.basalt.node.api.ApiServer.Backend(store, configDir, java.util.Optional.empty(),
                                () -> java.util.Optional.ofNullable(mirror)),
                        io.basalt.node.metrics.NodeMetrics.process(), listen.get().host(), listen.get().port(),
                        tls.map(io.basalt.cluster.tls.TlsIdentity::sslContext));
                out.printf("api: %s (OpenAPI document at %s%s)%n", apiServer.url(), apiServer.url(), io.basalt.node.api.ApiServer.OPENAPI_PATH);
                tls.ifPresent(t -> out.printf("api: HTTPS with %s; clients trust %s (--api-ca)%n", t.certFile(), t.caCertFile()));
            }
            io.basalt.replication.MirrorStore site = switch (store) {
                case Datastore.Local local -> io.basalt.replication.MirrorStore.of(local.store());
                case Datastore.Cluster cluster -> io.basalt.node.host.ConsistentSnapshots.mirrorSite(cluster);
                default -> null;
            };
            if (mirrorDir != null) {
                // One mirroring gateway per site: a second one would ship the same vdisks' rounds.
                java.util.Optional<Long> other = ControlServer.servingPid(mirrorDir);
                if (other.isPresent()) {
                    throw new IllegalArgumentException("--mirror-port: process " + other.get() + " serves " + mirrorDir
                            + " already (expected: one mirroring gateway per site; stop it first)");
                }
                mirror = io.basalt.node.mirror.MirrorService.start(site, store.configs(),
                        new java.net.InetSocketAddress(mirrorBind, mirrorPort), mirrorDir.resolve("mirror-staging"));
                mirrorMeters = io.basalt.node.mirror.MirrorMeters.register(io.basalt.node.metrics.NodeMetrics.process(), mirror);
                out.printf("site %s: mirror link on %s (%s)%n", mirror.siteName(), mirror.address(), site.describe());
            }
            if (store instanceof Datastore.Local local) {
                control = ControlServer.start(local.store().directory(), new ControlServer.Serving(site, local.configs(), java.util.Optional.ofNullable(mirror)));
            } else if (mirror != null) {
                // A cluster's site, mirror and dr commands (--cluster) reach this gateway's mirror service through the control file beside the cluster file.
                control = ControlServer.start(mirrorDir, new ControlServer.Serving(site, store.configs(), java.util.Optional.of(mirror)));
            }
        }

        @Override
        public void close() {
            try (store) {
                if (control != null) {
                    control.close();
                }
                if (mirrorMeters != null) {
                    mirrorMeters.close();
                }
                if (mirror != null) {
                    mirror.close();
                }
                if (apiServer != null) {
                    apiServer.close();
                }
                if (exporter != null) {
                    exporter.close();
                }
            }
        }
    }

    static void printUrls(PrintWriter out, TargetsFile.Config config, java.net.InetSocketAddress at) {
        String host = at.getAddress().getHostAddress() + ":" + at.getPort();
        for (TargetsFile.Target t : config.targets()) {
            t.luns().forEach((lun, vdisk) -> out.printf("iscsi://%s/%s/%d  (%s)%n", host, t.iqn(), lun, vdisk));
        }
    }

    /** {@code host:port}. */
    record HostPort(String host, int port) {
        static HostPort parse(String text) {
            int colon = text.lastIndexOf(':');
            try {
                int port = Integer.parseInt(text.substring(colon + 1));
                if (colon <= 0 || port < 0 || port > 65535) {
                    throw new NumberFormatException();
                }
                return new HostPort(text.substring(0, colon), port);
            } catch (NumberFormatException | IndexOutOfBoundsException e) {
                throw new IllegalArgumentException("portal: '" + text + "' (expected: HOST:PORT, e.g. 127.0.0.1:3260)");
            }
        }
    }
}
