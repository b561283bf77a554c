package io.basalt.host.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.nio.file.Path;

/** The QMP client against a scripted server: ids, events, errors, timeouts, a closing peer. */
class QmpTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    private FakeQemu fake(Function<JsonNode, List<String>> answer) throws Exception {
        return new FakeQemu(dir, answer);
    }

    @Test
    void negotiatesCapabilitiesBeforeAnyCommand() throws Exception {
        try (FakeQemu qemu = fake(r -> List.of(FakeQemu.ok(r, "{\"running\": true, \"status\": \"running\"}")));
             Qmp qmp = Qmp.connect(qemu.socket(), TIMEOUT)) {
            assertEquals(new StatusInfo(true, RunState.RUNNING), qmp.queryStatus());
            assertEquals("qmp_capabilities", qemu.requests().take().get("execute").asText());
            JsonNode query = qemu.requests().take();
            assertEquals("query-status", query.get("execute").asText());
            assertFalse(query.has("arguments"), "a command without arguments sends none: " + query);
        }
    }

    @Test
    void matchesRepliesToCallsByIdWhenAnsweredOutOfOrder() throws Exception {
        // The server holds the first query-status and answers both when the second arrives, newest first.
        List<JsonNode> held = new CopyOnWriteArrayList<>();
        try (FakeQemu qemu = fake(r -> {
                 held.add(r);
                 if (held.size() < 2) {
                     return List.of();
                 }
                 return List.of(FakeQemu.ok(held.get(1), "{\"running\": false, \"status\": \"paused\"}"),
                         FakeQemu.ok(held.get(0), "{\"running\": true, \"status\": \"running\"}"));
             });
             Qmp qmp = Qmp.connect(qemu.socket(), TIMEOUT)) {
            CompletableFuture<StatusInfo> first = CompletableFuture.supplyAsync(() -> call(qmp));
            while (held.isEmpty()) {
                Thread.sleep(5);
            }
            StatusInfo second = qmp.queryStatus();
            assertEquals(RunState.PAUSED, second.status());
            assertEquals(RunState.RUNNING, first.get(5, TimeUnit.SECONDS).status());
        }
    }

    private static StatusInfo call(Qmp qmp) {
        try {
            return qmp.queryStatus();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void deliversEventsWithDataAndTimestampToListeners() throws Exception {
        BlockingQueue<QmpEvent> events = new LinkedBlockingQueue<>();
        try (FakeQemu qemu = fake(r -> List.of(FakeQemu.ok(r, "{}"),
                     "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 250}, \"event\": \"STOP\"}"));
             Qmp qmp = Qmp.connect(qemu.socket(), TIMEOUT)) {
            qmp.onEvent(events::add);
            qmp.stop();
            QmpEvent stop = events.poll(5, TimeUnit.SECONDS);
            assertEquals("STOP", stop.name());
            assertTrue(stop.data().isEmpty(), "an event without data has an empty object: " + stop.data());
            assertEquals(Instant.ofEpochSecond(1700000000, 250_000), stop.timestamp());

            qemu.push("{\"timestamp\": {\"seconds\": 1700000001, \"microseconds\": 0}, \"event\": \"SHUTDOWN\","
                    + " \"data\": {\"guest\": true, \"reason\": \"guest-shutdown\"}}");
            QmpEvent shutdown = events.poll(5, TimeUnit.SECONDS);
            assertEquals("SHUTDOWN", shutdown.name());
            assertEquals("guest-shutdown", shutdown.data().get("reason").asText());
        }
    }

    @Test
    void errorReplyFailsTheCallNamingCommandClassAndDesc() throws Exception {
        try (FakeQemu qemu = fake(r -> List.of("{\"id\": " + r.get("id")
                     + ", \"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device 'cpu9' not found\"}}"));
             Qmp qmp = Qmp.connect(qemu.socket(), TIMEOUT)) {
            QmpException.CommandFailed e = assertThrows(QmpException.CommandFailed.class, () -> qmp.deviceDel("cpu9"));
            assertEquals("device_del", e.command());
            assertEquals("DeviceNotFound", e.errorClass());
            assertEquals("QMP device_del: DeviceNotFound: Device 'cpu9' not found", e.getMessage());
            assertTrue(qmp.isOpen(), "an error reply leaves the connection usable");
        }
    }

    @Test
    void callToASilentQemuTimesOutNamingCommandAndTimeout() throws Exception {
        try (FakeQemu qemu = fake(r -> List.of());
             Qmp qmp = Qmp.connect(qemu.socket(), Duration.ofMillis(300))) {
            long startNs = System.nanoTime();
            QmpException.TimedOut e = assertThrows(QmpException.TimedOut.class, qmp::cont);
            long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs);
            assertEquals("QMP cont: no reply within 300 ms (QEMU frozen or overloaded)", e.getMessage());
            assertTrue(tookMs >= 300 && tookMs < 3_000, "timed out after " + tookMs + " ms (expected: about 300)");
        }
    }

    @Test
    void lateReplyAfterATimeoutGoesToNoOtherCall() throws Exception {
        // The first query-migrate's reply arrives only with the second call's: each call gets its own.
        List<JsonNode> held = new CopyOnWriteArrayList<>();
        try (FakeQemu qemu = fake(r -> {
                 held.add(r);
                 return held.size() < 2 ? List.of() : List.of(
                         FakeQemu.ok(held.get(0), "{\"status\": \"failed\", \"error-desc\": \"stale\"}"),
                         FakeQemu.ok(held.get(1), "{\"status\": \"completed\", \"total-time\": 900, \"downtime\": 68,"
                                 + " \"setup-time\": 2, \"ram\": {\"transferred\": 1000, \"remaining\": 0}}"));
             });
             Qmp qmp = Qmp.connect(qemu.socket(), Duration.ofMillis(200))) {
            assertThrows(QmpException.TimedOut.class, qmp::queryMigrate);
            MigrationInfo info = qmp.queryMigrate();
            assertTrue(info.completed(), "got the reply to the second call: " + info);
            assertEquals(68, info.downtimeMs().getAsLong());
            assertEquals(900, info.totalTimeMs().getAsLong());
            assertEquals(1000, info.ramTransferredBytes().getAsLong());
            assertEquals(Optional.empty(), info.errorDesc());
        }
    }

    @Test
    void closedSocketFailsEveryPendingCallAndLaterOnes() throws Exception {
        try (FakeQemu qemu = fake(r -> List.of());
             Qmp qmp = Qmp.connect(qemu.socket(), Duration.ofSeconds(30))) {
            CompletableFuture<Throwable> pending = CompletableFuture.supplyAsync(() -> {
                try {
                    qmp.systemPowerdown();
                    return null;
                } catch (Exception e) {
                    return e;
                }
            });
            while (qemu.requests().size() < 2) { // qmp_capabilities and system_powerdown arrived
                Thread.sleep(5);
            }
            long startNs = System.nanoTime();
            qemu.hangUp();
            Throwable failure = pending.get(5, TimeUnit.SECONDS);
            assertTrue(failure instanceof QmpException.Closed, "pending call failed with " + failure);
            assertTrue(failure.getMessage().startsWith("QMP system_powerdown: connection closed by QEMU"), failure.getMessage());
            assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs) < 5_000, "failed at once, not at its 30 s timeout");
            assertFalse(qmp.isOpen());
            QmpException.Closed later = assertThrows(QmpException.Closed.class, qmp::quit);
            assertTrue(later.getMessage().startsWith("QMP quit: "), later.getMessage());
        }
    }

    @Test
    void typedCommandsSendQmpNamesAndArguments() throws Exception {
        try (FakeQemu qemu = fake(r -> List.of(FakeQemu.ok(r, "{}")));
             Qmp qmp = Qmp.connect(qemu.socket(), TIMEOUT)) {
            qemu.requests().take(); // qmp_capabilities
            qmp.migrateSetDowntimeLimit(Duration.ofMillis(300));
            assertRequest(qemu, "migrate-set-parameters", "{\"downtime-limit\":300}");
            qmp.migrateSetCapabilities(Map.of("events", true, "pause-before-switchover", false));
            assertRequest(qemu, "migrate-set-capabilities", "{\"capabilities\":[{\"capability\":\"events\",\"state\":true},"
                    + "{\"capability\":\"pause-before-switchover\",\"state\":false}]}");
            qmp.migrate("tcp:127.0.0.1:4444");
            assertRequest(qemu, "migrate", "{\"uri\":\"tcp:127.0.0.1:4444\"}");
            qmp.blockResize("disk0", 64L << 20);
            assertRequest(qemu, "block_resize", "{\"node-name\":\"disk0\",\"size\":67108864}");
            qmp.blockdevAdd(new java.util.LinkedHashMap<>(Map.of("driver", "file")));
            assertRequest(qemu, "blockdev-add", "{\"driver\":\"file\"}");
            qmp.blockdevDel("disk-s8");
            assertRequest(qemu, "blockdev-del", "{\"node-name\":\"disk-s8\"}");
            qmp.objectAdd("memory-backend-ram", "mem1", Map.of("size", 256L << 20));
            assertRequest(qemu, "object-add", "{\"size\":268435456,\"qom-type\":\"memory-backend-ram\",\"id\":\"mem1\"}");
            qmp.deviceAdd("pc-dimm", "dimm1", Map.of("memdev", "mem1"));
            assertRequest(qemu, "device_add", "{\"memdev\":\"mem1\",\"driver\":\"pc-dimm\",\"id\":\"dimm1\"}");
            qmp.quit();
            assertRequest(qemu, "quit", null);
        }
    }

    private static void assertRequest(FakeQemu qemu, String command, String argumentsJson) throws InterruptedException {
        JsonNode request = qemu.requests().poll(5, TimeUnit.SECONDS);
        assertEquals(command, request.get("execute").asText(), "request " + request);
        assertEquals(argumentsJson, request.has("arguments") ? request.get("arguments").toString() : null, "request " + request);
        assertTrue(request.get("id").isIntegralNumber(), "every request has a numeric id: " + request);
    }

    @Test
    void parsesHotpluggableCpus() throws Exception {
        String reply = "[{\"props\": {\"core-id\": 0, \"thread-id\": 0, \"socket-id\": 1}, \"vcpus-count\": 1, \"type\": \"qemu64-x86_64-cpu\"},"
                + " {\"props\": {\"core-id\": 0, \"thread-id\": 0, \"socket-id\": 0}, \"vcpus-count\": 1,"
                + " \"qom-path\": \"/machine/unattached/device[0]\", \"type\": \"qemu64-x86_64-cpu\"}]";
        try (FakeQemu qemu = fake(r -> List.of(FakeQemu.ok(r, reply)));
             Qmp qmp = Qmp.connect(qemu.socket(), TIMEOUT)) {
            List<HotpluggableCpu> cpus = qmp.queryHotpluggableCpus();
            assertEquals(2, cpus.size());
            assertFalse(cpus.get(0).plugged());
            assertEquals(Map.of("core-id", 0L, "thread-id", 0L, "socket-id", 1L), cpus.get(0).props());
            assertEquals(List.of("core-id", "socket-id", "thread-id"), List.copyOf(cpus.get(0).props().keySet()));
            assertEquals("qemu64-x86_64-cpu", cpus.get(1).type());
            assertEquals(Optional.of("/machine/unattached/device[0]"), cpus.get(1).qomPath());
        }
    }

    @Test
    void unknownRunStateIsAProtocolErrorNamingIt() throws Exception {
        try (FakeQemu qemu = fake(r -> List.of(FakeQemu.ok(r, "{\"running\": false, \"status\": \"napping\"}")));
             Qmp qmp = Qmp.connect(qemu.socket(), TIMEOUT)) {
            QmpException.Protocol e = assertThrows(QmpException.Protocol.class, qmp::queryStatus);
            assertTrue(e.getMessage().startsWith("QMP query-status: run state: napping (expected: one of [debug,"), e.getMessage());
        }
    }

    @Test
    void serverThatNeverGreetsFailsTheConnectNamingTheGreeting() throws Exception {
        try (java.nio.channels.ServerSocketChannel silent = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            Path socket = dir.resolve("silent.sock");
            silent.bind(java.net.UnixDomainSocketAddress.of(socket));
            QmpException.TimedOut e = assertThrows(QmpException.TimedOut.class, () -> Qmp.connect(socket, Duration.ofMillis(200)));
            assertEquals("QMP greeting: no reply within 200 ms (QEMU frozen or overloaded)", e.getMessage());
        }
    }
}
