package io.basalt.node.cli;

import io.basalt.node.datastore.Datastore;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

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
    @Option(names = "--api-listen", paramLabel = "HOST:PORT|PORT|off", defaultValue = "127.0.0.1:" + io.basalt.node.api.ApiServer.PORT_DEFAULT,
            description = {"Where the management API (REST, OpenAPI, /metrics) listens (default ${DEFAULT-VALUE}); off: no API.",
                    "Requests need a token: basalt token create."})
    String api;

    @Override
    public Integer call() throws Exception {
        HostPort hp = HostPort.parse(portal);
        var listen = io.basalt.node.api.ApiServer.Listen.parse(api);
        TargetsFile.Config config = TargetsFile.load(store.configDir());
        if (config.targets().isEmpty() && listen.isEmpty()) {
            throw new IllegalArgumentException("targets: none in " + store.configDir().resolve(TargetsFile.FILE_NAME)
                    + " (expected: at least one; add with 'basalt target create' and 'basalt target lun add'; or serve only the API: --api-listen)");
        }
        PrintWriter out = spec.commandLine().getOut();
        Datastore s = store.open();
        Exporter exporter = null;
        io.basalt.node.api.ApiServer apiServer = null;
        try {
            // Targets configured later (through the API or basalt target) are served from the next start, as before.
            exporter = config.targets().isEmpty() ? null : Exporter.start(s.serving(), config, hp.host(), hp.port());
            if (listen.isPresent()) {
                if (s instanceof Datastore.Local) {
                    io.basalt.node.metrics.StoreMeters.register(io.basalt.node.metrics.NodeMetrics.process(), () -> s.list().stream()
                            .collect(java.util.stream.Collectors.toMap(Datastore.VdiskView::name, Datastore.VdiskView::sizeBytes)), store.configDir());
                }
                apiServer = io.basalt.node.api.ApiServer.start(new io.basalt.node.api.ApiServer.Backend(s, store.configDir(), java.util.Optional.empty()),
                        io.basalt.node.metrics.NodeMetrics.process(), listen.get());
            }
        } catch (RuntimeException e) {
            if (exporter != null) {
                exporter.close();
            }
            s.close();
            throw e;
        }
        Exporter served = exporter;
        io.basalt.node.api.ApiServer apiServed = apiServer;
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
            if (apiServed != null) {
                apiServed.close();
            }
            if (served != null) {
                served.close();
            }
            s.close();
            stopped.countDown();
        }));
        if (served != null) {
            printUrls(out, config, served.address());
        }
        if (apiServed != null) {
            out.printf("api: %s (OpenAPI document at %s%s)%n", apiServed.url(), apiServed.url(), io.basalt.node.api.ApiServer.OPENAPI_PATH);
        }
        out.println("serving; Ctrl-C to stop");
        out.flush();
        stopped.await();
        return 0;
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
