package io.basalt.node.api;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import io.basalt.cluster.ClusterConfig;
import io.basalt.node.datastore.Datastore;
import io.basalt.node.metrics.NodeMetrics;
import io.basalt.vdisk.store.StoreException;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HandlerType;
import io.javalin.router.ParsedEndpoint;

/**
 * The management API of a node or of {@code basalt serve}: JSON under {@code /api}, the OpenAPI
 * document at {@value #OPENAPI_PATH}, Prometheus metrics at {@value #METRICS_PATH}. Served by
 * Javalin (Jetty) on virtual threads (docs/decisions/management-api-on-javalin.md).
 *
 * <p>Every request but the OpenAPI document needs a bearer token of {@link Tokens}: a read token
 * for GET, an admin token for anything that changes state. Errors are
 * {@code application/problem+json} whose detail names the bad value.
 *
 * <p>The route table is the one list of endpoints: the server registers exactly those, and a test
 * holds the OpenAPI document to the same set. The web console's static files ({@link ConsoleFiles},
 * under {@code /console/}, {@code /} redirecting there) are routes of the same table but not API
 * endpoints: {@link #apiRoutes()} is the table without them.
 */
public final class ApiServer implements AutoCloseable {
    public static final String OPENAPI_PATH = "/api/openapi.json";
    public static final String METRICS_PATH = "/metrics";
    /** The API's port when none is given: {@code basalt serve}'s; a node's is this plus its id. */
    public static final int PORT_DEFAULT = 8470;
    private static final System.Logger log = System.getLogger(ApiServer.class.getName());

    /**
     * What the API works on: the datastore, the directory of targets.json and tokens.json, for
     * a cluster node the cluster's config (empty: the embedded store), and the site's mirror
     * service when this process runs it ({@code basalt serve --mirror-port}).
     */
    public record Backend(Datastore store, Path configDir, Optional<ClusterConfig> cluster,
                          java.util.function.Supplier<Optional<io.basalt.node.mirror.MirrorService>> mirrors) {
        /** A backend whose process runs no mirror service. */
        public Backend(Datastore store, Path configDir, Optional<ClusterConfig> cluster) {
            this(store, configDir, cluster, Optional::empty);
        }
    }

    /** Where the API listens: {@code HOST:PORT}, {@code PORT} (on loopback), or {@code off}; {@code https} when it serves TLS. */
    public record Listen(String host, int port, boolean https) {
        public Listen(String host, int port) {
            this(host, port, false);
        }

        public static Optional<Listen> parse(String text) {
            if (text.equals("off")) {
                return Optional.empty();
            }
            int colon = text.lastIndexOf(':');
            try {
                int port = Integer.parseInt(text.substring(colon + 1));
                if (colon == 0 || port < 0 || port > 65535) {
                    throw new NumberFormatException();
                }
                return Optional.of(new Listen(colon < 0 ? "127.0.0.1" : text.substring(0, colon), port));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--api-listen: '" + text + "' (expected: HOST:PORT, PORT or off, e.g. 127.0.0.1:" + PORT_DEFAULT + ")");
            }
        }

        public String url() {
            return (https ? "https://" : "http://") + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        }
    }

    private final Javalin app;
    private final Jobs jobs;
    private final List<Route> routes;
    private final Set<String> consoleRoutes;
    private final String host;
    private final boolean https;
    private volatile Datastore owned;

    private ApiServer(Javalin app, Jobs jobs, List<Route> routes, Set<String> consoleRoutes, String host, boolean https) {
        this.app = app;
        this.jobs = jobs;
        this.routes = routes;
        this.consoleRoutes = consoleRoutes;
        this.host = host;
        this.https = https;
    }

    /** Starts serving on {@code host:port} (port 0: any free one). A taken address is refused naming it. */
    public static ApiServer start(Backend backend, NodeMetrics metrics, Listen at) {
        return start(backend, metrics, at.host(), at.port(), Optional.empty());
    }

