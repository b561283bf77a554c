package io.basalt.node.host;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.core.type.TypeReference;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;

import io.basalt.lock.LockResult.Grant;

/**
 * A host agent's control API: what the CLI and the other agents ask of it, JSON over HTTP (the
 * JDK's built-in server: a handful of internal calls need no framework); on a TLS cluster HTTPS
 * with mutual authentication by the cluster's CA ({@link AgentTls}). Listens on loopback, or
 * where {@code basalt host run --listen} says (so agents on other machines can migrate to it).
 * Every request carries the datastore's agent token ({@link Inventory#agentToken}) as
 * {@code Authorization: Bearer TOKEN}; one without it is answered 401 saying so.
 *
 * <ul>
 *   <li>{@code POST /v1/vms/NAME/migrate?to=HOST}: migrates a VM running here; answers the
 *       {@link Migrations.Result}.</li>
 *   <li>{@code POST /v1/vms/NAME/incoming}: prepares this host to receive a migration; answers {@code {"port": N}}.</li>
 *   <li>{@code POST /v1/vms/NAME/switchover} with the handed-over grants: resumes the guest here.</li>
 *   <li>{@code POST /v1/vms/NAME/abort-incoming}: gives a prepared migration up.</li>
 *   <li>{@code POST /v1/vms/NAME/snapshot?name=SNAP}: snapshots every disk of a VM running here at
 *       one instant (the guest paused meanwhile; {@code &disks=A,B}: only those of its disks); answers what it did.</li>
 *   <li>{@code POST /v1/vms/NAME/set?vcpus=N&memory=MIB}: hot-plugs vCPUs and memory into a VM running here.</li>
 *   <li>{@code POST /v1/vms/NAME/attach?vdisk=VDISK}: hot-plugs a vdisk into a VM running here; answers what it did.</li>
 *   <li>{@code POST /v1/vms/NAME/detach?vdisk=VDISK&timeoutMs=N}: hot-unplugs one, waiting at most N ms for the guest to let go.</li>
 *   <li>{@code POST /v1/vms/NAME/kill}: stops a VM running here at once (SIGKILL) and records it stopped.</li>
 *   <li>{@code GET /v1/vms/NAME/console?from=N}: the VM's serial console log on this host from byte N (raw bytes).</li>
 *   <li>{@code POST /v1/reconcile}: looks at the records now instead of at the next poll.</li>
 * </ul>
 * Errors answer 400 (a bad request: the message names the value), 409 (a state that forbids it)
 * or 500, with {@code {"error": message}}.
 */
final class AgentApi implements AutoCloseable {
    private static final Pattern VM_PATH = Pattern.compile("/v1/vms/([^/]+)/(migrate|incoming|switchover|abort-incoming|kill|console|snapshot|set|attach|detach)");
    /** Where the API listens unless told: loopback, any free port. */
    static final InetSocketAddress LISTEN_DEFAULT = new InetSocketAddress("127.0.0.1", 0);

    private final HttpServer server;
    private final ExecutorService threads;
    private final String host;

    private AgentApi(HttpServer server, ExecutorService threads, String host) {
        this.server = server;
        this.threads = threads;
        this.host = host;
    }

    /**
     * Serves {@code agent}'s API on {@code listen}, asking each caller for {@code token}. The
     * address is one other machines reach this host at: it is what the agent registers, and
     * where incoming migrations listen, so it is no wildcard ({@link HostAgent.Options} refuses one).
     */
    static AgentApi start(HostAgent agent, InetSocketAddress listen, String token, Optional<AgentTls> agentTls) throws IOException {
        if (token.isEmpty()) {
            throw new IllegalArgumentException("agent token: empty (expected: the datastore's agent token)");
        }
        Optional<javax.net.ssl.SSLContext> tls = agentTls.map(AgentTls::context);
        HttpServer server;
        if (tls.isPresent()) {
            HttpsServer https = HttpsServer.create(listen, 16);
            https.setHttpsConfigurator(new HttpsConfigurator(tls.get()) {
                @Override
                public void configure(HttpsParameters params) {
                    javax.net.ssl.SSLParameters p = getSSLContext().getDefaultSSLParameters();
                    p.setNeedClientAuth(true);      // only holders of a certificate of the cluster's CA get to present the token
                    params.setSSLParameters(p);
                }
            });
            server = https;
        } else {
            server = HttpServer.create(listen, 16);
        }
        ExecutorService threads = Executors.newCachedThreadPool(r -> Thread.ofPlatform().daemon().name("basalt-agent-api").unstarted(r));
        server.setExecutor(threads);
        byte[] expected = token.getBytes(StandardCharsets.US_ASCII);
        server.createContext("/v1/", exchange -> {
            if (authorized(exchange, expected)) {
                handle(agent, exchange);
            }
        });
        server.start();
        return new AgentApi(server, threads, listen.getAddress().getHostAddress());
    }

    /** HOST:PORT, or {@code https://HOST:PORT} on a TLS cluster: what the agent registers and callers use. */
    String address() {
        return (server instanceof HttpsServer ? AgentTls.SCHEME : "") + (host.contains(":") ? "[" + host + "]" : host) + ":" + server.getAddress().getPort();
    }

    /** The host part of this API's address: where incoming migrations listen. */
    String listenHost() {
        return host;
    }

