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

    /**
     * {@code basalt serve --api-tls} on the embedded store: a CA of the store's own made in
     * STORE/tls the first time, the API on HTTPS alone, and the CLI reaching it with {@code
     * --api-ca STORE}; a second start serves the same certificate. A gateway to a cluster made
     * without TLS is refused, naming the missing CA.
     */
    @Test
    void serveWithApiTlsMakesTheStoresOwnCaOnceAndTheCliTrustsIt() throws Exception {
        Path store = dir.resolve("store");
        java.nio.file.Files.createDirectories(store);
        String admin = Tokens.create(store, "ops", "admin").secret();
        String url = null;
        byte[] firstCert = null;
        for (int start = 0; start < 2; start++) {
            Process serve = io.basalt.node.TestProcesses.basalt("serve", "--data", store.toString(), "--api-listen", "127.0.0.1:0", "--api-tls").start();
            try {
                java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(serve.getInputStream(), java.nio.charset.StandardCharsets.UTF_8));
                StringBuilder printed = new StringBuilder();
                url = null;
                for (String line; (line = in.readLine()) != null && !line.startsWith("serving"); ) {
                    printed.append(line).append('\n');
                    if (line.startsWith("api: https://")) {
                        url = line.substring("api: ".length(), line.indexOf(' ', "api: ".length()));
                    }
                }
                assertTrue(url != null && printed.toString().contains("clients trust " + store.toAbsolutePath().resolve("tls/ca.crt")),
                        "serve printed: " + printed);
                Thread.ofPlatform().daemon().start(() -> in.lines().forEach(l -> { }));
                var listed = io.basalt.node.cli.CliResult.run("vdisk", "ls", "--format", "json", "--api", url, "--api-token", admin, "--api-ca", store.toString());
                assertEquals(0, listed.exit(), listed.err());
                assertEquals("[ ]", listed.out().strip());
                var untrusted = io.basalt.node.cli.CliResult.run("vdisk", "ls", "--api", url, "--api-token", admin);
                assertEquals(1, untrusted.exit(), "the JDK's CAs do not know the store's CA: " + untrusted.err());
                assertTrue(untrusted.err().contains("TLS handshake failed") && untrusted.err().contains("--api-ca"), untrusted.err());
                byte[] cert = java.nio.file.Files.readAllBytes(store.resolve("tls/" + ServeApiTls.NAME + ".crt"));
                if (firstCert == null) {
                    firstCert = cert;
                } else {
                    assertTrue(java.util.Arrays.equals(firstCert, cert), "a second start serves the same certificate");
                }
            } finally {
                serve.destroy();
                if (!serve.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)) {
                    serve.destroyForcibly();
                }
            }
        }
        IllegalArgumentException noCa = assertThrows(IllegalArgumentException.class, () -> ServeApiTls.identity(dir.resolve("plain-cluster"), true, "127.0.0.1"));
        assertTrue(noCa.getMessage().startsWith("--api-tls: ") && noCa.getMessage().contains("ca.crt does not exist"), noCa.getMessage());
    }

    private static HttpRequest get(String url, String token) {
        return HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + token).timeout(java.time.Duration.ofSeconds(10)).build();
    }
}
