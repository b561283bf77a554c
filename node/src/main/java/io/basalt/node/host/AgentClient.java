package io.basalt.node.host;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;

import io.basalt.lock.LockResult.Grant;

/** Calls a host agent's control API ({@link AgentApi}); an error answer throws with the agent's message. */
public final class AgentClient {
    /** A migration may take minutes; other calls answer in seconds. */
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration MIGRATE_TIMEOUT = Migrations.MIGRATION_TIMEOUT.plusMinutes(1);
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final String api;
    private final String token;
    private final java.util.Optional<AgentTls> tls;

    /** A client of the agent at {@code api} ({@code HOST:PORT}) presenting {@code token}, the datastore's agent token. */
    public AgentClient(String api, String token) {
        this(api, token, java.util.Optional.empty());
    }

    /** As above; an agent at an {@code https://} address is reached with {@code tls} (a TLS cluster's agents). */
    public AgentClient(String api, String token, java.util.Optional<AgentTls> tls) {
        this.api = api;
        this.token = token;
        this.tls = tls;
    }

    /** Asks the agent to migrate {@code vm} to host {@code to}; returns the line it printed. */
    public String migrate(String vm, String to) throws IOException, InterruptedException {
        JsonNode r = post("/v1/vms/" + vm + "/migrate?to=" + URLEncoder.encode(to, StandardCharsets.UTF_8), "", MIGRATE_TIMEOUT);
        return Inventory.JSON.treeToValue(r, Migrations.Result.class).line();
    }

    /** Asks the agent for a snapshot {@code snap} of every disk of {@code vm} at one instant; returns the line to print. */
    public String snapshot(String vm, String snap) throws IOException, InterruptedException {
        JsonNode r = post("/v1/vms/" + vm + "/snapshot?name=" + URLEncoder.encode(snap, StandardCharsets.UTF_8), "", CALL_TIMEOUT);
        return Inventory.JSON.treeToValue(r, HostAgent.VmSnapshot.class).line();
    }

    /**
     * Asks the agent for a snapshot {@code snap} of {@code disks} (disks of {@code vm}) at one
     * instant, taken under its lock with the guest paused; returns what it did.
     */
    public HostAgent.VmSnapshot snapshot(String vm, String snap, List<String> disks) throws IOException, InterruptedException {
        JsonNode r = post("/v1/vms/" + vm + "/snapshot?name=" + URLEncoder.encode(snap, StandardCharsets.UTF_8)
                + "&disks=" + URLEncoder.encode(String.join(",", disks), StandardCharsets.UTF_8), "", CALL_TIMEOUT);
        return Inventory.JSON.treeToValue(r, HostAgent.VmSnapshot.class);
    }

    /** Asks the agent to hot-plug {@code vm} up to {@code vcpus} and {@code memoryMiB}; returns the line to print. */
    public String set(String vm, int vcpus, long memoryMiB) throws IOException, InterruptedException {
        JsonNode r = post("/v1/vms/" + vm + "/set?vcpus=" + vcpus + "&memory=" + memoryMiB, "", CALL_TIMEOUT);
        return Inventory.JSON.treeToValue(r, Hotplug.Change.class).line();
    }

    /** Asks the agent to hot-plug {@code vdisk} into {@code vm}; returns the line to print. */
    public String attach(String vm, String vdisk) throws IOException, InterruptedException {
        JsonNode r = post("/v1/vms/" + vm + "/attach?vdisk=" + URLEncoder.encode(vdisk, StandardCharsets.UTF_8), "", CALL_TIMEOUT);
        return Inventory.JSON.treeToValue(r, DiskAttach.Change.class).line();
    }

    /** Asks the agent to hot-unplug {@code vdisk} from {@code vm}, the guest given {@code timeout} to let go; returns the line to print. */
    public String detach(String vm, String vdisk, Duration timeout) throws IOException, InterruptedException {
        JsonNode r = post("/v1/vms/" + vm + "/detach?vdisk=" + URLEncoder.encode(vdisk, StandardCharsets.UTF_8) + "&timeoutMs=" + timeout.toMillis(),
                "", CALL_TIMEOUT.plus(timeout));
        return Inventory.JSON.treeToValue(r, DiskAttach.Change.class).line();
    }

    /** Asks the agent to kill {@code vm} at once (and record it stopped). */
    public void kill(String vm) throws IOException, InterruptedException {
        post("/v1/vms/" + vm + "/kill", "", CALL_TIMEOUT);
    }

    /** {@code vm}'s serial console log on the agent's host from byte {@code from}: empty at its end. */
    public byte[] console(String vm, long from) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(AgentTls.base(api) + "/v1/vms/" + vm + "/console?from=" + from))
                .header("Authorization", "Bearer " + token).timeout(CALL_TIMEOUT).GET().build();
        HttpResponse<byte[]> response = send(request);
        if (response.statusCode() != 200) {
            throw new IOException("host agent at " + api + ": " + Inventory.JSON.readTree(response.body()).path("error").asText("HTTP " + response.statusCode()));
        }
        return response.body();
    }

    /** Asks the agent to look at the records now. */
    public void reconcile() throws IOException, InterruptedException {
        post("/v1/reconcile", "", CALL_TIMEOUT);
    }

    int incoming(String vm) throws IOException, InterruptedException {
        return post("/v1/vms/" + vm + "/incoming", "", CALL_TIMEOUT).path("port").asInt();
    }

    void switchover(String vm, List<Grant> grants) throws IOException, InterruptedException {
        post("/v1/vms/" + vm + "/switchover", Inventory.JSON.writeValueAsString(grants), CALL_TIMEOUT);
    }

    void abortIncoming(String vm) throws IOException, InterruptedException {
        post("/v1/vms/" + vm + "/abort-incoming", "", CALL_TIMEOUT);
    }

    private JsonNode post(String path, String body, Duration timeout) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(AgentTls.base(api) + path)).timeout(timeout)
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
        HttpResponse<byte[]> response = send(request);
        JsonNode json = response.body().length == 0 ? Inventory.JSON.createObjectNode() : Inventory.JSON.readTree(response.body());
        if (response.statusCode() != 200) {
            String message = json.path("error").asText("HTTP " + response.statusCode());
            if (response.statusCode() == 400) {
                throw new IllegalArgumentException(message);
            }
            throw new IOException("host agent at " + api + ": " + message);
        }
        return json;
    }

    private HttpResponse<byte[]> send(HttpRequest request) throws IOException, InterruptedException {
        try {
            return AgentTls.clientFor(api, tls, HTTP).send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (java.net.ConnectException e) {
            throw new IOException("host agent at " + api + " does not answer (is `basalt host run` running there?)", e);
        }
    }
}
