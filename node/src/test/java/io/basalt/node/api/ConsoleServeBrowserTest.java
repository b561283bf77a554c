package io.basalt.node.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.Alert;
import org.openqa.selenium.By;
import org.openqa.selenium.support.ui.ExpectedConditions;

import io.basalt.node.TestProcesses;
import io.basalt.node.cli.CliResult;

/**
 * The web console in a browser against {@code basalt serve} (the embedded store) as its own
 * process: log in with a token from {@code basalt token create}, create a vdisk, snapshot it, see
 * both with their space; a destructive action waits for its confirmation; the I/O chart fills.
 */
class ConsoleServeBrowserTest {
    static final Path SCREENSHOTS = Path.of("target", "console-screenshots");
    private static final Pattern API = Pattern.compile("^api: (\\S+) ", Pattern.MULTILINE);

    @TempDir Path dir;

    @Test
    void consoleOnServeCreatesAVdiskAndASnapshotAndListsThemWithTheirSpace() throws Exception {
        ConsoleBrowser.assumeInstalled();
        Path data = dir.resolve("data");
        CliResult created = CliResult.run("token", "create", "--role", "admin", "--name", "console", "--data", data.toString());
        assertEquals(0, created.exit(), created.err());
        String token = created.out().strip();
        Path log = dir.resolve("serve.log");
        Process serve = TestProcesses.basalt("serve", "--data", data.toString(), "--api-listen", "127.0.0.1:0").redirectOutput(log.toFile()).start();
        try (ConsoleBrowser browser = ConsoleBrowser.start(dir.resolve("chromium"), false)) {
            String url = awaitApi(serve, log);
            browser.logIn(url, token);
            assertEquals("embedded", browser.driver().findElement(By.id("cluster-name")).getText());
            browser.createVdiskAndSnapshot("web1", "64M", "64.0 MiB", "before");
            System.out.println("screenshot: " + browser.screenshot(SCREENSHOTS.resolve("serve.png")).toAbsolutePath());
            HttpResponse<String> snaps = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url + "/api/vdisks/web1/snapshots"))
                    .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
            assertTrue(snaps.statusCode() == 200 && snaps.body().contains("\"before\""), "the server has web1@before: " + snaps.body());

            // Deleting a snapshot asks first: dismissed, the snapshot stays; accepted, it goes.
            String deleteSnap = "tr.snapshot[data-snap='web1@before'] button[data-action='delete-snap']";
            browser.driver().findElement(By.cssSelector(deleteSnap)).click();
            Alert confirm = browser.await().until(ExpectedConditions.alertIsPresent());
            assertEquals("Delete snapshot web1@before?", confirm.getText());
            confirm.dismiss();
            browser.awaitRow("tr.snapshot[data-snap='web1@before']");
            browser.driver().findElement(By.cssSelector(deleteSnap)).click();
            browser.await().until(ExpectedConditions.alertIsPresent()).accept();
            browser.awaitGone("tr.snapshot[data-snap='web1@before']");

            // Every page renders without an error; the Mirrors and Hosts & VMs pages have their tables (empty here).
            for (String page : java.util.List.of("targets", "locks", "hosts", "mirrors", "jobs")) {
                browser.open(page);
                assertEquals("", browser.error(), page);
            }
            browser.open("mirrors");
            assertTrue(browser.driver().findElement(By.id("mirrors")).getText().contains("RPO"), "the mirrors table and its RPO column");
            assertTrue(browser.driver().findElement(By.id("mirror-groups")).getText().contains("consistent round"),
                    "the consistency groups' table and its consistent round column");

            // The health page polls /metrics every 2 s: after two scrapes it shows rates.
            browser.open("health");
            browser.await().until(ExpectedConditions.textMatches(By.id("io-now"), Pattern.compile("B/s / .*B/s")));
            assertEquals("", browser.error());
        } finally {
            serve.destroy();
            if (!serve.waitFor(20, TimeUnit.SECONDS)) {
                serve.destroyForcibly();
            }
        }
    }

    /** The API URL {@code basalt serve} printed ({@code api: URL (OpenAPI ...)}). */
    private static String awaitApi(Process serve, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            String text = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
            Matcher m = API.matcher(text);
            if (m.find()) {
                return m.group(1);
            }
            assertTrue(serve.isAlive(), "basalt serve exited: " + text);
            Thread.sleep(100);
        }
        throw new AssertionError("basalt serve did not print its API URL in " + log);
    }
}
