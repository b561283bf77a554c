package io.basalt.node.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import io.basalt.node.config.Configs;
import io.basalt.node.mirror.MirrorService;
import io.basalt.vdisk.store.VdiskStore;

/**
 * How {@code basalt site}, {@code mirror} and {@code dr} reach an embedded store that a running
 * {@code basalt serve} holds (one process owns an embedded store): the serving process listens on
 * loopback and leaves its address and a random token in {@value #FILE} in the store directory
 * (readable by its owner only); a command finding that file sends its own arguments there, and
 * the serving process runs them against its open store and mirror service, answering their
 * output and exit code. Only those three commands are run this way.
 */
final class ControlServer implements AutoCloseable {
    static final String FILE = "serve-control.json";
    private static final Set<String> FORWARDED = Set.of("site", "mirror", "dr");
    private static final ObjectMapper JSON = new ObjectMapper();
    /** A planned failover ships a final round; a failback a resync: minutes for a large vdisk. */
    private static final Duration FORWARD_TIMEOUT = Duration.ofMinutes(60);

    /** What a command run inside the serving process works on. */
    record Serving(io.basalt.replication.MirrorStore store, Configs configs, Optional<MirrorService> mirror) {}

    /** Set on the control thread while it runs a forwarded command. */
    private static final ThreadLocal<Serving> CURRENT = new ThreadLocal<>();

    private final HttpServer server;
    private final ExecutorService threads;
    private final Path file;

    private ControlServer(HttpServer server, ExecutorService threads, Path file) {
        this.server = server;
        this.threads = threads;
        this.file = file;
    }

    /** The serving process's store and mirror service, when the command runs inside it. */
    static Optional<Serving> current() {
        return Optional.ofNullable(CURRENT.get());
    }

    static ControlServer start(Path dataDir, Serving serving) throws IOException {
        byte[] random = new byte[32];
        new SecureRandom().nextBytes(random);
        String token = HexFormat.of().formatHex(random);
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 8);
        ExecutorService threads = Executors.newCachedThreadPool(r -> Thread.ofPlatform().daemon().name("basalt-control").unstarted(r));
        server.setExecutor(threads);
        server.createContext("/v1/exec", exchange -> exec(exchange, token, serving));
        server.start();
        Path file = dataDir.resolve(FILE);
        Path tmp = dataDir.resolve(FILE + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, JSON.writeValueAsString(Map.of("address", "127.0.0.1:" + server.getAddress().getPort(), "token", token,
                "pid", ProcessHandle.current().pid())));
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return new ControlServer(server, threads, file);
    }

    private static void exec(HttpExchange exchange, String token, Serving serving) throws IOException {
        try (exchange) {
            if (!exchange.getRequestMethod().equals("POST") || !("Bearer " + token).equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
                exchange.sendResponseHeaders(403, -1);
                return;
            }
            List<String> args = JSON.readValue(exchange.getRequestBody(), new TypeReference<List<String>>() {});
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            int exit;
            if (args.isEmpty() || !FORWARDED.contains(args.getFirst())) {
                err.write("basalt: " + args + " (expected: a site, mirror or dr command; others do not run inside basalt serve)\n");
                exit = 2;
            } else {
                CURRENT.set(serving);
                try {
                    var cl = BasaltCommand.commandLine();
                    cl.setOut(new PrintWriter(out, true));
                    cl.setErr(new PrintWriter(err, true));
                    exit = cl.execute(args.toArray(String[]::new));
                } finally {
                    CURRENT.remove();
                }
            }
            byte[] body = JSON.writeValueAsBytes(Map.of("exit", exit, "out", out.toString(), "err", err.toString()));
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
        }
    }

    /** The live process whose control file is in {@code dir}; empty when none (or its process is gone). */
    static Optional<Long> servingPid(Path dir) {
        Path file = dir.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try {
            long pid = JSON.readTree(Files.readString(file)).get("pid").asLong();
            return ProcessHandle.of(pid).filter(ProcessHandle::isAlive).map(ProcessHandle::pid);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("read " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Runs {@code args} in the process serving the store in {@code dataDir}, if one does
     * (its control file is there and its process alive); prints its output here and returns its
     * exit code. Empty when no process serves the store.
     */
    static Optional<Integer> forward(Path dataDir, List<String> args, PrintWriter out, PrintWriter err) {
        Path file = dataDir.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try {
            JsonNode control = JSON.readTree(Files.readString(file));
            if (ProcessHandle.of(control.get("pid").asLong()).filter(ProcessHandle::isAlive).isEmpty()) {
                return Optional.empty(); // left behind by a serving process that was killed
            }
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://" + control.get("address").asText() + "/v1/exec"))
                    .timeout(FORWARD_TIMEOUT).header("Authorization", "Bearer " + control.get("token").asText())
                    .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(args))).build();
            try (HttpClient client = HttpClient.newHttpClient()) {
                HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
                if (response.statusCode() != 200) {
                    throw new IOException("the serving process of " + dataDir + " answered HTTP " + response.statusCode());
                }
                JsonNode reply = JSON.readTree(response.body());
                out.print(reply.get("out").asText());
                out.flush();
                err.print(reply.get("err").asText());
                err.flush();
                return Optional.of(reply.get("exit").asInt());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for the serving process of " + dataDir, e);
        } catch (IOException e) {
            throw new IllegalArgumentException("the serving process of " + dataDir + " (" + file + "): " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            // Harmless: a later command finds the process gone and ignores the file.
        }
    }
}
