package io.basalt.host.qmp;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A client of one QEMU's QMP socket (QEMU's docs/interop/qmp-spec): reads the greeting,
 * negotiates capabilities, then sends commands, each with its own id, and matches the replies by
 * id, so several threads may call at once. Asynchronous events go to the listeners.
 *
 * <p>Every call has a timeout: a frozen QEMU makes a call fail with {@link QmpException.TimedOut}
 * naming the command, never hang. When the connection ends (QEMU exits, {@link #close}), every
 * pending call fails with {@link QmpException.Closed} at once.
 *
 * <p>Owns the socket and one reader thread, which parses each line QEMU sends and completes the
 * call or runs the listeners. Listeners run on that thread: they must be quick and not call QMP
 * (the reply they would wait for is read by the thread they block). A listener that throws ends
 * the connection: an event lost to a broken listener must not go unnoticed.
 */
public final class Qmp implements AutoCloseable {
    /** What a call waits for its reply unless told otherwise; QEMU answers in well under a second. */
    public static final Duration CALL_TIMEOUT_DEFAULT = Duration.ofSeconds(5);
    /** Longest line QEMU may send; a reply bigger than this is a broken peer, not a big answer. */
    public static final int MESSAGE_BYTES_MAX = 8 << 20;

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String GREETING = "greeting";

    private final Path socket;
    private final SocketChannel channel;
    private final Duration callTimeout;
    private final Object writeLock = new Object();
    private final AtomicLong idNext = new AtomicLong(1);
    private final ConcurrentHashMap<Long, Call> calls = new ConcurrentHashMap<>();
    private final CopyOnWriteArrayList<Consumer<QmpEvent>> listeners = new CopyOnWriteArrayList<>();
    private final CompletableFuture<JsonNode> greeting = new CompletableFuture<>();
    private final Thread reader;
    /** Why the connection ended; null while it is open. Set before the pending calls are failed. */
    private volatile String endReason;

    private record Call(String command, CompletableFuture<JsonNode> reply) {}

    private Qmp(Path socket, SocketChannel channel, Duration callTimeout) {
        this.socket = socket;
        this.channel = channel;
        this.callTimeout = callTimeout;
        this.reader = Thread.ofPlatform().daemon().name("qmp-" + socket.getFileName()).unstarted(this::readLoop);
    }

    /**
     * Connects to QEMU's QMP socket, waits for the greeting and negotiates capabilities (none
     * enabled), each within {@code callTimeout}, which also becomes the default for every call.
     */
    public static Qmp connect(Path socket, Duration callTimeout) throws IOException, InterruptedException {
        Objects.requireNonNull(socket, "socket");
        if (callTimeout.isNegative() || callTimeout.isZero()) {
            throw new IllegalArgumentException("callTimeout: " + callTimeout + " (expected: > 0)");
        }
        SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            channel.connect(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            channel.close();
            throw new IOException("QMP socket " + socket + ": " + e.getMessage(), e);
        }
        Qmp qmp = new Qmp(socket, channel, callTimeout);
        qmp.reader.start();
        try {
            qmp.await(GREETING, qmp.greeting, callTimeout);
            qmp.execute("qmp_capabilities", null, callTimeout);
            return qmp;
        } catch (IOException | InterruptedException | RuntimeException e) {
            qmp.close();
            throw e;
        }
    }

    /** The socket this client talks to. */
    public Path socket() {
        return socket;
    }

    /** Adds a listener for every event; closing the returned handle removes it. */
    public AutoCloseable onEvent(Consumer<QmpEvent> listener) {
        Objects.requireNonNull(listener, "listener");
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    /** True until the connection ended. */
    public boolean isOpen() {
        return endReason == null;
    }

    /** Runs {@code command} with the default timeout; {@code arguments} may be null. Returns QMP's {@code return} value. */
    public JsonNode execute(String command, ObjectNode arguments) throws QmpException, InterruptedException {
        return execute(command, arguments, callTimeout);
    }

    /** Runs {@code command}, waiting at most {@code timeout} for its reply. */
    public JsonNode execute(String command, ObjectNode arguments, Duration timeout) throws QmpException, InterruptedException {
        long id = idNext.getAndIncrement();
        Call call = new Call(command, new CompletableFuture<>());
        calls.put(id, call);
        // The reader fails the calls it finds after setting endReason; a call registered after
        // that pass is failed here, so none waits out its timeout on a dead connection.
        String ended = endReason;
        if (ended != null) {
            calls.remove(id);
            throw new QmpException.Closed(command, ended);
        }
        ObjectNode request = JSON.createObjectNode().put("execute", command);
        if (arguments != null && !arguments.isEmpty()) {
            request.set("arguments", arguments);
        }
        request.put("id", id);
        try {
            send(request);
        } catch (IOException e) {
            calls.remove(id);
            throw new QmpException.Closed(command, "write to " + socket + " failed: " + e.getMessage());
        }
        try {
            return await(command, call.reply, timeout);
        } finally {
            calls.remove(id);
        }
    }

    private JsonNode await(String command, CompletableFuture<JsonNode> reply, Duration timeout)
            throws QmpException, InterruptedException {
        try {
            return reply.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new QmpException.TimedOut(command, timeout);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof QmpException q) {
                throw q;
            }
            throw new IllegalStateException("QMP " + command + ": unexpected failure", e.getCause());
        }
    }

    private void send(ObjectNode request) throws IOException {
        byte[] line = (JSON.writeValueAsString(request) + "\n").getBytes(StandardCharsets.UTF_8);
        ByteBuffer buffer = ByteBuffer.wrap(line);
        // A request is under a kilobyte and each caller waits for its reply, so the socket's
        // buffer (hundreds of KB) only fills if thousands of calls time out against a frozen QEMU.
        synchronized (writeLock) {
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
        }
    }

    // ---- typed commands (names and arguments per QEMU's qapi/*.json) ----

    /** {@code query-status}: running, paused, inmigrate, ... */
    public StatusInfo queryStatus() throws QmpException, InterruptedException {
        String command = "query-status";
        JsonNode reply = execute(command, null);
        return new StatusInfo(reply.path("running").asBoolean(), RunState.of(command, text(command, reply, "status")));
    }

    /** {@code stop}: pauses the vCPUs (event STOP). */
    public void stop() throws QmpException, InterruptedException {
        execute("stop", null);
    }

    /** {@code cont}: resumes the vCPUs (event RESUME). */
    public void cont() throws QmpException, InterruptedException {
        execute("cont", null);
    }

    /** {@code system_powerdown}: presses the ACPI power button (event POWERDOWN); the guest may ignore it. */
    public void systemPowerdown() throws QmpException, InterruptedException {
        execute("system_powerdown", null);
    }

    /** {@code quit}: QEMU exits at once (event SHUTDOWN, reason host-qmp-quit), the guest unwarned. */
    public void quit() throws QmpException, InterruptedException {
        execute("quit", null);
    }

    /** {@code query-migrate}. */
    public MigrationInfo queryMigrate() throws QmpException, InterruptedException {
        JsonNode reply = execute("query-migrate", null);
        JsonNode ram = reply.path("ram");
        return new MigrationInfo(reply.path("status").asText("none"),
                optionalLong(reply, "total-time"), optionalLong(reply, "downtime"),
                optionalLong(reply, "expected-downtime"), optionalLong(reply, "setup-time"),
                optionalLong(ram, "transferred"), optionalLong(ram, "remaining"),
                reply.hasNonNull("error-desc") ? Optional.of(reply.get("error-desc").asText()) : Optional.empty());
    }

    /** {@code migrate}: starts an outgoing migration to {@code uri} (e.g. {@code tcp:HOST:PORT}); returns at once. */
    public void migrate(String uri) throws QmpException, InterruptedException {
        execute("migrate", JSON.createObjectNode().put("uri", uri));
    }

    /** {@code migrate-set-capabilities}: e.g. {@code events}, {@code pause-before-switchover}, each on or off. */
    public void migrateSetCapabilities(Map<String, Boolean> capabilities) throws QmpException, InterruptedException {
        ArrayNode list = JSON.createArrayNode();
        new TreeMap<>(capabilities).forEach((name, state) -> list.addObject().put("capability", name).put("state", state));
        ObjectNode arguments = JSON.createObjectNode();
        arguments.set("capabilities", list);
        execute("migrate-set-capabilities", arguments);
    }

    /** {@code migrate-set-parameters} with {@code downtime-limit}: the longest pause QEMU plans for at switch-over. */
    public void migrateSetDowntimeLimit(Duration limit) throws QmpException, InterruptedException {
        execute("migrate-set-parameters", JSON.createObjectNode().put("downtime-limit", limit.toMillis()));
    }

    /** {@code block_resize} of the block node (a {@code -blockdev}'s node-name) named {@code nodeName}. */
    public void blockResize(String nodeName, long sizeBytes) throws QmpException, InterruptedException {
        execute("block_resize", JSON.createObjectNode().put("node-name", nodeName).put("size", sizeBytes));
    }

    /** {@code blockdev-add}: a block node with its options ({@code driver}, {@code node-name} and the driver's own). */
    public void blockdevAdd(Map<String, ?> options) throws QmpException, InterruptedException {
        execute("blockdev-add", JSON.valueToTree(options));
    }

    /** {@code blockdev-del}: closes a block node {@code blockdev-add} made, once no device uses it. */
    public void blockdevDel(String nodeName) throws QmpException, InterruptedException {
        execute("blockdev-del", JSON.createObjectNode().put("node-name", nodeName));
    }

    /** {@code device_add}: {@code driver} with {@code id} and the device's properties (strings, numbers, booleans). */
    public void deviceAdd(String driver, String id, Map<String, ?> properties) throws QmpException, InterruptedException {
        ObjectNode arguments = JSON.valueToTree(new TreeMap<>(properties));
        arguments.put("driver", driver).put("id", id);
        execute("device_add", arguments);
    }

    /** {@code device_del}: asks the guest to release the device; QEMU emits DEVICE_DELETED when it did. */
    public void deviceDel(String id) throws QmpException, InterruptedException {
        execute("device_del", JSON.createObjectNode().put("id", id));
    }

    /** {@code query-hotpluggable-cpus}: every CPU slot, plugged or not. */
    public List<HotpluggableCpu> queryHotpluggableCpus() throws QmpException, InterruptedException {
        String command = "query-hotpluggable-cpus";
        JsonNode reply = execute(command, null);
        List<HotpluggableCpu> cpus = new ArrayList<>();
        for (JsonNode cpu : reply) {
            Map<String, Long> props = new TreeMap<>();
            cpu.path("props").properties().forEach(e -> props.put(e.getKey(), e.getValue().asLong()));
            cpus.add(new HotpluggableCpu(text(command, cpu, "type"), cpu.path("vcpus-count").asInt(), props,
                    cpu.hasNonNull("qom-path") ? Optional.of(cpu.get("qom-path").asText()) : Optional.empty()));
        }
        return cpus;
    }

    /** {@code object-add}: a QOM object (e.g. {@code memory-backend-ram} with {@code size}) with its properties. */
    public void objectAdd(String qomType, String id, Map<String, ?> properties) throws QmpException, InterruptedException {
        ObjectNode arguments = JSON.valueToTree(new TreeMap<>(properties));
        arguments.put("qom-type", qomType).put("id", id);
        execute("object-add", arguments);
    }

    private static String text(String command, JsonNode reply, String field) throws QmpException.Protocol {
        JsonNode value = reply.get(field);
        if (value == null || !value.isTextual()) {
            throw new QmpException.Protocol(command, "reply without text field " + field + ": " + reply);
        }
        return value.asText();
    }

    private static OptionalLong optionalLong(JsonNode node, String field) {
        JsonNode value = node.get(field);
        return value != null && value.isIntegralNumber() ? OptionalLong.of(value.asLong()) : OptionalLong.empty();
    }

    // ---- the reader ----

    private void readLoop() {
        String reason;
        try {
            reason = readUntilEnd();
        } catch (ClosedChannelException e) { // closed by close(), also while reading
            reason = "connection to " + socket + " closed";
        } catch (QmpException.Protocol e) {
            reason = e.getMessage();
        } catch (IOException e) {
            reason = "read from " + socket + " failed: " + e.getMessage();
        } catch (RuntimeException e) {
            reason = "reader failed (a listener threw?): " + e;
        }
        end(reason);
    }

    /** Reads lines until QEMU closes the socket; returns why it ended. */
    private String readUntilEnd() throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(64 << 10);
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (true) {
            buffer.clear();
            int read = channel.read(buffer);
            if (read < 0) {
                return "connection closed by QEMU (socket " + socket + ")";
            }
            for (int i = 0; i < read; i++) {
                byte b = buffer.get(i);
                if (b != '\n') {
                    line.write(b);
                    if (line.size() > MESSAGE_BYTES_MAX) {
                        throw new QmpException.Protocol("read", "message over " + MESSAGE_BYTES_MAX + " bytes");
                    }
                    continue;
                }
                dispatch(line.toString(StandardCharsets.UTF_8).strip());
                line.reset();
            }
        }
    }

    private void dispatch(String line) throws QmpException.Protocol {
        if (line.isEmpty()) {
            return;
        }
        JsonNode message;
        try {
            message = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new QmpException.Protocol("read", "not JSON: " + abbreviate(line));
        }
        if (message.has("QMP")) {
            greeting.complete(message.get("QMP"));
        } else if (message.has("event")) {
            deliver(message);
        } else if (message.has("return") || message.has("error")) {
            reply(message);
        } else {
            throw new QmpException.Protocol("read", "neither greeting, event nor reply: " + abbreviate(line));
        }
    }

    private void deliver(JsonNode message) {
        JsonNode stamp = message.path("timestamp");
        Instant timestamp = Instant.ofEpochSecond(stamp.path("seconds").asLong(), stamp.path("microseconds").asLong() * 1000);
        JsonNode data = message.has("data") ? message.get("data") : JSON.createObjectNode();
        QmpEvent event = new QmpEvent(message.get("event").asText(), data, timestamp);
        for (Consumer<QmpEvent> listener : listeners) {
            listener.accept(event);
        }
    }

    private void reply(JsonNode message) throws QmpException.Protocol {
        JsonNode id = message.get("id");
        if (id == null || !id.canConvertToLong()) {
            // We send every command with a numeric id; QEMU omits it only for input it could not parse.
            throw new QmpException.Protocol("read", "reply without our id: " + abbreviate(message.toString()));
        }
        Call call = calls.remove(id.asLong());
        if (call == null) {
            return; // The caller timed out and left; its late reply has no one to go to.
        }
        JsonNode error = message.get("error");
        if (error != null) {
            call.reply.completeExceptionally(new QmpException.CommandFailed(call.command,
                    error.path("class").asText("?"), error.path("desc").asText("?")));
        } else {
            call.reply.complete(message.get("return"));
        }
    }

    private void end(String reason) {
        endReason = reason;
        greeting.completeExceptionally(new QmpException.Closed(GREETING, reason));
        for (Long id : List.copyOf(calls.keySet())) {
            Call call = calls.remove(id);
            if (call != null) {
                call.reply.completeExceptionally(new QmpException.Closed(call.command, reason));
            }
        }
        try {
            channel.close();
        } catch (IOException e) {
            // Nothing left to release: the connection is over either way.
        }
    }

    private static String abbreviate(String text) {
        return text.length() <= 200 ? text : text.substring(0, 200) + "...";
    }

    /** Closes the socket; pending calls fail with {@link QmpException.Closed}. Waits for the reader to finish. */
    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            // The reader ends on the closed channel whatever close reported.
        }
        try {
            reader.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