    /**
     * True if the request carries the agent token; else answers 401 naming what was wrong.
     * The comparison takes the same time whatever the bytes (MessageDigest.isEqual).
     */
    private static boolean authorized(HttpExchange exchange, byte[] expected) throws IOException {
        String header = exchange.getRequestHeaders().getFirst("Authorization");
        String why;
        if (header == null) {
            why = "Authorization: missing (expected: Bearer AGENT-TOKEN, the datastore's agent token; basalt's agents and CLI send it)";
        } else if (!header.startsWith("Bearer ")) {
            why = "Authorization: not a bearer token (expected: Bearer AGENT-TOKEN)";
        } else if (!java.security.MessageDigest.isEqual(header.substring("Bearer ".length()).trim().getBytes(StandardCharsets.US_ASCII), expected)) {
            why = "Authorization: wrong agent token (expected: the token of this datastore's agents)";
        } else {
            return true;
        }
        try (exchange) {
            exchange.getResponseHeaders().set("WWW-Authenticate", "Bearer");
            reply(exchange, 401, Map.of("error", why));
        }
        return false;
    }

    /** The host part of an agent's API address: where its migrations listen too. */
    static String hostOf(String api) {
        String bare = api.startsWith(AgentTls.SCHEME) ? api.substring(AgentTls.SCHEME.length()) : api;
        String host = bare.substring(0, bare.lastIndexOf(':'));
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }

    private static void handle(HostAgent agent, HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            boolean console = path.endsWith("/console");
            String expected = console ? "GET" : "POST";
            if (!exchange.getRequestMethod().equals(expected)) {
                reply(exchange, 405, Map.of("error", "method " + exchange.getRequestMethod() + " on " + path + " (expected: " + expected + ")"));
                return;
            }
            try {
                if (path.equals("/v1/reconcile")) {
                    agent.reconcile();
                    reply(exchange, 200, Map.of());
                    return;
                }
                Matcher m = VM_PATH.matcher(path);
                if (!m.matches()) {
                    reply(exchange, 404, Map.of("error", "path " + path + " (expected: /v1/reconcile or /v1/vms/NAME/ACTION)"));
                    return;
                }
                String vm = m.group(1);
                if (console) {
                    replyRaw(exchange, agent.consoleFrom(vm, Long.parseLong(query(exchange.getRequestURI(), "from"))));
                    return;
                }
                Object answer = switch (m.group(2)) {
                    case "migrate" -> agent.migrations().migrateOut(vm, query(exchange.getRequestURI(), "to"));
                    case "incoming" -> Map.of("port", agent.migrations().prepareIncoming(vm, agent.apiListenHost()));
                    case "switchover" -> {
                        agent.migrations().switchover(vm, Inventory.JSON.readValue(body(exchange), new TypeReference<List<Grant>>() {}));
                        yield Map.of();
                    }
                    case "snapshot" -> agent.snapshot(vm, query(exchange.getRequestURI(), "name"),
                            optionalQuery(exchange.getRequestURI(), "disks").map(d -> List.of(d.split(","))));
                    case "set" -> Hotplug.grow(agent, vm, Integer.parseInt(query(exchange.getRequestURI(), "vcpus")),
                            Long.parseLong(query(exchange.getRequestURI(), "memory")));
                    case "attach" -> DiskAttach.attach(agent, vm, query(exchange.getRequestURI(), "vdisk"));
                    case "detach" -> DiskAttach.detach(agent, vm, query(exchange.getRequestURI(), "vdisk"),
                            java.time.Duration.ofMillis(Long.parseLong(query(exchange.getRequestURI(), "timeoutMs"))));
                    case "kill" -> {
                        agent.kill(vm);
                        yield Map.of();
                    }
                    default -> {
                        agent.migrations().abortIncoming(vm);
                        yield Map.of();
                    }
                };
                reply(exchange, 200, answer);
            } catch (IllegalArgumentException e) {
                reply(exchange, 400, Map.of("error", e.getMessage()));
            } catch (IllegalStateException e) {
                reply(exchange, 409, Map.of("error", e.getMessage()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                reply(exchange, 500, Map.of("error", "interrupted"));
            } catch (IOException | RuntimeException e) {
                reply(exchange, 500, Map.of("error", String.valueOf(e.getMessage())));
            }
        }
    }

    private static String query(URI uri, String key) {
        return optionalQuery(uri, key).orElseThrow(() -> new IllegalArgumentException("query parameter " + key + ": missing"));
    }

    private static java.util.Optional<String> optionalQuery(URI uri, String key) {
        String q = uri.getRawQuery();
        if (q != null) {
            for (String pair : q.split("&")) {
                int eq = pair.indexOf('=');
                if (eq > 0 && pair.substring(0, eq).equals(key)) {
                    return java.util.Optional.of(java.net.URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
                }
            }
        }
        return java.util.Optional.empty();
    }

    private static byte[] body(HttpExchange exchange) throws IOException {
        try (InputStream in = exchange.getRequestBody()) {
            return in.readNBytes(1 << 20);
        }
    }

    private static void reply(HttpExchange exchange, int status, Object body) throws IOException {
        byte[] bytes = Inventory.JSON.writeValueAsBytes(body);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
    }

    private static void replyRaw(HttpExchange exchange, byte[] bytes) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", "application/octet-stream");
        exchange.sendResponseHeaders(200, bytes.length == 0 ? -1 : bytes.length);
        exchange.getResponseBody().write(bytes);
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
    }
}
