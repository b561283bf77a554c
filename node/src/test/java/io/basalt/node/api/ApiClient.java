package io.basalt.node.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

import com.fasterxml.jackson.databind.JsonNode;

/** A test's client of the management API with one token: calls that must answer a status, refusals that must name a value, jobs awaited. */
public record ApiClient(String url, String token, Duration timeout) {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    /** {@code method path} with {@code body} (null: none); asserts {@code status} and returns the JSON answer. */
    public JsonNode call(String method, String path, String body, int status) throws Exception {
        HttpResponse<String> r = send(method, path, body);
        assertEquals(status, r.statusCode(), method + " " + path + ": " + r.body());
        return ApiServerTest.JSON.readTree(r.body());
    }

    /** Asserts a problem+json refusal of {@code status} whose detail contains {@code detailPart}. */
    public void problem(String method, String path, String body, int status, String detailPart) throws Exception {
        HttpResponse<String> r = send(method, path, body);
        assertEquals(status, r.statusCode(), r.body());
        assertEquals(Problem.CONTENT_TYPE, r.headers().firstValue("Content-Type").orElseThrow().split(";")[0]);
        String detail = ApiServerTest.JSON.readTree(r.body()).get("detail").asText();
        assertTrue(detail.contains(detailPart), "detail " + detail + " (expected to contain: " + detailPart + ")");
    }

    /** The job {@code job} (as a 202 answered it) once it is no longer running, or as it is after the timeout. */
    public JsonNode awaitJob(JsonNode job) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            JsonNode now = call("GET", "/api/jobs/" + job.get("id").asText(), null, 200);
            if (!now.get("state").asText().equals("running") || System.nanoTime() > deadline) {
                return now;
            }
            Thread.sleep(50);
        }
    }

    private HttpResponse<String> send(String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path)).timeout(timeout)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .header("Authorization", "Bearer " + token);
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }
}
