package io.basalt.node.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.host.Accelerator;
import io.basalt.node.config.EmbeddedConfigs;
import io.basalt.node.locks.EmbeddedLocks;
import io.basalt.node.locks.LockedStore;
import io.basalt.vdisk.store.VdiskStore;

/** A host agent's control API asks every caller for the datastore's agent token, and listens where it is told. */
class AgentApiAuthTest {
    @TempDir Path dir;

    @Test
    void refusesARequestWithoutTheAgentTokenWith401SayingWhy() throws Exception {
        int port = io.basalt.cluster.LoopbackPorts.freeBase(1) + 1;
        try (VdiskStore store = VdiskStore.open(dir.resolve("store"));
             EmbeddedLocks locks = EmbeddedLocks.open(store).startLeaseMonitor()) {
            Inventory inventory = new Inventory(EmbeddedConfigs.open(store));
            HostAgent.Options options = options().withApiListen(new InetSocketAddress("127.0.0.1", port));
            try (HostAgent a = HostAgent.start("host-a", LockedStore.embedded(store, locks), inventory, options, quiet())) {
                assertEquals("127.0.0.1:" + port, a.apiAddress(), "listens where --listen says");
                assertEquals("127.0.0.1:" + port, inventory.host("host-a").orElseThrow().api(), "and registers that address");
                HttpClient http = HttpClient.newHttpClient();
                URI reconcile = URI.create("http://" + a.apiAddress() + "/v1/reconcile");

                HttpResponse<String> none = http.send(HttpRequest.newBuilder(reconcile).POST(HttpRequest.BodyPublishers.noBody()).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(401, none.statusCode(), none.body());
                assertTrue(none.body().contains("Authorization: missing"), none.body());
                assertEquals("Bearer", none.headers().firstValue("WWW-Authenticate").orElse(""));

                HttpResponse<String> wrong = http.send(HttpRequest.newBuilder(reconcile).header("Authorization", "Bearer not-the-token")
                        .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(401, wrong.statusCode(), wrong.body());
                assertTrue(wrong.body().contains("wrong agent token"), wrong.body());

                var refused = assertThrows(java.io.IOException.class, () -> new AgentClient(a.apiAddress(), "not-the-token").reconcile());
                assertTrue(refused.getMessage().contains("wrong agent token"), refused.getMessage());

                a.apiClient().reconcile(); // the agent token: answered
                new AgentClient(a.apiAddress(), inventory.agentToken()).reconcile(); // as the CLI finds it in the datastore
            }
        }
    }

    @Test
    void theAgentTokenIsMadeOnceAndThenTheSameForEveryone() throws Exception {
        try (VdiskStore store = VdiskStore.open(dir.resolve("store"))) {
            String first = new Inventory(EmbeddedConfigs.open(store)).agentToken();
            assertTrue(first.length() >= 40, "32 random bytes, base64: " + first);
            assertEquals(first, new Inventory(EmbeddedConfigs.open(store)).agentToken());
        }
    }

    @Test
    void refusesAWildcardListenAddress() {
        var e = assertThrows(IllegalArgumentException.class, () -> options().withApiListen(new InetSocketAddress("0.0.0.0", 0)));
        assertTrue(e.getMessage().contains("not a wildcard"), e.getMessage());
    }

    private HostAgent.Options options() {
        return new HostAgent.Options("qemu-system-x86_64", Accelerator.TCG, dir.resolve("run"), 2, 1024, 3000, Duration.ofMillis(200),
                Duration.ofSeconds(2), Duration.ofSeconds(10), Optional.empty());
    }

    private static PrintWriter quiet() {
        return new PrintWriter(new StringWriter(), true);
    }
}
