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

    /**
     * With a certificate of a cluster's CA (a TLS cluster's datastore) the API is HTTPS and asks
     * for the caller's certificate: plain HTTP, a caller without a certificate and one with a
     * certificate of another CA fail at the handshake; with one of the CA, the token is asked as
     * before; a client without TLS is told what it lacks.
     */
    @Test
    void onATlsClusterTheApiIsHttpsAskingForACertificateOfTheClustersCa() throws Exception {
        Path tls = dir.resolve("tls");
        io.basalt.node.cluster.ClusterCa.create(tls, "agents", java.util.List.of());
        Path otherTls = dir.resolve("other-tls");
        io.basalt.node.cluster.ClusterCa.create(otherTls, "other", java.util.List.of());
        io.basalt.cluster.tls.TlsIdentity client = io.basalt.cluster.tls.TlsIdentity.in(tls, io.basalt.node.cluster.ClusterCa.CLIENT).load();
        io.basalt.cluster.tls.TlsIdentity stranger = io.basalt.cluster.tls.TlsIdentity.in(otherTls, io.basalt.node.cluster.ClusterCa.CLIENT).load();
        try (VdiskStore store = VdiskStore.open(dir.resolve("store"));
             EmbeddedLocks locks = EmbeddedLocks.open(store).startLeaseMonitor()) {
            io.basalt.node.config.Configs embedded = EmbeddedConfigs.open(store);
            Inventory inventory = new Inventory(withTls(embedded, client));
            try (HostAgent a = HostAgent.start("host-a", LockedStore.embedded(store, locks), inventory, options(), quiet())) {
                assertTrue(a.apiAddress().startsWith("https://127.0.0.1:"), a.apiAddress());
                assertEquals(a.apiAddress(), inventory.host("host-a").orElseThrow().api(), "registers its https address");
                URI reconcile = URI.create(a.apiAddress() + "/v1/reconcile");
                HttpRequest withToken = HttpRequest.newBuilder(reconcile).header("Authorization", "Bearer " + inventory.agentToken())
                        .POST(HttpRequest.BodyPublishers.noBody()).build();

                assertThrows(java.io.IOException.class, () -> HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create(a.apiAddress().replace("https://", "http://") + "/v1/reconcile")).POST(HttpRequest.BodyPublishers.noBody())
                        .build(), HttpResponse.BodyHandlers.ofString()), "plain HTTP");
                HttpClient trustingOnly = HttpClient.newBuilder().sslContext(io.basalt.cluster.tls.TlsIdentity.trusting(tls.resolve("ca.crt"))).build();
                assertThrows(java.io.IOException.class, () -> trustingOnly.send(withToken, HttpResponse.BodyHandlers.ofString()),
                        "a caller without a certificate");
                HttpClient strangerClient = HttpClient.newBuilder().sslContext(stranger.sslContext()).build();
                assertThrows(java.io.IOException.class, () -> strangerClient.send(withToken, HttpResponse.BodyHandlers.ofString()),
                        "a caller with a certificate of another CA");

                var wrongToken = assertThrows(java.io.IOException.class, () -> new AgentClient(a.apiAddress(), "not-the-token",
                        inventory.agentTls()).reconcile());
                assertTrue(wrongToken.getMessage().contains("wrong agent token"), wrongToken.getMessage());
                var noTls = assertThrows(IllegalStateException.class, () -> new Inventory(embedded).agentClient(a.apiAddress()).reconcile());
                assertTrue(noTls.getMessage().contains("holds no certificate of the cluster's CA"), noTls.getMessage());

                inventory.agentClient(a.apiAddress()).reconcile();   // the CA's certificate and the token: answered
                a.apiClient().reconcile();
            }
        }
    }

    private static io.basalt.node.config.Configs withTls(io.basalt.node.config.Configs records, io.basalt.cluster.tls.TlsIdentity identity) {
        return new io.basalt.node.config.Configs() {
            @Override public Optional<io.basalt.cluster.meta.ConfigRecord> read(String key) { return records.read(key); }
            @Override public java.util.List<io.basalt.cluster.meta.ConfigRecord> list(String prefix) { return records.list(prefix); }
            @Override public boolean compareAndSet(String key, long expectedVersion, Optional<java.nio.ByteBuffer> value) {
                return records.compareAndSet(key, expectedVersion, value);
            }
            @Override public Optional<io.basalt.cluster.tls.TlsIdentity> tls() { return Optional.of(identity); }
        };
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
