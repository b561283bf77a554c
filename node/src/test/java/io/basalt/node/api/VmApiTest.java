package io.basalt.node.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import io.basalt.host.Accelerator;
import io.basalt.node.datastore.Datastore;
import io.basalt.node.host.HostAgent;
import io.basalt.node.host.Inventory;
import io.basalt.node.host.VmRecord;
import io.basalt.node.locks.LockedStore;
import io.basalt.node.metrics.NodeMetrics;

/**
 * The VM and host actions of the API against two real host agents on the embedded store, their
 * guest a real QEMU (TCG, no kernel: the firmware idles, which is all a start, a migration and a
 * stop need): start on a chosen host, a live migration as a job, a host's evacuation as a job and
 * its end, a stop; and the refusals that are checked before any work starts. {@link ApiServerTest}
 * covers every other endpoint; these four need live agents, so they are answered here
 * ({@link #ANSWERED}).
 */
class VmApiTest {
    /** The endpoints this test answers well, which {@link ApiServerTest} (no agents) only refuses. */
    static final Set<String> ANSWERED = Set.of("POST /api/vms/{name}/start", "POST /api/vms/{name}/migrate",
            "POST /api/hosts/{name}/maintenance", "DELETE /api/hosts/{name}/maintenance");

    @TempDir Path dir;

    @Test
    void aVmIsStartedMigratedEvacuatedAndStoppedThroughTheApi() throws Exception {
        String qemu = io.basalt.node.TestProcesses.which("qemu-system-x86_64");
        assumeTrue(qemu != null, "needs qemu-system-x86_64 (qemu-system-x86): scripts/install-test-deps.sh");
        Path storeDir = dir.resolve("store");
        try (Datastore store = Datastore.local(storeDir, 0);
             ApiServer server = ApiServer.start(new ApiServer.Backend(store, storeDir, Optional.empty()), NodeMetrics.process(), "127.0.0.1", 0)) {
            ApiClient api = new ApiClient(server.url(), Tokens.create(storeDir, "ops", "admin").secret(), Duration.ofSeconds(120));
            store.create("vm1-disk", 16L << 20, 512, 4096);
            Inventory inventory = new Inventory(store.configs());
            inventory.createVm(VmRecord.create("vm1", 1, 128, List.of("vm1-disk"), null, null, null));
            LockedStore locked = store.serving();
            PrintWriter out = new PrintWriter(System.out, true);
            try (HostAgent a = HostAgent.start("host-a", locked, inventory, options(qemu, "a"), out);
                 HostAgent b = HostAgent.start("host-b", locked, inventory, options(qemu, "b"), out)) {
                api.problem("POST", "/api/vms/vm1/migrate", "{\"to\":\"host-b\"}", 409, "vm: vm1 is stopped");
                assertEquals("started vm vm1 on host-a",
                        api.call("POST", "/api/vms/vm1/start", "{\"on\":\"host-a\"}", 200).get("message").asText());
                assertEquals(Set.of("vm1"), a.running());
                api.problem("POST", "/api/vms/vm1/start", "", 409, "already running on host-a");
                api.problem("POST", "/api/vms/vm1/migrate", "{\"to\":\"host-a\"}", 400, "to: host-a");
                api.problem("POST", "/api/vms/vm1/migrate", "{\"to\":\"host-z\"}", 400, "to: host-z (expected: a live host");

                JsonNode migrate = api.awaitJob(api.call("POST", "/api/vms/vm1/migrate", "{\"to\":\"host-b\"}", 202));
                assertEquals("done", migrate.get("state").asText(), migrate.toString());
                assertEquals(1, migrate.get("done").asLong());
                assertTrue(migrate.get("result").get("message").asText().startsWith("migrated vm1 from host-a to host-b: downtime "), migrate.toString());
                assertEquals(Set.of("vm1"), b.running());
                assertEquals(Set.of(), a.running());
                assertEquals("host-b", inventory.vm("vm1").orElseThrow().host());

                JsonNode evacuate = api.awaitJob(api.call("POST", "/api/hosts/host-b/maintenance", null, 202));
                assertEquals("done", evacuate.get("state").asText(), evacuate.toString());
                assertEquals(0, evacuate.get("result").get("left").asInt(), evacuate.toString());
                assertEquals(1, evacuate.get("total").asLong());
                assertEquals(1, evacuate.get("done").asLong());
                assertEquals(Set.of("vm1"), a.running(), "evacuated to the only other host");
                assertTrue(inventory.host("host-b").orElseThrow().maintenance());
                api.problem("POST", "/api/vms/vm1/migrate", "{\"to\":\"host-b\"}", 409, "in maintenance");
                assertEquals("host host-b: out of maintenance (takes VMs again)",
                        api.call("DELETE", "/api/hosts/host-b/maintenance", null, 200).get("message").asText());
                assertTrue(!inventory.host("host-b").orElseThrow().maintenance());

                assertTrue(api.call("POST", "/api/vms/vm1/stop", "{\"kill\":true}", 200).get("message").asText().startsWith("killed vm vm1 on host-a"));
                assertEquals(Set.of(), a.running());
            }
        }
    }

    private HostAgent.Options options(String qemu, String tag) {
        return new HostAgent.Options(qemu, Accelerator.TCG, dir.resolve("run-" + tag), 2, 1024, 3000, Duration.ofMillis(200),
                Duration.ofSeconds(2), Duration.ofSeconds(10), Optional.empty());
    }
}