    public static ApiServer start(Backend backend, NodeMetrics metrics, String host, int port) {
        return start(backend, metrics, host, port, Optional.empty());
    }

    /**
     * As above; with {@code tls}, HTTPS alone (the node's certificate of the cluster CA): the
     * port has no plaintext connector, so a plain HTTP request fails at the TLS handshake.
     */
    public static ApiServer start(Backend backend, NodeMetrics metrics, String host, int port, Optional<javax.net.ssl.SSLContext> tls) {
        Jobs jobs = new Jobs();
        Tokens tokens = new Tokens(backend.configDir(), backend.store() instanceof io.basalt.node.datastore.Datastore.Cluster c
                ? Optional.of(c.configs()) : Optional.empty());
        List<Route> routes = new ArrayList<>();
        routes.add(Route.open(HandlerType.GET, OPENAPI_PATH, ctx -> ctx.contentType(Json.CONTENT_TYPE).result(openApiDocument())));
        routes.add(Route.of(HandlerType.GET, METRICS_PATH, ctx -> ctx.contentType(NodeMetrics.CONTENT_TYPE).result(metrics.scrape())));
        routes.addAll(new ClusterResource(backend, jobs).routes());
        routes.addAll(new VdiskResource(backend.store(), jobs).routes());
        routes.addAll(new VmResource(backend.store(), jobs).routes());
        routes.addAll(new MirrorResource(backend.store(), backend.mirrors(), jobs).routes());
        routes.addAll(new BackupResource(backend.store(), jobs).routes());
        routes.addAll(new TokenResource(tokens).routes());
        List<Route> console = new ConsoleFiles().routes();
        routes.addAll(console);
        Javalin app = Javalin.create(config -> {
            config.startup.showJavalinBanner = false;
            config.startup.showOldJavalinVersionWarning = false;
            config.concurrency.useVirtualThreads = true;
            tls.ifPresent(context -> config.jetty.addConnector((server, http) -> HttpsConnector.create(server, http, context, host, port)));
            config.routes.beforeMatched(ctx -> authorize(ctx, tokens));
            for (Route r : routes) {
                config.routes.addHttpHandler(r.method(), r.path(), ctx -> {
                    refuseUnknownQueryParams(ctx, r.queryParams());
                    r.handler().handle(ctx);
                }, r.role());
            }
            config.routes.exception(Exception.class, (e, ctx) -> problem(ctx, e));
            config.routes.error(404, ctx -> {
                if (!isProblem(ctx)) {
                    Json.write(ctx, 404, Problem.of(404, "path: " + ctx.method() + " " + ctx.path()
                            + " (expected: an endpoint of " + OPENAPI_PATH + ")", ctx.path()));
                }
            });
        });
        try {
            app.start(host, port);
        } catch (RuntimeException e) {
            jobs.close();
            app.stop();
            if (e instanceof io.javalin.util.JavalinBindException || e.getCause() instanceof java.net.BindException) {
                throw new IllegalArgumentException("api: " + host + ":" + port + " (expected: a free address; is another basalt running?)", e);
            }
            throw e;
        }
        return new ApiServer(app, jobs, List.copyOf(routes), names(console), host, tls.isPresent());
    }

    public InetSocketAddress address() {
        return new InetSocketAddress(host, app.port());
    }

    /** The base URL clients use, e.g. {@code http://127.0.0.1:8470} ({@code https://} with TLS). */
    public String url() {
        return new Listen(host, app.port(), https).url();
    }

    /** The routes this server declared, as "METHOD PATH". */
    Set<String> declaredRoutes() {
        return names(routes);
    }

    /**
     * The registered routes less the console's: the endpoints openapi.json documents. The console's
     * files are for browsers, not an API a client programs against, so the document leaves them out.
     */
    Set<String> apiRoutes() {
        Set<String> api = new java.util.HashSet<>(registeredRoutes());
        api.removeAll(consoleRoutes);
        return Set.copyOf(api);
    }

