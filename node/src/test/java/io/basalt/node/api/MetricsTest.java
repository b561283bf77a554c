package io.basalt.node.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.node.datastore.Datastore;
import io.basalt.lock.LockCommand;
import io.basalt.lock.LockMode;
import io.basalt.lock.LockResult;
import io.basalt.node.metrics.LockMeters;
import io.basalt.node.metrics.MeteredDevice;
import io.basalt.node.metrics.NodeMetrics;
import io.basalt.node.metrics.StoreMeters;
import io.basalt.node.serve.Exporter;
import io.basalt.node.serve.TargetsFile;
import io.basalt.vdisk.BlockDevice;

/** {@code /metrics}: Prometheus text that parses, showing the I/O that was done, per vdisk and target. */
class MetricsTest {
    static final String IQN = "iqn.2026-11.io.basalt:metrics";
    static final int WRITE_COUNT = 24;
    static final int READ_COUNT = 8;

    @TempDir Path dir;

    @Test
    void metricsShowTheWritesOfAMeteredDeviceAndTheStoresSpace() throws Exception {
        try (Datastore store = Datastore.local(dir, 0);
             ApiServer server = ApiServer.start(new ApiServer.Backend(store, dir, Optional.empty()), NodeMetrics.process(), "127.0.0.1", 0)) {
            StoreMeters space = StoreMeters.register(NodeMetrics.process(), () -> store.list().stream()
                    .collect(java.util.stream.Collectors.toMap(Datastore.VdiskView::name, Datastore.VdiskView::sizeBytes)), dir);
            String token = Tokens.create(dir, "prometheus", "read").secret();
            store.create("metered1", 16 << 20, 512, 4096);
            try (BlockDevice d = new MeteredDevice(store.open("metered1"), NodeMetrics.process().io("metered1", "-"))) {
                for (int i = 0; i < WRITE_COUNT; i++) {
                    d.write(i * 8L, ByteBuffer.allocate(4096), false).join();
                }
                d.read(0, 8).join();
            }
            PrometheusText m = PrometheusText.parse(scrape(server, token));
            Map<String, String> writes = Map.of("vdisk", "metered1", "target", "-", "op", "write");
            assertEquals(WRITE_COUNT, m.value("basalt_io_latency_seconds_count", writes).orElseThrow());
            assertEquals(WRITE_COUNT * 4096.0, m.value("basalt_io_bytes_total", writes).orElseThrow());
            assertEquals(4096.0, m.value("basalt_io_bytes_total", Map.of("vdisk", "metered1", "target", "-", "op", "read")).orElseThrow());
            assertEquals("histogram", m.types.get("basalt_io_latency_seconds"));
            assertEquals(16 << 20, m.value("basalt_vdisk_provisioned_bytes", Map.of("vdisk", "metered1")).orElseThrow());
            assertTrue(m.value("basalt_store_free_bytes", Map.of()).orElseThrow() > 0);
            space.close();
        }
    }

    /** The iSCSI path: an initiator (qemu-io, QEMU's libiscsi client) writes through a served target. */
    @Test
    void lockAndLeaseEventsAreCountedByKind() throws Exception {
        try (Datastore store = Datastore.local(dir, 0);
             ApiServer server = ApiServer.start(new ApiServer.Backend(store, dir, Optional.empty()), NodeMetrics.process(), "127.0.0.1", 0)) {
            LockMeters.register(NodeMetrics.process(), ((Datastore.Local) store).locks()::events);
            String token = Tokens.create(dir, "prometheus", "read").secret();
            store.create("locked1", 1 << 20, 512, 4096);
            var locks = store.locks();
            long a = ((LockResult.SessionOpened) locks.submit(new LockCommand.OpenSession("host-a", 8_000, 0))).session().id();
            long b = ((LockResult.SessionOpened) locks.submit(new LockCommand.OpenSession("host-b", 8_000, 0))).session().id();
            assertTrue(locks.submit(new LockCommand.Acquire(a, "locked1", LockMode.EXCLUSIVE)) instanceof LockResult.Granted);
            assertTrue(locks.submit(new LockCommand.Acquire(b, "locked1", LockMode.EXCLUSIVE)) instanceof LockResult.Refused);
            assertTrue(locks.submit(new LockCommand.Acquire(b, "locked1", LockMode.SHARED_READ)) instanceof LockResult.Granted);
            assertTrue(locks.submit(new LockCommand.RenewSession(a, 1_000)) instanceof LockResult.SessionRenewed);
            assertTrue(locks.submit(new LockCommand.Handoff("locked1", a, b)) instanceof LockResult.HandedOff);
            assertTrue(locks.submit(new LockCommand.Release(b, "locked1")) instanceof LockResult.Released);

            PrometheusText m = PrometheusText.parse(scrape(server, token));
            Map<String, Double> expected = Map.of("session-opened", 2.0, "granted", 2.0, "refused-conflict", 1.0,
                    "lease-renewed", 1.0, "handed-off", 1.0, "released", 1.0, "lease-expired", 0.0,
                    // a's grant came in alone, the hand-off moved the writer, b's release left: three rises.
                    "fence-raised", 3.0);
            expected.forEach((event, count) -> assertEquals(count,
                    m.value("basalt_lock_events_total", Map.of("event", event)).orElseThrow(), event));
            assertEquals("counter", m.types.getOrDefault("basalt_lock_events_total", m.types.get("basalt_lock_events")));
        }
    }

