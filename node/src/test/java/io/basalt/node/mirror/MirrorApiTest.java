package io.basalt.node.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import io.basalt.node.api.ApiClient;
import io.basalt.node.api.ApiServer;
import io.basalt.node.api.Tokens;
import io.basalt.node.config.EmbeddedConfigs;
import io.basalt.node.datastore.Datastore;
import io.basalt.node.locks.EmbeddedLocks;
import io.basalt.node.metrics.NodeMetrics;
import io.basalt.replication.MirrorRoles;
import io.basalt.replication.MirrorSnapshots;

/**
 * {@code /api/mirrors} on the API of each site's mirroring process (two embedded sites in one
 * JVM): the status rows, a planned failover to site B as a job, and the failback to A as a job;
 * and what is refused (a failover asked at the primary). ApiServerTest refuses the two actions
 * without a mirror service; their good answers are here ({@link #ANSWERED}).
 */
public class MirrorApiTest {
    /** The endpoints this test answers well, which ApiServerTest (no mirror service) only refuses. */
    public static final Set<String> ANSWERED = Set.of("POST /api/mirrors/{vdisk}/failover", "POST /api/mirrors/{vdisk}/failback",
            "POST /api/mirror-groups/{group}/failover", "POST /api/mirror-groups/{group}/failback");
    private static final String VDISK = "web1";
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir Path dir;

    @Test
    void statusFailoverAndFailbackThroughTheApi() throws Exception {
        byte[] secret = new byte[32];
        new java.security.SecureRandom().nextBytes(secret);
        try (TwoSites sites = new TwoSites(dir, secret, secret)) {
            TwoSites.Site a = sites.a;
            TwoSites.Site b = sites.b;
            a.store.create(VDISK, 16L << 20);
            a.config.putMirror(new MirrorConfig.Mirror(VDISK, b.name, 300, false));
            TwoSites.writeRandom(a.store, VDISK, new java.util.SplittableRandom(7));
            TwoSites.await("a round applied at site b", WAIT, () -> b.store.exists(VDISK)
                    && MirrorRoles.replicaOf(b.store, VDISK).flatMap(r -> r.lastSnapshot()).isPresent() && a.status(VDISK).lagBytes() == 0);
            try (ApiServer apiA = api(a, "api-a"); ApiServer apiB = api(b, "api-b")) {
                ApiClient onA = new ApiClient(apiA.url(), Tokens.create(dir.resolve("api-a"), "ops", "admin").secret(), WAIT);
                ApiClient onB = new ApiClient(apiB.url(), Tokens.create(dir.resolve("api-b"), "ops", "admin").secret(), WAIT);
                JsonNode rowsA = onA.call("GET", "/api/mirrors", null, 200);
                assertEquals(VDISK, rowsA.get(0).get("vdisk").asText());
                assertEquals("primary", rowsA.get(0).get("role").asText());
                assertEquals("replica", onB.call("GET", "/api/mirrors", null, 200).get(0).get("role").asText());
                onA.problem("POST", "/api/mirrors/" + VDISK + "/failover", "{\"planned\":true}", 409, "is primary here");

                JsonNode failover = onB.awaitJob(onB.call("POST", "/api/mirrors/" + VDISK + "/failover", "{\"planned\":true}", 202));
                assertEquals("done", failover.get("state").asText(), failover.toString());
                assertEquals(0, failover.get("result").get("dataLossWindowMs").asLong(), failover.toString());
                TwoSites.assertSameBytes(a.store, VDISK, b.store, VDISK);
                assertEquals("primary", onB.call("GET", "/api/mirrors", null, 200).get(0).get("role").asText());
                assertEquals("replica", onA.call("GET", "/api/mirrors", null, 200).get(0).get("role").asText());

                JsonNode failback = onA.awaitJob(onA.call("POST", "/api/mirrors/" + VDISK + "/failback", null, 202));
                assertEquals("done", failback.get("state").asText(), failback.toString());
                assertEquals("primary", onA.call("GET", "/api/mirrors", null, 200).get(0).get("role").asText());
                TwoSites.assertSameBytes(a.store, VDISK, b.store, VDISK);
            }
        }
    }

