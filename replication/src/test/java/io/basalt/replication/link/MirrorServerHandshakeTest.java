package io.basalt.replication.link;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.vdisk.store.VdiskStore;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;

/** What a mirror server takes from a peer that has not proved the secret yet. */
class MirrorServerHandshakeTest {
    private static final Duration WAIT = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    @Test
    void aHandshakeMessageAboveTheLimitClosesTheConnectionUnansweredWhileAShortOneIsRefused() throws IOException {
        List<String> refusals = new CopyOnWriteArrayList<>();
        MirrorServer.Listener listener = new MirrorServer.Listener() {
            @Override
            public void refused(SocketAddress peer, String reason, String message) {
                refusals.add(reason);
            }
        };
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try (VdiskStore store = VdiskStore.open(dir.resolve("b"), new VdiskStore.Options(64L << 20, 2, 0));
             MirrorServer server = MirrorServer.start(new MirrorServer.Config(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                     "site-b", store, dir.resolve("staging"), site -> Optional.empty(), listener))) {
            LinkTls tls = LinkTls.client(new SecureRandom());
            try (ClientConnection c = ClientConnection.open(group, tls, server.localAddress(), WAIT)) {
                c.send(hello("stranger"), WAIT);
                assertEquals(new LinkMessage.Refused(LinkCodec.AUTHENTICATION, "authentication failed"), c.receive(WAIT, "a refusal"));
            }
            try (ClientConnection c = ClientConnection.open(group, tls, server.localAddress(), WAIT)) {
                c.send(hello("x".repeat(LinkCodec.HANDSHAKE_BODY_BYTES_MAX)), WAIT);
                IOException e = assertThrows(IOException.class, () -> c.receive(WAIT, "nothing"));
                assertTrue(e.getMessage().contains("lost"), e.getMessage());
            }
            assertEquals(List.of(LinkCodec.AUTHENTICATION), refusals, "the long hello never reached the session");
        } finally {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private static LinkMessage.Hello hello(String site) {
        return new LinkMessage.Hello(LinkCodec.PROTOCOL_VERSION, site, ByteBuffer.allocate(LinkProof.NONCE_BYTES));
    }
}
