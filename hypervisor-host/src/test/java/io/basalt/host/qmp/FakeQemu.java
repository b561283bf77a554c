package io.basalt.host.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Function;

/**
 * A QMP server on a unix socket that speaks as scripted: sends a greeting, answers
 * {@code qmp_capabilities}, and hands every later request to {@code answer}, which returns the
 * lines to send back (replies, events, or nothing for a QEMU that stays silent). Records every
 * request it received.
 */
final class FakeQemu implements AutoCloseable {
    static final String GREETING = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path socket;
    private final ServerSocketChannel server;
    private final Thread thread;
    private final BlockingQueue<JsonNode> requests = new LinkedBlockingQueue<>();
    private volatile SocketChannel client;

    FakeQemu(Path dir, Function<JsonNode, List<String>> answer) throws IOException {
        this.socket = dir.resolve("fake-qmp.sock");
        Files.deleteIfExists(socket);
        this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        this.thread = Thread.ofPlatform().daemon().name("fake-qemu").start(() -> serve(answer));
    }

    Path socket() {
        return socket;
    }

    BlockingQueue<JsonNode> requests() {
        return requests;
    }

    /** A QMP success reply to {@code request}. */
    static String ok(JsonNode request, String returnJson) {
        return "{\"return\": " + returnJson + ", \"id\": " + request.get("id") + "}";
    }

    private void serve(Function<JsonNode, List<String>> answer) {
        try (SocketChannel channel = server.accept()) {
            client = channel;
            send(channel, GREETING);
            for (String line = readLine(channel); line != null; line = readLine(channel)) {
                JsonNode request = JSON.readTree(line);
                requests.add(request);
                List<String> lines = request.path("execute").asText().equals("qmp_capabilities")
                        ? List.of(ok(request, "{}")) : answer.apply(request);
                for (String reply : lines) {
                    send(channel, reply);
                }
            }
        } catch (IOException e) {
            // The test closed the fake or the client: the conversation is over.
        }
    }

    /** One line, read byte by byte (the channel itself, not a stream over it, so pushes from another thread never wait on the reader). */
    private static String readLine(SocketChannel channel) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        ByteBuffer one = ByteBuffer.allocate(1);
        while (true) {
            one.clear();
            if (channel.read(one) < 0) {
                return null;
            }
            if (one.get(0) == '\n') {
                return line.toString(StandardCharsets.UTF_8);
            }
            line.write(one.get(0));
        }
    }

    /** Sends a line QEMU-style (CRLF) from outside a request, e.g. an event. */
    void push(String line) throws IOException {
        send(client, line);
    }

    private static synchronized void send(SocketChannel channel, String line) throws IOException {
        ByteBuffer bytes = ByteBuffer.wrap((line + "\r\n").getBytes(StandardCharsets.UTF_8));
        while (bytes.hasRemaining()) {
            channel.write(bytes);
        }
    }

    /** Closes the connection as a QEMU that exits would. */
    void hangUp() throws IOException {
        SocketChannel channel = client;
        if (channel != null) {
            channel.close();
        }
    }

    @Override
    public void close() throws Exception {
        hangUp();
        server.close();
        thread.join(5_000);
        Files.deleteIfExists(socket);
    }
}
