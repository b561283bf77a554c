package io.basalt.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.tls.TlsIdentity;
import io.basalt.node.api.Tokens;

/**
 * {@code basalt cluster up} makes a cluster with TLS: its CA and certificates in {@code tls/},
 * nodes that form over mutual TLS, and each node's API on HTTPS that the CLI reaches with
 * {@code --api-ca}.
 */
class ClusterUpTlsProcessTest {
    private static final Pattern API = Pattern.compile("^node 1 api: (\\S+)$", Pattern.MULTILINE);

    @TempDir Path dir;

    @Test
    void clusterUpMakesACaAndServesTheApiOverHttps() throws Exception {
        try (ClusterUp cluster = ClusterUp.start(dir, "16M")) {
            assertTrue(Files.readString(dir.resolve("cluster.json")).matches("(?s).*\"tls\"\\s*:\\s*true.*"), "cluster.json says tls");
            Path tls = dir.resolve("tls");
            for (String key : new String[] {"ca.key", "node-1.key", "node-2.key", "node-3.key", "client.key"}) {
                assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(tls.resolve(key))), key);
            }

            String url = awaitApi(dir.resolve("node-1.log"));
            assertTrue(url.startsWith("https://"), "node 1's API on a TLS cluster: " + url);
            String admin = Tokens.create(dir, "ops", "admin").secret();
            HttpClient trusting = HttpClient.newBuilder().sslContext(TlsIdentity.trusting(tls.resolve("ca.crt"))).build();
            HttpResponse<String> vdisks = trusting.send(HttpRequest.newBuilder(URI.create(url + "/api/vdisks"))
                    .header("Authorization", "Bearer " + admin).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, vdisks.statusCode(), vdisks.body());
            assertTrue(vdisks.body().contains("\"disk0\""), vdisks.body());
            assertThrows(IOException.class, () -> HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url.replace("https", "http")
                    + "/api/vdisks")).header("Authorization", "Bearer " + admin).build(), HttpResponse.BodyHandlers.ofString()), "plain HTTP");

            // A token made by the CLI on the cluster is kept in its meta group, beside the file's.
            io.basalt.node.cli.CliResult made = io.basalt.node.cli.CliResult.run("token", "create", "--role", "read", "--name", "dash",
                    "--cluster", dir.toString());
            assertEquals(0, made.exit(), made.err());
            assertTrue(made.err().contains("in the cluster's meta group"), made.err());
            String dash = made.out().strip();
            HttpRequest withDash = HttpRequest.newBuilder(URI.create(url + "/api/vdisks")).header("Authorization", "Bearer " + dash).build();
            assertEquals(200, trusting.send(withDash, HttpResponse.BodyHandlers.ofString()).statusCode());
            String listed = io.basalt.node.cli.CliResult.run("token", "ls", "--cluster", dir.toString()).out();
            assertTrue(listed.matches("(?s).*dash +read .* meta-group.*") && listed.matches("(?s).*ops +admin .* tokens\\.json.*"), listed);
            assertEquals(0, io.basalt.node.cli.CliResult.run("token", "rm", "dash", "--cluster", dir.toString()).exit());
            Thread.sleep(1_200);
            assertEquals(401, trusting.send(withDash, HttpResponse.BodyHandlers.ofString()).statusCode(), "removed from the meta group");

            // The CLI through the API, trusting the cluster directory's CA.
            Process ls = cluster.basalt("vdisk", "ls", "--api", url, "--api-token", admin, "--api-ca", dir.toString());
            assertTrue(ls.waitFor(60, TimeUnit.SECONDS), "vdisk ls --api did not finish");
            String out = Files.readString(newest(dir, "vdisk-"));
            assertEquals(0, ls.exitValue(), out);
            assertTrue(out.contains("disk0"), out);
        }
    }

    /** The URL node 1 printed for its API in {@code log} (its log file under {@code cluster up}). */
    static String awaitApi(Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            String text = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
            Matcher m = API.matcher(text);
            if (m.find()) {
                return m.group(1);
            }
            assertTrue(!text.contains("node 1: no api"), "node 1 has no API (its default port is taken?): " + text);
            Thread.sleep(200);
        }
        throw new AssertionError("node 1 did not print its API URL in " + log);
    }

    private static Path newest(Path dir, String prefix) throws IOException {
        try (var files = Files.list(dir)) {
            Path p = files.filter(f -> f.getFileName().toString().startsWith(prefix) && f.toString().endsWith(".log"))
                    .max(java.util.Comparator.comparingLong(f -> f.toFile().lastModified())).orElse(null);
            assertNotNull(p, "no " + prefix + "*.log in " + dir);
            return p;
        }
    }
}