    /** The console's routes, as "METHOD PATH". */
    Set<String> consoleRoutes() {
        return consoleRoutes;
    }

    private static Set<String> names(List<Route> routes) {
        return routes.stream().map(r -> r.method().name() + " " + r.path()).collect(java.util.stream.Collectors.toSet());
    }

    /** The routes the HTTP server has registered (what it will answer), as "METHOD PATH". */
    Set<String> registeredRoutes() {
        return app.unsafe.internalRouter.allHttpHandlers().stream().map((ParsedEndpoint p) -> p.endpoint)
                .filter(e -> e.method.isHttpMethod()).map(e -> e.method.name() + " " + e.path).collect(java.util.stream.Collectors.toSet());
    }

    private static void authorize(Context ctx, Tokens tokens) {
        Route.Role needed = ctx.routeRoles().stream().map(Route.Role.class::cast).findFirst().orElse(Route.Role.ADMIN);
        if (needed == Route.Role.NONE) {
            return;
        }
        String header = ctx.header("Authorization");
        if (header == null || !header.startsWith("Bearer ")) {
            ctx.header("WWW-Authenticate", "Bearer");
            throw new ApiException(401, "Authorization: " + (header == null ? "missing" : "not a bearer token")
                    + " (expected: Bearer TOKEN; create one with basalt token create --role read|admin)");
        }
        Route.Role role = tokens.roleOf(header.substring("Bearer ".length()).trim()).orElseThrow(() -> {
            ctx.header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
            return new ApiException(401, "Authorization: unknown token (expected: one of basalt token ls)");
        });
        if (!role.allows(needed)) {
            throw new ApiException(403, "token role: " + role.name().toLowerCase() + " (expected: " + needed.name().toLowerCase()
                    + " for " + ctx.method() + " " + ctx.path() + ")");
        }
    }

    private static void refuseUnknownQueryParams(Context ctx, Set<String> allowed) {
        for (String name : ctx.queryParamMap().keySet()) {
            if (!allowed.contains(name)) {
                throw ApiException.badRequest("query parameter: " + name + " (expected: " + (allowed.isEmpty() ? "none" : "one of " + allowed.stream().sorted().toList())
                        + " for " + ctx.method() + " " + ctx.endpoint().path + ")");
            }
        }
    }

    /** Refusals name the bad value (4xx); anything else is a bug in the server (500, logged with its trace). */
    private static void problem(Context ctx, Exception e) {
        Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
        int status = switch (cause) {
            case ApiException a -> a.status();
            case StoreException s -> 409;
            case io.basalt.lock.LockRefusedException l -> 409;
            case io.basalt.node.host.VmStateException v -> 409;
            case IllegalArgumentException i -> 400;
            case io.basalt.vdisk.BlockDeviceException b -> 503;
            default -> 500;
        };
        if (status == 500) {
            log.log(System.Logger.Level.ERROR, "api: " + ctx.method() + " " + ctx.path() + " failed", cause);
        }
        Json.write(ctx, status, Problem.of(status, String.valueOf(cause.getMessage()), ctx.path()));
    }

    private static boolean isProblem(Context ctx) {
        String type = ctx.res().getContentType();
        return type != null && type.startsWith(Problem.CONTENT_TYPE);
    }

    /** The OpenAPI 3 document, kept as a resource beside this class. */
    static String openApiDocument() {
        try (InputStream in = ApiServer.class.getResourceAsStream("openapi.json")) {
            if (in == null) {
                throw new IllegalStateException("openapi.json is missing from the class path (expected beside " + ApiServer.class.getName() + ")");
            }
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("read openapi.json: " + e.getMessage(), e);
        }
    }

    /** Makes this server close {@code store} after it stops (a store opened for the API alone). */
    public ApiServer closing(Datastore store) {
        this.owned = store;
        return this;
    }

    @Override
    public void close() {
        app.stop();
        jobs.close();
        Datastore store = owned;
        if (store != null) {
            store.close();
        }
    }
}