    @Test
    void metricsShowTheIscsiWritesOfATargetsVdisk() throws Exception {
        String qemuIo = "/usr/bin/qemu-io";
        assumeTrue(new File(qemuIo).canExecute(), "qemu-io is not installed");
        try (Datastore store = Datastore.local(dir, 0);
             ApiServer server = ApiServer.start(new ApiServer.Backend(store, dir, Optional.empty()), NodeMetrics.process(), "127.0.0.1", 0)) {
            String token = Tokens.create(dir, "prometheus", "read").secret();
            store.create("served1", 16 << 20, 512, 4096);
            TargetsFile.Config config = new TargetsFile.Config(List.of(new TargetsFile.Target(IQN, new TreeMap<>(Map.of(0, "served1")), List.of(), null)));
            try (Exporter exporter = Exporter.start(store.serving(), config, "127.0.0.1", 0)) {
                List<String> cmd = new ArrayList<>(List.of(qemuIo, "--image-opts"));
                for (int i = 0; i < WRITE_COUNT; i++) {
                    cmd.addAll(List.of("-c", "write -P 0x5a " + i * 4096 + " 4k"));
                }
                for (int i = 0; i < READ_COUNT; i++) {
                    cmd.addAll(List.of("-c", "read " + i * 4096 + " 4k"));
                }
                cmd.add("driver=iscsi,transport=tcp,portal=127.0.0.1:" + exporter.address().getPort() + ",target=" + IQN
                        + ",lun=0,initiator-name=iqn.2026-11.io.basalt:metrics-host");
                Path log = dir.resolve("qemu-io.log");
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
                try {
                    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "qemu-io did not finish");
                } finally {
                    p.destroyForcibly();
                }
                assertEquals(0, p.exitValue(), Files.readString(log));
            }
            PrometheusText m = PrometheusText.parse(scrape(server, token));
            Map<String, String> writes = Map.of("vdisk", "served1", "target", IQN, "op", "write");
            assertEquals(WRITE_COUNT, m.value("basalt_io_latency_seconds_count", writes).orElseThrow());
            assertEquals(WRITE_COUNT * 4096.0, m.value("basalt_io_bytes_total", writes).orElseThrow());
            // The initiator reads a little more than asked (probing the disk at login): at least what was asked.
            double readBytes = m.value("basalt_io_bytes_total", Map.of("vdisk", "served1", "target", IQN, "op", "read")).orElseThrow();
            assertTrue(readBytes >= READ_COUNT * 4096.0, "read bytes " + readBytes);
        }
    }

    @Test
    void theParserRefusesWhatPrometheusWouldRefuse() {
        assertThrows(IllegalArgumentException.class, () -> PrometheusText.parse("x_total 1\n"), "no TYPE");
        assertThrows(IllegalArgumentException.class, () -> PrometheusText.parse("# TYPE x counter\nx{a=\"1} 1\n"), "open quote");
        assertThrows(IllegalArgumentException.class, () -> PrometheusText.parse("# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n"),
                "not cumulative");
        assertThrows(IllegalArgumentException.class, () -> PrometheusText.parse("# TYPE g gauge\ng one\n"), "value");
        assertEquals(2.0, PrometheusText.parse("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 3\n")
                .value("h_count", Map.of()).orElseThrow());
    }

    private static String scrape(ApiServer server, String token) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(server.url() + "/metrics"))
                .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElseThrow().startsWith("text/plain"));
        return r.body();
    }
}
