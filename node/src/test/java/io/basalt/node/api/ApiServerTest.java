package io.basalt.node.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.basalt.node.datastore.Datastore;
import io.basalt.node.host.Inventory;
import io.basalt.node.host.VmRecord;
import io.basalt.node.metrics.NodeMetrics;
import io.swagger.v3.parser.OpenAPIV3Parser;
import io.swagger.v3.parser.core.models.ParseOptions;
import io.swagger.v3.parser.core.models.SwaggerParseResult;

/** The API on the embedded store: the route table, the OpenAPI document and every endpoint, good and bad. */
class ApiServerTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final long MIB = 1 << 20;

    @TempDir Path dir;
    Datastore store;
    ApiServer server;
    HttpClient http;
    String admin;
    String reader;
    /** "METHOD /path/{template}" of each endpoint a test answered well, and of each it refused with problem+json. */
    final Set<String> answered = new HashSet<>();
    final Set<String> refused = new HashSet<>();

    @BeforeEach
    void start() {
        store = Datastore.local(dir.resolve("store"), 0);
        admin = Tokens.create(dir.resolve("store"), "ops", "admin").secret();
        reader = Tokens.create(dir.resolve("store"), "grafana", "read").secret();
        server = ApiServer.start(new ApiServer.Backend(store, dir.resolve("store"), Optional.empty()), NodeMetrics.process(), "127.0.0.1", 0);
        http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    }

    @AfterEach
    void stop() {
        try {
            server.close();
        } finally {
            store.close();
        }
    }

    @Test
    void registeredRoutesAreTheDocumentsPathsAndTheConsolesFiles() throws Exception {
        Set<String> documented = documentedRoutes();
        assertEquals(new TreeSet<>(documented), new TreeSet<>(server.apiRoutes()));
        // The console's static files are not API endpoints: the document leaves exactly these out.
        assertEquals(new TreeSet<>(Set.of("GET /", "GET /console/", "GET /console/{file}")), new TreeSet<>(server.consoleRoutes()));
        Set<String> both = new HashSet<>(documented);
        both.addAll(server.consoleRoutes());
        assertEquals(both, server.registeredRoutes());
        assertEquals(server.declaredRoutes(), server.registeredRoutes());
    }

    @Test
    void documentValidatesAsOpenApi3() {
        ParseOptions options = new ParseOptions();
        options.setResolve(true);
        SwaggerParseResult r = new OpenAPIV3Parser().readContents(ApiServer.openApiDocument(), null, options);
        assertEquals(List.of(), r.getMessages());
        assertEquals("3.0.3", r.getOpenAPI().getOpenapi());
    }

    @Test
    void everyEndpointAnswersAndRefusesABadRequestWithProblemJson() throws Exception {
        ok("GET", "/api/openapi.json", "/api/openapi.json", null, null, 200);
        bad("GET", "/api/openapi.json", "/api/openapi.json?x=1", null, 400, "query parameter: x");
        ok("GET", "/metrics", "/metrics", null, reader, 200);
        bad("GET", "/metrics", "/metrics?format=json", null, 400, "query parameter: format");
        assertEquals("embedded", ok("GET", "/api/cluster", "/api/cluster", null, reader, 200).get("mode").asText());
        bad("GET", "/api/cluster", "/api/cluster?verbose=1", null, 400, "verbose");
        assertEquals(1, ok("GET", "/api/nodes", "/api/nodes", null, reader, 200).size());
        bad("GET", "/api/nodes", "/api/nodes?id=3", null, 400, "query parameter: id");

        JsonNode d1 = ok("POST", "/api/vdisks", "/api/vdisks", "{\"name\":\"d1\",\"sizeBytes\":" + 64 * MIB + "}", admin, 201);
        assertEquals(64 * MIB, d1.get("sizeBytes").asLong());
        bad("POST", "/api/vdisks", "/api/vdisks", "{\"name\":\"d2\",\"sizeBytes\":-5}", 400, "sizeBytes: -5");
        assertEquals("d1", ok("GET", "/api/vdisks", "/api/vdisks", null, reader, 200).get(0).get("name").asText());
        bad("GET", "/api/vdisks", "/api/vdisks?name=d1", null, 400, "query parameter: name");
        assertEquals(512, ok("GET", "/api/vdisks/{name}", "/api/vdisks/d1", null, reader, 200).get("blockSizeBytes").asInt());
        bad("GET", "/api/vdisks/{name}", "/api/vdisks/nope", null, 404, "vdisk: nope");
        assertEquals(128 * MIB, ok("PATCH", "/api/vdisks/{name}", "/api/vdisks/d1", "{\"sizeBytes\":" + 128 * MIB + "}", admin, 200)
                .get("sizeBytes").asLong());
        bad("PATCH", "/api/vdisks/{name}", "/api/vdisks/d1", "{\"sizeBytes\":\"big\"}", 400, "sizeBytes: \"big\"");

        assertEquals("s1", ok("POST", "/api/vdisks/{name}/snapshots", "/api/vdisks/d1/snapshots", "{\"name\":\"s1\"}", admin, 201).get("name").asText());
        bad("POST", "/api/vdisks/{name}/snapshots", "/api/vdisks/d1/snapshots", "{}", 400, "name: missing");
        assertEquals(1, ok("GET", "/api/vdisks/{name}/snapshots", "/api/vdisks/d1/snapshots", null, reader, 200).size());
        bad("GET", "/api/vdisks/{name}/snapshots", "/api/vdisks/nope/snapshots", null, 404, "vdisk: nope");
        JsonNode c1 = ok("POST", "/api/vdisks/{name}/snapshots/{snap}/clones", "/api/vdisks/d1/snapshots/s1/clones", "{\"name\":\"c1\"}", admin, 201);
        assertEquals("d1@s1", c1.get("parent").asText());
        bad("POST", "/api/vdisks/{name}/snapshots/{snap}/clones", "/api/vdisks/d1/snapshots/nosnap/clones", "{\"name\":\"c2\"}", 404, "d1@nosnap");

        JsonNode flatten = ok("POST", "/api/vdisks/{name}/flatten", "/api/vdisks/c1/flatten", null, admin, 202);
        JsonNode done = awaitJob(flatten.get("id").asText());
        assertEquals("done", done.get("state").asText(), done.toString());
        assertTrue(ok("GET", "/api/vdisks/{name}", "/api/vdisks/c1", null, reader, 200).get("parent").isNull());
        bad("POST", "/api/vdisks/{name}/flatten", "/api/vdisks/d1/flatten", null, 409, "vdisk: d1 has no parent");
        bad("GET", "/api/jobs/{id}", "/api/jobs/999", null, 404, "job: 999");
        assertEquals(1, ok("GET", "/api/jobs", "/api/jobs", null, reader, 200).size());
        bad("GET", "/api/jobs", "/api/jobs?state=done", null, 400, "query parameter: state");

        Path image = dir.resolve("d1.qcow2");
        JsonNode export = ok("POST", "/api/vdisks/{name}/export", "/api/vdisks/d1/export",
                "{\"file\":\"" + image + "\",\"format\":\"qcow2\",\"snapshot\":\"s1\"}", admin, 202);
        assertEquals("d1@s1", export.get("target").asText());
        JsonNode exported = awaitJob(export.get("id").asText());
        assertEquals("done", exported.get("state").asText(), exported.toString());
        assertEquals(128 * MIB, exported.get("total").asLong(), "the snapshot was taken after the resize to 128 MiB");
        assertTrue(Files.size(image) > 0);
        bad("POST", "/api/vdisks/{name}/export", "/api/vdisks/d1/export", "{\"file\":\"relative.img\"}", 400, "file: relative.img");

        JsonNode imported = awaitJob(ok("POST", "/api/imports", "/api/imports", "{\"file\":\"" + image + "\",\"name\":\"imp1\"}", admin, 202)
                .get("id").asText());
        assertEquals("done", imported.get("state").asText(), imported.toString());
        assertEquals("qcow2", imported.get("result").get("image").asText().substring(0, 5), imported.toString());
        assertEquals(128 * MIB, ok("GET", "/api/vdisks/{name}", "/api/vdisks/imp1", null, reader, 200).get("sizeBytes").asLong());
        bad("POST", "/api/imports", "/api/imports", "{\"file\":\"" + dir.resolve("none.img") + "\",\"name\":\"imp2\"}", 400, "none.img");
        Path truncated = Files.write(dir.resolve("truncated.qcow2"), java.util.Arrays.copyOf(Files.readAllBytes(image), 64));
        bad("POST", "/api/imports", "/api/imports", "{\"file\":\"" + truncated + "\",\"name\":\"imp2\"}", 400, "");
        assertEquals(404, send("GET", "/api/vdisks/imp2", null, reader).statusCode(), "a refused import makes no vdisk");

        ok("POST", "/api/vdisks/{name}/snapshots/{snap}/rollback", "/api/vdisks/d1/snapshots/s1/rollback", null, admin, 200);
        bad("POST", "/api/vdisks/{name}/snapshots/{snap}/rollback", "/api/vdisks/d1/snapshots/s9/rollback", null, 404, "d1@s9");
        ok("DELETE", "/api/vdisks/{name}/snapshots/{snap}", "/api/vdisks/d1/snapshots/s1", null, admin, 204);
        bad("DELETE", "/api/vdisks/{name}/snapshots/{snap}", "/api/vdisks/d1/snapshots/s1", null, 404, "d1@s1");

        assertEquals(List.of(), JSON.convertValue(ok("GET", "/api/targets", "/api/targets", null, reader, 200), List.class));
        bad("GET", "/api/targets", "/api/targets?iqn=x", null, 400, "query parameter: iqn");
        ok("GET", "/api/locks", "/api/locks?vdisk=d1", null, reader, 200);
        bad("GET", "/api/locks", "/api/locks?vdisk=nope", null, 400, "vdisk: nope");
        ok("GET", "/api/hosts", "/api/hosts", null, reader, 200);
        bad("GET", "/api/hosts", "/api/hosts?all", null, 400, "query parameter: all");
        new Inventory(store.configs()).createVm(VmRecord.create("vm1", 1, 256, List.of("d1"), null, null, null));
        assertEquals("vm1", ok("GET", "/api/vms", "/api/vms", null, reader, 200).get(0).get("name").asText());
        bad("GET", "/api/vms", "/api/vms?x=", null, 400, "query parameter: x");
        assertEquals(List.of("d1"), JSON.convertValue(ok("GET", "/api/vms/{name}", "/api/vms/vm1", null, reader, 200).get("disks"), List.class));
        bad("GET", "/api/vms/{name}", "/api/vms/vm9", null, 404, "vm: vm9");
        // No host agent runs here: a stop is only a record's change; the other actions are answered in VmApiTest.
        assertEquals("stopped vm vm1 (no live host ran it)", ok("POST", "/api/vms/{name}/stop", "/api/vms/vm1/stop", null, admin, 200)
                .get("message").asText());
        bad("POST", "/api/vms/{name}/stop", "/api/vms/vm1/stop", "{\"kill\":1}", 400, "kill: 1");
        bad("POST", "/api/vms/{name}/start", "/api/vms/vm1/start", "", 409, "no live host has room");
        bad("POST", "/api/vms/{name}/migrate", "/api/vms/vm1/migrate", "{}", 400, "to: missing");
        bad("POST", "/api/hosts/{name}/maintenance", "/api/hosts/nohost/maintenance", null, 404, "host: nohost");
        bad("DELETE", "/api/hosts/{name}/maintenance", "/api/hosts/nohost/maintenance", null, 404, "host: nohost");
        answered.addAll(VmApiTest.ANSWERED);

        backUpListAndRestore();

        assertEquals(0, ok("GET", "/api/mirrors", "/api/mirrors", null, reader, 200).size());
        bad("GET", "/api/mirrors", "/api/mirrors?vdisk=d1", null, 400, "query parameter: vdisk");
        // This process runs no mirror service: the actions are refused; their good answers are in MirrorApiTest.
        bad("POST", "/api/mirrors/{vdisk}/failover", "/api/mirrors/d1/failover", null, 404, "vdisk: d1 (expected: a mirrored vdisk or a replica");
        bad("POST", "/api/mirrors/{vdisk}/failback", "/api/mirrors/d1/failback", "{\"discardLocal\":\"yes\"}", 404, "vdisk: d1");
        assertEquals(0, ok("GET", "/api/mirror-groups", "/api/mirror-groups", null, reader, 200).size());
        bad("GET", "/api/mirror-groups", "/api/mirror-groups?group=db", null, 400, "query parameter: group");
        bad("POST", "/api/mirror-groups/{group}/failover", "/api/mirror-groups/db/failover", "{\"planned\":true}", 404, "group: db (expected: a consistency group");
        bad("POST", "/api/mirror-groups/{group}/failback", "/api/mirror-groups/db/failback", null, 404, "group: db");
        answered.addAll(io.basalt.node.mirror.MirrorApiTest.ANSWERED);

        // Tokens: listed (names and roles, never a secret) and revoked by an admin token only; a revoked one gets 401 from then on.
        String late = Tokens.create(dir.resolve("store"), "late", "read").secret();
        assertEquals(200, send("GET", "/api/vdisks", null, late).statusCode());
        assertEquals(List.of("ops", "grafana", "late"), ok("GET", "/api/tokens", "/api/tokens", null, admin, 200).findValuesAsText("name"));
        bad("GET", "/api/tokens", "/api/tokens?role=read", null, 400, "query parameter: role");
        assertProblem(send("GET", "/api/tokens", null, reader), 403, "token role: read (expected: admin");
        assertProblem(send("DELETE", "/api/tokens/late", null, reader), 403, "token role: read (expected: admin");
        assertEquals(Tokens.FILE_NAME, ok("DELETE", "/api/tokens/{name}", "/api/tokens/late", null, admin, 200).get("removedFrom").asText()
                .replaceAll(".*/", ""));
        assertProblem(send("GET", "/api/vdisks", null, late), 401, "unknown token");
        bad("DELETE", "/api/tokens/{name}", "/api/tokens/late", null, 404, "token: late (expected: one of [ops, grafana]");

        ok("DELETE", "/api/vdisks/{name}", "/api/vdisks/c1", null, admin, 204);
        bad("DELETE", "/api/vdisks/{name}", "/api/vdisks/c1", null, 404, "vdisk: c1");

        assertEquals(new TreeSet<>(documentedRoutes()), new TreeSet<>(answered), "endpoints answered");
        assertEquals(new TreeSet<>(documentedRoutes()), new TreeSet<>(refused), "endpoints that refused a bad request");
    }

    /**
     * Backups as jobs: a VM's two disks into a repository on the server (one job, each disk's
     * backup in its result), listed, one restored to a new vdisk with the same bytes; refusals
     * name the bad value (a relative repository, a snapshot or backup that is not there).
     */
    private void backUpListAndRestore() throws Exception {
        Path repo = dir.resolve("repo");
        byte[] data = new byte[1 << 20];
        new java.util.Random(11).nextBytes(data);
        for (String disk : List.of("b1", "b2")) {
            store.create(disk, 8 * MIB, 512, 4096);
            try (io.basalt.vdisk.BlockDevice d = store.open(disk)) {
                d.write(2048, java.nio.ByteBuffer.wrap(data), false).join();
                d.flush().join();
            }
        }
        new Inventory(store.configs()).createVm(VmRecord.create("vmb", 1, 256, List.of("b1", "b2"), null, null, null));
        JsonNode backup = awaitJob(ok("POST", "/api/backups", "/api/backups", "{\"vm\":\"vmb\",\"repo\":\"" + repo + "\"}", admin, 202)
                .get("id").asText());
        assertEquals("done", backup.get("state").asText(), backup.toString());
        assertEquals(List.of("b1", "b2"), backup.get("result").get("backups").findValuesAsText("vdisk"), backup.toString());
        assertEquals(backup.get("total").asLong(), backup.get("done").asLong(), backup.toString());
        assertTrue(backup.get("total").asLong() >= 2 * data.length && backup.get("total").asLong() < 2 * 8 * MIB,
                "only the chunks holding data are read: " + backup);
        bad("POST", "/api/backups", "/api/backups", "{\"vdisk\":\"b1@nosnap\",\"repo\":\"" + repo + "\"}", 400, "snapshot: b1@nosnap");
        bad("POST", "/api/backups", "/api/backups", "{\"vm\":\"vmb\",\"repo\":\"repo\"}", 400, "repo: repo (expected: an absolute path");

        JsonNode listed = ok("GET", "/api/backups", "/api/backups?repo=" + repo, null, reader, 200);
        assertEquals(List.of("b1", "b2"), listed.findValuesAsText("vdisk"), listed.toString());
        bad("GET", "/api/backups", "/api/backups?repo=" + dir.resolve("no-repo"), null, 400, "repo: " + dir.resolve("no-repo"));

        String id = listed.get(1).get("id").asText();
        JsonNode restored = awaitJob(ok("POST", "/api/backups/{id}/restore", "/api/backups/" + id + "/restore",
                "{\"repo\":\"" + repo + "\",\"toVdisk\":\"r2\"}", admin, 202).get("id").asText());
        assertEquals("done", restored.get("state").asText(), restored.toString());
        try (io.basalt.vdisk.BlockDevice d = store.open("r2")) {
            java.nio.ByteBuffer back = d.read(2048, data.length / 512).join();
            assertEquals(java.nio.ByteBuffer.wrap(data), back, "r2 holds what b2 held");
        }
        bad("POST", "/api/backups/{id}/restore", "/api/backups/nope/restore", "{\"repo\":\"" + repo + "\",\"toVdisk\":\"r3\"}", 404, "backup: nope");
        assertProblem(send("POST", "/api/backups/" + id + "/restore", "{\"repo\":\"" + repo + "\",\"into\":\"b1\",\"toVdisk\":\"r3\"}", admin),
                400, "(expected: exactly one destination)");
    }

    @Test
    void withoutATokenTheApiAnswers401() throws Exception {
        HttpResponse<String> r = send("GET", "/api/vdisks", null, null);
        assertProblem(r, 401, "Authorization: missing");
        assertEquals("Bearer", r.headers().firstValue("WWW-Authenticate").orElseThrow());
        assertProblem(send("GET", "/metrics", null, "basalt_not-a-token"), 401, "unknown token");
        assertProblem(send("POST", "/api/vdisks", "{\"name\":\"x\",\"sizeBytes\":4096}", null), 401, "Authorization: missing");
    }

    @Test
    void aReadTokenCannotCreateOrDelete() throws Exception {
        assertProblem(send("POST", "/api/vdisks", "{\"name\":\"x\",\"sizeBytes\":1048576}", reader), 403, "token role: read (expected: admin");
        assertEquals(List.of(), store.list());
        store.create("kept", MIB, 512, 4096);
        assertProblem(send("DELETE", "/api/vdisks/kept", null, reader), 403, "token role: read");
        assertProblem(send("POST", "/api/vdisks/kept/snapshots", "{\"name\":\"s\"}", reader), 403, "token role: read");
        assertEquals(List.of("kept"), store.list().stream().map(Datastore.VdiskView::name).toList());
        assertEquals(200, send("GET", "/api/vdisks/kept", null, reader).statusCode());
    }

    @Test
    void aTokenCreatedWhileServingIsTakenAndAStoredTokenIsOnlyAHash() throws Exception {
        String late = Tokens.create(dir.resolve("store"), "late", "read").secret();
        assertEquals(200, send("GET", "/api/vdisks", null, late).statusCode());
        String file = Files.readString(dir.resolve("store").resolve(Tokens.FILE_NAME));
        assertTrue(!file.contains(late) && !file.contains(admin) && file.contains(Tokens.sha256(late)), file);
        Tokens.remove(dir.resolve("store"), "late");
        assertProblem(send("GET", "/api/vdisks", null, late), 401, "unknown token");
    }

    @Test
    void theConsolesFilesNeedNoTokenAndAreTheListedOnesOnly() throws Exception {
        HttpResponse<String> root = send("GET", "/", null, null);
        assertEquals(302, root.statusCode());
        assertEquals("/console/", root.headers().firstValue("Location").orElseThrow());
        assertEquals("/console/", send("GET", "/console", null, null).headers().firstValue("Location").orElseThrow(),
                "without the slash the page's relative links would miss /console/");
        HttpResponse<String> page = send("GET", "/console/", null, null);
        assertEquals(200, page.statusCode());
        assertTrue(page.body().contains("<script src=\"console.js\""), page.body());
        assertEquals(ConsoleFiles.CONTENT_SECURITY_POLICY, page.headers().firstValue("Content-Security-Policy").orElseThrow());
        HttpResponse<String> script = send("GET", "/console/console.js", null, null);
        assertEquals(200, script.statusCode());
        assertTrue(script.headers().firstValue("Content-Type").orElseThrow().startsWith("text/javascript"));
        assertEquals(200, send("GET", "/console/console.css", null, null).statusCode());
        assertProblem(send("GET", "/console/openapi.json", null, null), 404, "console file: openapi.json");
        // A name, not a path: nothing beside the three files can be reached (Jetty may refuse the encoded slash first).
        HttpResponse<String> escape = send("GET", "/console/..%2Ftokens.json", null, null);
        assertTrue(escape.statusCode() == 400 || escape.statusCode() == 404, escape.statusCode() + " " + escape.body());
        // The page is public; what it shows is not: the API still asks for the token.
        assertProblem(send("GET", "/api/vdisks", null, null), 401, "Authorization: missing");
    }

    @Test
    void anUnknownPathIsAProblemNamingIt() throws Exception {
        assertProblem(send("GET", "/api/nothing", null, admin), 404, "path: GET /api/nothing");
    }

    private Set<String> documentedRoutes() throws IOException {
        JsonNode paths = JSON.readTree(ApiServer.openApiDocument()).get("paths");
        Set<String> routes = new HashSet<>();
        for (Iterator<String> p = paths.fieldNames(); p.hasNext(); ) {
            String path = p.next();
            paths.get(path).fieldNames().forEachRemaining(m -> routes.add(m.toUpperCase() + " " + path));
        }
        return routes;
    }

    private JsonNode ok(String method, String template, String path, String body, String token, int status) throws Exception {
        HttpResponse<String> r = send(method, path, body, token);
        assertEquals(status, r.statusCode(), method + " " + path + ": " + r.body());
        answered.add(method + " " + template);
        return r.body().isEmpty() ? JSON.nullNode() : template.equals("/metrics") ? JSON.nullNode() : JSON.readTree(r.body());
    }

    private void bad(String method, String template, String path, String body, int status, String detailPart) throws Exception {
        assertProblem(send(method, path, body, admin), status, detailPart);
        refused.add(method + " " + template);
    }

    private static void assertProblem(HttpResponse<String> r, int status, String detailPart) throws IOException {
        assertEquals(status, r.statusCode(), r.body());
        assertEquals(Problem.CONTENT_TYPE, r.headers().firstValue("Content-Type").orElseThrow().split(";")[0]);
        JsonNode p = JSON.readTree(r.body());
        assertEquals(status, p.get("status").asInt());
        assertTrue(p.get("detail").asText().contains(detailPart), "detail " + p.get("detail") + " (expected to contain: " + detailPart + ")");
    }

    private JsonNode awaitJob(String id) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            JsonNode job = ok("GET", "/api/jobs/{id}", "/api/jobs/" + id, null, reader, 200);
            if (!job.get("state").asText().equals("running") || System.nanoTime() > deadline) {
                return job;
            }
            Thread.sleep(50);
        }
    }

    private HttpResponse<String> send(String method, String path, String body, String token) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.url() + path)).timeout(Duration.ofSeconds(30))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }
}
