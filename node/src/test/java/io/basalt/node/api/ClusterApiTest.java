package io.basalt.node.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.TestCluster;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.node.datastore.Datastore;
import io.basalt.node.metrics.NodeMetrics;
import io.basalt.node.metrics.RaftMeters;
import io.basalt.vdisk.BlockDevice;

/** The API of a cluster node: the cluster's health and nodes, vdisks on the cluster, and Raft's metrics. */
class ClusterApiTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir Path dir;

    @Test
    void aNodesApiShowsTheClusterAndItsRaftGroupsInMetrics() throws Exception {
        ClusterConfig config = TestCluster.config("api", 1, 1, 1, TestCluster.fastTuning());
        try (TestCluster cluster = TestCluster.start(config, dir.resolve("nodes"), 0)) {
            cluster.waitForAllLeaders(Duration.ofSeconds(30));
            RaftMeters.register(NodeMetrics.process(), cluster.node(1));
            Datastore store = new Datastore.Cluster(ClusterClient.open(config, cluster.node(1)));
            try (ApiServer server = ApiServer.start(new ApiServer.Backend(store, dir, Optional.of(config)), NodeMetrics.process(), "127.0.0.1", 0)
                    .closing(store)) {
                String admin = Tokens.create(dir, "ops", "admin").secret();
                HttpClient http = HttpClient.newHttpClient();
                JsonNode status = get(http, server, "/api/cluster", admin);
                assertEquals("cluster", status.get("mode").asText());
                assertEquals("OK", status.get("health").asText(), status.toString());
                assertEquals(2, status.get("groups").size(), "meta and pg-0: " + status);
                assertEquals(1, get(http, server, "/api/nodes", admin).size());
                assertEquals(0, get(http, server, "/api/mirror-groups", admin).size(), "a cluster's groups, read from its meta group's records");

                HttpResponse<String> created = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/api/vdisks"))
                        .header("Authorization", "Bearer " + admin).POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"c1\",\"sizeBytes\":8388608}"))
                        .build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(201, created.statusCode(), created.body());
                try (BlockDevice d = store.open("c1")) {
                    for (int i = 0; i < 10; i++) {
                        d.write(i * 8L, ByteBuffer.allocate(4096), false).join();
                    }
                }
                assertEquals("c1", get(http, server, "/api/vdisks", admin).get(0).get("name").asText());

                PrometheusText m = PrometheusText.parse(NodeMetrics.process().scrape());
                assertEquals(1.0, m.value("basalt_raft_leader", Map.of("group", "meta")).orElseThrow());
                assertTrue(m.value("basalt_raft_term", Map.of("group", "pg-0")).orElseThrow() >= 1);
                assertTrue(m.value("basalt_raft_applied_index", Map.of("group", "pg-0")).orElseThrow() >= 10);
                assertTrue(m.value("basalt_raft_log_bytes", Map.of("group", "pg-0")).orElseThrow() >= 10 * 4096, "ten 4 KiB writes are in pg-0's log");
                // The client batches writes into entries (group commit): fewer requests than writes, but some.
                double commits = m.value("basalt_raft_commits_total", Map.of("group", "pg-0")).orElseThrow();
                assertTrue(commits >= 1, "commits of pg-0: " + commits + "\n" + NodeMetrics.process().scrape().lines()
                        .filter(l -> l.startsWith("basalt_raft")).toList());
                assertTrue(m.value("basalt_raft_elections_total", Map.of("group", "meta")).orElseThrow() >= 1);
                // Read through this node's meta replica: present (0 or more) once the meta group runs here.
                assertTrue(m.value("basalt_lock_events_total", Map.of("event", "granted")).orElseThrow() >= 0);
                assertTrue(m.value("basalt_node_disk_free_bytes", Map.of("node", "1")).orElseThrow() > 0);
            }
        }
    }

    /**
     * A token made on a cluster is kept in its meta group: the APIs of two nodes, with no tokens
     * file beside them, both take it, and both refuse it once it is revoked through one of them
     * (that one at once, the other within the refresh).
     */
    @Test
    void aTokenKeptInTheMetaGroupOpensEveryNodesApiUntilItIsRemoved() throws Exception {
        ClusterConfig config = TestCluster.config("tokens", 2, 1, 2, TestCluster.fastTuning());
        try (TestCluster cluster = TestCluster.start(config, dir.resolve("nodes"), 0)) {
            cluster.waitForAllLeaders(Duration.ofSeconds(30));
            Datastore one = new Datastore.Cluster(ClusterClient.open(config, cluster.node(1)));
            Datastore two = new Datastore.Cluster(ClusterClient.open(config, cluster.node(2)));
            try (Datastore cli = new Datastore.Cluster(ClusterClient.open(config));
                 ApiServer api1 = ApiServer.start(new ApiServer.Backend(one, dir.resolve("n1"), Optional.of(config)), NodeMetrics.process(), "127.0.0.1", 0)
                         .closing(one);
                 ApiServer api2 = ApiServer.start(new ApiServer.Backend(two, dir.resolve("n2"), Optional.of(config)), NodeMetrics.process(), "127.0.0.1", 0)
                         .closing(two)) {
                HttpClient http = HttpClient.newHttpClient();
                String reader = Tokens.create(cli.configs(), "grafana", "read").secret();
                // Made before any request: a server reads the meta group again for an unknown token at most every 100 ms.
                String admin = Tokens.create(cli.configs(), "ops", "admin").secret();
                assertEquals(0, get(http, api1, "/api/vdisks", reader).size());
                assertEquals(0, get(http, api2, "/api/vdisks", reader).size());
                assertEquals(java.util.List.of("grafana", "ops"), Tokens.list(cli.configs()).stream().map(Tokens.Entry::name).toList());
                assertTrue(Tokens.list(cli.configs()).get(0).sha256().length() == 64, "only the hash is kept");
                ByteBuffer kept = cli.configs().read(Tokens.KEY_PREFIX + "/grafana").orElseThrow().value().duplicate();
                byte[] keptBytes = new byte[kept.remaining()];
                kept.get(keptBytes);
                assertTrue(!new String(keptBytes, java.nio.charset.StandardCharsets.UTF_8).contains(reader), "the secret is not kept");
                org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> Tokens.create(cli.configs(), "grafana", "admin"));

                // Revoked through node 1's API: node 1 refuses it at once, node 2 within the refresh.
                assertEquals(200, status(http, api2, reader), "node 2 has read the token: it must notice the revocation");
                HttpResponse<String> revoked = http.send(HttpRequest.newBuilder(URI.create(api1.url() + "/api/tokens/grafana"))
                        .header("Authorization", "Bearer " + admin).DELETE().build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(200, revoked.statusCode(), revoked.body());
                assertTrue(revoked.body().contains("meta group"), revoked.body());
                long revokedAt = System.nanoTime();
                assertEquals(401, status(http, api1, reader));
                assertEquals(java.util.List.of("ops"), Tokens.list(cli.configs()).stream().map(Tokens.Entry::name).toList());
                Thread.sleep(Math.max(0, Tokens.SHARED_REFRESH_MS + 100 - (System.nanoTime() - revokedAt) / 1_000_000));
                assertEquals(401, status(http, api2, reader));
            }
        }
    }

    private static int status(HttpClient http, ApiServer server, String token) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(server.url() + "/api/vdisks")).header("Authorization", "Bearer " + token).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode();
    }

    private static JsonNode get(HttpClient http, ApiServer server, String path, String token) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(server.url() + path)).header("Authorization", "Bearer " + token).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return JSON.readTree(r.body());
    }
}