    /**
     * A consistency group through the API: listed at both sites (primary at a, replica at b with
     * its consistent round), a failover asked at the primary refused; site a lost, the group failed
     * over at b (unplanned, a job); site a back, the group failed back there discarding its copy
     * (a job), after which both sites hold the same bytes.
     */
    @Test
    void groupListedFailedOverAndBackThroughTheApi() throws Exception {
        byte[] secret = new byte[32];
        new java.security.SecureRandom().nextBytes(secret);
        java.util.List<String> members = java.util.List.of("db-log", "db-data");
        try (TwoSites sites = new TwoSites(dir, secret, secret)) {
            TwoSites.Site a = sites.a;
            TwoSites.Site b = sites.b;
            java.util.SplittableRandom random = new java.util.SplittableRandom(3);
            for (String v : members) {
                a.store.create(v, 4L << 20);
                TwoSites.writeRandom(a.store, v, random);
            }
            MirrorGroups.create(a.store, a.config, new MirrorConfig.Group("db", b.name, 300, members));
            TwoSites.await("the group announced and a round applied on site b", WAIT,
                    () -> b.config.replicaGroup("db").isPresent() && b.service.groups.consistentRound(members).orElse(0) >= 1);
            try (ApiServer apiA = api(a, "api-a"); ApiServer apiB = api(b, "api-b")) {
                ApiClient onA = new ApiClient(apiA.url(), Tokens.create(dir.resolve("api-a"), "ops", "admin").secret(), WAIT);
                ApiClient onB = new ApiClient(apiB.url(), Tokens.create(dir.resolve("api-b"), "ops", "admin").secret(), WAIT);
                JsonNode groupA = onA.call("GET", "/api/mirror-groups", null, 200).get(0);
                assertEquals(java.util.List.of("db", "primary", b.name), java.util.List.of(groupA.get("group").asText(), groupA.get("role").asText(),
                        groupA.get("peer").asText()), groupA.toString());
                JsonNode groupB = onB.call("GET", "/api/mirror-groups", null, 200).get(0);
                assertEquals("replica", groupB.get("role").asText(), groupB.toString());
                java.util.List<String> vdisksB = new java.util.ArrayList<>();
                groupB.get("vdisks").forEach(n -> vdisksB.add(n.asText()));
                assertEquals(members, vdisksB, groupB.toString());
                org.junit.jupiter.api.Assertions.assertTrue(groupB.get("consistentSnapshot").asText().startsWith(MirrorSnapshots.PREFIX), groupB.toString());
                onA.problem("POST", "/api/mirror-groups/db/failover", null, 409, "group: db is primary here");
                onB.problem("POST", "/api/mirror-groups/db/failback", null, 409, "group: db has its replicas here");

                a.stop();   // site a is lost
                JsonNode failover = onB.awaitJob(onB.call("POST", "/api/mirror-groups/db/failover", "{\"planned\":false}", 202));
                assertEquals("done", failover.get("state").asText(), failover.toString());
                assertEquals(2, failover.get("result").size(), failover.toString());
                assertEquals(2, failover.get("done").asLong(), failover.toString());
                assertEquals("primary", onB.call("GET", "/api/mirror-groups", null, 200).get(0).get("role").asText());

                a.start();  // site a is back, still primary of its copy: fail back discarding it
                TwoSites.peer(a, b, secret);
                TwoSites.peer(b, a, secret);
                JsonNode failback = onA.awaitJob(onA.call("POST", "/api/mirror-groups/db/failback", "{\"discardLocal\":true}", 202));
                assertEquals("done", failback.get("state").asText(), failback.toString());
                for (String v : members) {
                    TwoSites.assertSameBytes(a.store, v, b.store, v);
                    org.junit.jupiter.api.Assertions.assertTrue(MirrorRoles.replicaOf(b.store, v).isPresent(), v + " is a replica on site b again");
                }
            }
        }
    }

    /** The API of a site's mirroring process: its store (not closed here: the site owns it) and its mirror service. */
    private ApiServer api(TwoSites.Site site, String configDir) {
        Datastore store = new Datastore.Local(site.store, EmbeddedLocks.open(site.store), EmbeddedConfigs.open(site.store));
        return ApiServer.start(new ApiServer.Backend(store, dir.resolve(configDir), Optional.empty(), () -> Optional.ofNullable(site.service)),
                NodeMetrics.process(), "127.0.0.1", 0);
    }
}
