package io.basalt.node.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.node.cli.CliResult;
import io.basalt.node.datastore.Datastore;
import io.basalt.node.metrics.NodeMetrics;

/** {@code basalt token create|ls|revoke} (and {@code rm}, the same) against a running API on the same store directory. */
class TokenCliTest {
    @TempDir Path dir;

    @Test
    void aCreatedTokenOpensTheApiUntilItIsRemoved() throws Exception {
        Path data = dir.resolve("data");
        CliResult created = CliResult.run("token", "create", "--role", "read", "--name", "monitor", "--data", data.toString());
        assertEquals(0, created.exit(), created.err());
        String token = created.out().strip();
        assertTrue(token.startsWith("basalt_"), token);
        assertTrue(CliResult.run("token", "ls", "--data", data.toString()).out().contains("monitor"));
        try (Datastore store = Datastore.local(data, 0);
             ApiServer server = ApiServer.start(new ApiServer.Backend(store, data, Optional.empty()), NodeMetrics.process(), "127.0.0.1", 0)) {
            HttpClient http = HttpClient.newHttpClient();
            HttpRequest get = HttpRequest.newBuilder(URI.create(server.url() + "/api/vdisks")).header("Authorization", "Bearer " + token).build();
            assertEquals(200, http.send(get, HttpResponse.BodyHandlers.ofString()).statusCode());
            CliResult revoked = CliResult.run("token", "revoke", "monitor", "--data", data.toString());
            assertEquals(0, revoked.exit(), revoked.err());
            assertTrue(revoked.out().startsWith("revoked token monitor (removed from "), revoked.out());
            assertEquals(401, http.send(get, HttpResponse.BodyHandlers.ofString()).statusCode());
            CliResult again = CliResult.run("token", "rm", "monitor", "--data", data.toString());
            assertEquals(1, again.exit());
            assertTrue(again.err().contains("token name: monitor (expected: one of []"), again.err());
        }
    }

    @Test
    void aTokenOfAnUnknownRoleIsRefusedNamingIt() {
        CliResult r = CliResult.run("token", "create", "--role", "root", "--data", dir.toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("role: root (expected: admin or read)"), r.err());
    }
}
