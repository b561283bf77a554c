package io.basalt.node.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import javax.net.ssl.SSLHandshakeException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.tls.TlsIdentity;
import io.basalt.node.cluster.ClusterCa;
import io.basalt.node.cluster.ClusterFile;
import io.basalt.node.datastore.Datastore;
import io.basalt.node.datastore.RemoteDatastore;
import io.basalt.node.metrics.NodeMetrics;

/** The management API over HTTPS with a node's certificate of the cluster CA. */
class ApiTlsTest {
    @TempDir Path dir;

    @Test
    void servesHttpsToClientsTrustingTheClusterCaAndRefusesTheRest() throws Exception {
        Path tls = dir.resolve("cluster").resolve(ClusterCa.DIR);
        ClusterCa.create(tls, "c1", List.of(new ClusterFile.Node(1, "127.0.0.1", 7101)));
        Path otherTls = dir.resolve("other").resolve(ClusterCa.DIR);
        ClusterCa.create(otherTls, "c2", List.of(new ClusterFile.Node(1, "127.0.0.1", 7101)));
        Datastore store = Datastore.local(dir.resolve("store"), 0);
        try (ApiServer server = ApiServer.start(new ApiServer.Backend(store, dir.resolve("store"), Optional.empty()), NodeMetrics.process(),
                "127.0.0.1", 0, Optional.of(TlsIdentity.in(tls, "node-1").sslContext())).closing(store)) {
            assertTrue(server.url().startsWith("https://127.0.0.1:"), server.url());
            String admin = Tokens.create(dir.resolve("store"), "ops", "admin").secret();

            HttpClient trusting = HttpClient.newBuilder().sslContext(TlsIdentity.trusting(tls.resolve("ca.crt"))).build();
            HttpResponse<String> ok = trusting.send(get(server.url() + "/api/vdisks", admin), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, ok.statusCode(), ok.body());
            assertEquals("[]", ok.body().strip());

            // The CLI's path (--api URL --api-ca DIR): the same CA, through RemoteDatastore.
            try (RemoteDatastore remote = new RemoteDatastore(URI.create(server.url()), admin,
                    Optional.of(TlsIdentity.trusting(tls.resolve("ca.crt"))))) {
                remote.create("v1", 1 << 20, 4096, 64 << 10);
                assertEquals(List.of("v1"), remote.list().stream().map(v -> v.name()).toList());
            }

            HttpClient jdkCas = HttpClient.newHttpClient();
            assertThrows(SSLHandshakeException.class, () -> jdkCas.send(get(server.url() + "/api/vdisks", admin), HttpResponse.BodyHandlers.ofString()),
                    "a client that does not trust the cluster CA fails the handshake");
            HttpClient otherCa = HttpClient.newBuilder().sslContext(TlsIdentity.trusting(otherTls.resolve("ca.crt"))).build();
            assertThrows(SSLHandshakeException.class, () -> otherCa.send(get(server.url() + "/api/vdisks", admin), HttpResponse.BodyHandlers.ofString()),
                    "a client trusting another cluster's CA fails the handshake");

            String plain = server.url().replace("https://", "http://");
            assertThrows(IOException.class, () -> jdkCas.send(get(plain + "/api/vdisks", admin), HttpResponse.BodyHandlers.ofString()),
                    "plain HTTP on the HTTPS port gets no answer");
        }
    }

    private static HttpRequest get(String url, String token) {
        return HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + token).timeout(java.time.Duration.ofSeconds(10)).build();
    }
}
