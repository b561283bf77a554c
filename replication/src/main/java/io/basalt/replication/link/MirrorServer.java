package io.basalt.replication.link;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.basalt.replication.MirrorReceiver;
import io.basalt.vdisk.store.VdiskStore;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.GlobalEventExecutor;

/**
 * The secondary site's end of the mirror link: listens for peer sites, authenticates each
 * connection ({@link LinkProof} over TLS 1.3), and receives the rounds they ship into read-only
 * replicas in {@code store}. A round is staged whole ({@link StagingArea}) before it is applied
 * once, so the replica stays at its last complete snapshot until the round's end frame checked
 * out, and a cut round resumes where its staged frames end. One round per replica at a time.
 *
 * <p>Owns its threads and sockets ({@link #close()} stops them), not the store. Who may connect
 * is {@link Config#peers()}: a site id and its shared secret; this class stores no configuration.
 */
public final class MirrorServer implements AutoCloseable {
    /** A connection that sends nothing for this long (outside an apply) is closed. */
    static final Duration IDLE_TIMEOUT = Duration.ofSeconds(120);
    static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);
    /** Rounds applied at once across all replicas; a round waits for its turn with its connection paused. */
    static final int APPLIES_CONCURRENT_MAX = 2;
    /** How long {@link #close()} waits for applies under way (a round of a large vdisk takes seconds to minutes). */
    static final Duration APPLY_CLOSE_WAIT = Duration.ofMinutes(5);
    static final int WRITE_BUFFER_LOW_BYTES = 1 << 20;
    static final int WRITE_BUFFER_HIGH_BYTES = 4 << 20;

    /** The peers allowed to connect: their secrets by site id (the configuration store answers this). */
    @FunctionalInterface
    public interface PeerSecrets {
        Optional<LinkSecret> secretOf(String siteId);
    }

    /** What happened to rounds and connections, for status and tests; called on the server's threads, must not block. */
    public interface Listener {
        default void applied(String peerSite, MirrorReceiver.Result result) {}

        default void refused(SocketAddress peer, String reason, String message) {}
    }

    /**
     * Answers a peer's {@link LinkMessage.Call} (a failover's demotion, a failback's question):
     * called on an apply thread, may block (a demotion ships a last round back). An
     * {@link IllegalArgumentException} or {@link IllegalStateException} is refused to the caller
     * with its message.
     */
    @FunctionalInterface
    public interface CallHandler {
        String call(String peerSite, String op, String body);

        CallHandler NONE = (peer, op, body) -> {
            throw new IllegalArgumentException("call " + op + ": this site answers no calls");
        };
    }

    /**
     * @param bind       where to listen (port 0: any free port, see {@link #localAddress()})
     * @param siteId     this site's id, told to peers in the hello
     * @param stagingDir where partly received rounds wait (one file per replica being received)
     */
    public record Config(InetSocketAddress bind, String siteId, io.basalt.replication.MirrorStore store, Path stagingDir, PeerSecrets peers,
                         Listener listener, CallHandler calls) {
        public Config(InetSocketAddress bind, String siteId, VdiskStore store, Path stagingDir, PeerSecrets peers, Listener listener,
                      CallHandler calls) {
            this(bind, siteId, io.basalt.replication.MirrorStore.of(store), stagingDir, peers, listener, calls);
        }

        public Config(InetSocketAddress bind, String siteId, VdiskStore store, Path stagingDir, PeerSecrets peers, Listener listener) {
            this(bind, siteId, store, stagingDir, peers, listener, CallHandler.NONE);
        }

        public Config(InetSocketAddress bind, String siteId, VdiskStore store, Path stagingDir, PeerSecrets peers) {
            this(bind, siteId, store, stagingDir, peers, new Listener() {});
        }
    }

    /** What every connection's session shares. */
    record Shared(String siteId, MirrorReceiver receiver, StagingArea staging, PeerSecrets peers, Listener listener, CallHandler calls,
                  ConcurrentHashMap<String, ServerSession> receiving, Set<String> held, ExecutorService applies, SecureRandom random) {}

    /** How long {@link #withoutRounds} waits for a round under way to finish applying. */
    static final Duration HOLD_WAIT = Duration.ofSeconds(30);

    private final Shared shared;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final ExecutorService applies;
    private final Channel server;
    private final ChannelGroup connections;

    private MirrorServer(Shared shared, EventLoopGroup boss, EventLoopGroup workers, ExecutorService applies, Channel server, ChannelGroup connections) {
        this.shared = shared;
        this.boss = boss;
        this.workers = workers;
        this.applies = applies;
        this.server = server;
        this.connections = connections;
    }

    public static MirrorServer start(Config config) {
        SecureRandom random = new SecureRandom();
        LinkTls tls = LinkTls.server(config.siteId(), random);
        AtomicInteger applyThreads = new AtomicInteger();
        ExecutorService applies = Executors.newFixedThreadPool(APPLIES_CONCURRENT_MAX, r -> {
            Thread t = new Thread(r, "mirror-apply-" + applyThreads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        Shared shared = new Shared(config.siteId(), new MirrorReceiver(config.store()), new StagingArea(config.stagingDir()),
                config.peers(), config.listener(), config.calls(), new ConcurrentHashMap<>(), ConcurrentHashMap.newKeySet(), applies, random);
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        ChannelGroup connections = new DefaultChannelGroup("mirror-server", GlobalEventExecutor.INSTANCE);
        try {
            Channel server = new ServerBootstrap().group(boss, workers).channel(NioServerSocketChannel.class)
                    .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(WRITE_BUFFER_LOW_BYTES, WRITE_BUFFER_HIGH_BYTES))
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childOption(ChannelOption.MESSAGE_SIZE_ESTIMATOR, LinkCodec.SIZE_ESTIMATOR)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            connections.add(ch);
                            SslHandler ssl = new SslHandler(tls.newEngine());
                            ssl.setHandshakeTimeoutMillis(HANDSHAKE_TIMEOUT.toMillis());
                            LinkCodec.HandshakeLimitedFrameDecoder frames = new LinkCodec.HandshakeLimitedFrameDecoder();
                            ch.pipeline().addLast(ssl, new IdleStateHandler(IDLE_TIMEOUT.toSeconds(), 0, 0, TimeUnit.SECONDS),
                                    frames, new LinkCodec.Decoder(), new LinkCodec.Encoder(), new ServerSession(shared, ssl, frames));
                        }
                    })
                    .bind(config.bind()).syncUninterruptibly().channel();
            return new MirrorServer(shared, boss, workers, applies, server, connections);
        } catch (RuntimeException e) {
            shutdown(boss, workers, applies);
            throw new IllegalStateException("mirror server of site " + config.siteId() + " cannot listen on " + config.bind() + ": " + e, e);
        }
    }

    /**
     * Runs {@code action} while no round is received into or applied to replica {@code replica}
     * (a promotion must not race an apply, whose commit would mark the vdisk a replica again):
     * rounds asked for meanwhile are refused BUSY (the peer retries). Waits up to
     * {@link #HOLD_WAIT} for a round under way.
     *
     * @throws IllegalStateException a round was still under way after the wait, or another action holds the replica
     */
    public <T> T withoutRounds(String replica, java.util.function.Supplier<T> action) {
        if (!shared.held().add(replica)) {
            throw new IllegalStateException("replica " + replica + ": another failover or failback holds it; try again");
        }
        try {
            long deadline = System.nanoTime() + HOLD_WAIT.toNanos();
            // A session adds itself to receiving before it looks at held: once held is set, a round is either refused or seen here.
            while (shared.receiving().containsKey(replica)) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("replica " + replica + ": a round is still being received or applied after "
                            + HOLD_WAIT + "; try again");
                }
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted waiting for a round of replica " + replica, e);
                }
            }
            return action.get();
        } finally {
            shared.held().remove(replica);
        }
    }

    /** The bound address (the real port when asked for port 0). */
    public InetSocketAddress localAddress() {
        return (InetSocketAddress) server.localAddress();
    }

    /** Stops listening, closes every connection and waits for applies under way to end. */
    @Override
    public void close() {
        server.close().syncUninterruptibly();
        connections.close().syncUninterruptibly();
        shutdown(boss, workers, applies);
    }

    /** Applies first: an apply holds the replica's writer (the store must not close under it) and answers on the event loop. */
    private static void shutdown(EventLoopGroup boss, EventLoopGroup workers, ExecutorService applies) {
        applies.shutdown();
        try {
            if (!applies.awaitTermination(APPLY_CLOSE_WAIT.toSeconds(), TimeUnit.SECONDS)) {
                throw new IllegalStateException("mirror applies still running " + APPLY_CLOSE_WAIT + " after close");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
            workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
