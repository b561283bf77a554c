package io.basalt.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;

import io.basalt.cluster.tls.TlsIdentity;
import io.basalt.node.api.ConsoleBrowser;
import io.basalt.node.api.Tokens;

/**
 * The web console in a browser against node 1 of {@code basalt cluster up} (three nodes, TLS):
 * the cluster's health and groups, then a vdisk created and snapshotted, both listed with their space.
 */
class ConsoleClusterBrowserTest {
    @TempDir Path dir;

    @Test
    void consoleOnAClusterNodeShowsItsGroupsAndCreatesAVdiskAndASnapshot() throws Exception {
        ConsoleBrowser.assumeInstalled();
        try (ClusterUp cluster = ClusterUp.start(dir, "16M");
             ConsoleBrowser browser = ConsoleBrowser.start(dir.resolve("chromium"), true)) {
            String url = ClusterUpTlsProcessTest.awaitApi(dir.resolve("node-1.log"));
            String token = Tokens.create(dir, "console", "admin").secret();
            browser.logIn(url, token);
            assertEquals(3, browser.driver().findElements(By.cssSelector("#nodes tbody tr")).size(), "nodes listed");
            // meta and the three placement groups
            assertEquals(4, browser.driver().findElements(By.cssSelector("#groups tbody tr")).size(), "groups listed");
            browser.createVdiskAndSnapshot("web1", "32M", "32.0 MiB", "before");
            browser.awaitRow("tr.vdisk[data-vdisk='disk0']");
            System.out.println("screenshot: " + browser.screenshot(Path.of("target", "console-screenshots", "cluster.png")).toAbsolutePath());
            HttpClient trusting = HttpClient.newBuilder().sslContext(TlsIdentity.trusting(dir.resolve("tls").resolve("ca.crt"))).build();
            HttpResponse<String> snaps = trusting.send(HttpRequest.newBuilder(URI.create(url + "/api/vdisks/web1/snapshots"))
                    .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
            assertTrue(snaps.statusCode() == 200 && snaps.body().contains("\"before\""), "the cluster has web1@before: " + snaps.body());
        }
    }
}
