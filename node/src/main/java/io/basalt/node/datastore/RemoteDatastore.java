package io.basalt.node.datastore;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.LongConsumer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.Extent;
import io.basalt.vdisk.store.SnapshotInfo;
import io.basalt.vdisk.store.Usage;

/**
 * A datastore reached through a node's (or {@code basalt serve}'s) management API ({@code --api
 * URL}): the namespace operations of {@code basalt vdisk} and {@code basalt snap} as REST calls,
 * flatten as a job followed to its end. Block I/O, diffs, locks and config records are not in the
 * API: they are refused naming the option to use instead. A refusal of the server is an
 * {@link IllegalArgumentException} carrying its problem's detail.
 */
public final class RemoteDatastore implements Datastore {
    /** Each request's timeout; a job is followed by many short requests, each bounded by this. */
    static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(60);
    static final Duration JOB_POLL = Duration.ofMillis(200);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI base;
    private final String token;
    private final HttpClient http;

    public RemoteDatastore(URI base, String token) {
        this(base, token, Optional.empty());
    }

    /** As above; an {@code https} URL is checked against {@code tls} (a context trusting the cluster CA), else against the JDK's CAs. */
    public RemoteDatastore(URI base, String token, Optional<javax.net.ssl.SSLContext> tls) {
        if (base.getScheme() == null || !(base.getScheme().equals("http") || base.getScheme().equals("https")) || base.getHost() == null) {
            throw new IllegalArgumentException("--api: " + base + " (expected: a URL such as http://127.0.0.1:8470)");
        }
        this.base = base;
        this.token = token;
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10));
        tls.ifPresent(b::sslContext);
        this.http = b.build();
    }

    @Override
    public VdiskView create(String name, long sizeBytes, int blockSizeBytes, int grainSizeBytes) {
        return view(call("POST", "/api/vdisks", body("name", name, "sizeBytes", sizeBytes, "blockSizeBytes", blockSizeBytes,
                "grainSizeBytes", grainSizeBytes)));
    }

    @Override
    public List<VdiskView> list() {
        List<VdiskView> all = new ArrayList<>();
        call("GET", "/api/vdisks", null).forEach(v -> all.add(view(v)));
        return all;
    }

    @Override
    public VdiskView info(String name) {
        return view(vdisk(name));
    }

    @Override
    public Usage usage(String name) {
        JsonNode v = vdisk(name);
        return new Usage(v.get("sizeBytes").asLong(), v.get("usedBytes").asLong(), v.get("storedBytes").asLong(), v.get("versionCount").asLong());
    }

    @Override
    public List<SnapshotInfo> snapshots(String name) {
        long id = vdisk(name).get("id").asLong();
        List<SnapshotInfo> all = new ArrayList<>();
        call("GET", path(name) + "/snapshots", null).forEach(s -> all.add(snapshot(id, s)));
        return all;
    }

    @Override
    public void resize(String name, long sizeBytes) {
        call("PATCH", path(name), body("sizeBytes", sizeBytes));
    }

    @Override
    public void remove(String name) {
        call("DELETE", path(name), null);
    }

    @Override
    public VdiskView clone(String parent, String snap, String child) {
        return view(call("POST", path(parent) + "/snapshots/" + encode(snap) + "/clones", body("name", child)));
    }

    /** Starts the flatten job and follows it, reporting its progress, until it is done or failed. */
    @Override
    public void flatten(String name, LongConsumer progress) {
        JsonNode job = call("POST", path(name) + "/flatten", null);
        String id = job.get("id").asText();
        while (job.get("state").asText().equals("running")) {
            progress.accept(job.get("done").asLong());
            try {
                Thread.sleep(JOB_POLL.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("flatten " + name + ": interrupted while following job " + id + " (it goes on on the server)", e);
            }
            job = call("GET", "/api/jobs/" + encode(id), null);
        }
        if (job.get("state").asText().equals("failed")) {
            throw new IllegalArgumentException("flatten " + name + " (job " + id + "): " + job.get("error").asText());
        }
        progress.accept(job.get("done").asLong());
    }

    @Override
    public SnapshotInfo createSnapshot(String vdisk, String snap) {
        long id = vdisk(vdisk).get("id").asLong();
        return snapshot(id, call("POST", path(vdisk) + "/snapshots", body("name", snap)));
    }

    @Override
    public void removeSnapshot(String vdisk, String snap) {
        call("DELETE", path(vdisk) + "/snapshots/" + encode(snap), null);
    }

    @Override
    public void rollback(String vdisk, String snap) {
        call("POST", path(vdisk) + "/snapshots/" + encode(snap) + "/rollback", null);
    }

    @Override
    public List<Extent> diff(String name, String fromSnap, String toSnap) {
        throw notInApi("diff");
    }

    @Override
    public BlockDevice open(String spec) {
        throw notInApi("block I/O (" + spec + ")");
    }

    @Override
    public io.basalt.lock.LockService locks() {
        throw notInApi("the lock table");
    }

    @Override
    public io.basalt.node.locks.LockedStore serving() {
        throw notInApi("serving iSCSI");
    }

    @Override
    public io.basalt.node.config.Configs configs() {
        throw notInApi("config records (VMs, hosts)");
    }

    @Override
    public void close() {
        http.close();
    }

    private static IllegalArgumentException notInApi(String what) {
        return new IllegalArgumentException("--api: " + what + " is not offered through the management API (expected: --data DIR or --cluster FILE)");
    }

    private JsonNode vdisk(String name) {
        return call("GET", path(name), null);
    }

    private static String path(String vdisk) {
        return "/api/vdisks/" + encode(vdisk);
    }

    private static String encode(String segment) {
        return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static VdiskView view(JsonNode v) {
        return new VdiskView(v.get("id").asLong(), v.get("name").asText(), v.get("sizeBytes").asLong(), v.get("blockSizeBytes").asInt(),
                v.get("grainSizeBytes").asInt(), OptionalLong.empty(), text(v, "parent"), v.get("chainDepth").asInt(), v.get("createdMs").asLong(),
                text(v, "rollingBackTo"));
    }

    private static SnapshotInfo snapshot(long vdiskId, JsonNode s) {
        return new SnapshotInfo(vdiskId, s.get("name").asText(), -1, s.get("sizeBytes").asLong(), s.get("createdMs").asLong());
    }

    private static Optional<String> text(JsonNode v, String field) {
        JsonNode f = v.get(field);
        return f == null || f.isNull() ? Optional.empty() : Optional.of(f.asText());
    }

    private static String body(Object... fieldsAndValues) {
        var node = JSON.createObjectNode();
        for (int i = 0; i < fieldsAndValues.length; i += 2) {
            node.set((String) fieldsAndValues[i], JSON.valueToTree(fieldsAndValues[i + 1]));
        }
        return node.toString();
    }

    /** One request; a problem answer becomes an IllegalArgumentException with its detail. */
    private JsonNode call(String method, String path, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(REQUEST_TIMEOUT)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        HttpResponse<String> r;
        try {
            r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        } catch (javax.net.ssl.SSLHandshakeException e) {
            throw new UncheckedIOException("--api " + base + ": TLS handshake failed: " + e.getMessage()
                    + " (expected: a server certificate of the CA given with --api-ca, e.g. the cluster directory or the store holding tls/ca.crt)", e);
        } catch (IOException e) {
            throw new UncheckedIOException("--api " + base + ": " + method + " " + path + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("--api " + base + ": " + method + " " + path + ": interrupted", e);
        }
        try {
            JsonNode answer = r.body().isEmpty() ? JSON.nullNode() : JSON.readTree(r.body());
            if (r.statusCode() >= 400) {
                String detail = answer.has("detail") ? answer.get("detail").asText() : r.body();
                throw new IllegalArgumentException(detail + (r.statusCode() == 401 ? " [set BASALT_API_TOKEN or --api-token]" : ""));
            }
            return answer;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("--api " + base + ": " + method + " " + path + ": answer " + r.statusCode() + " is not JSON: " + r.body(), e);
        }
    }
}
