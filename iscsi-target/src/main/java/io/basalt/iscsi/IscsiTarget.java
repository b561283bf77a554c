package io.basalt.iscsi;

import io.basalt.iscsi.pdu.PduDecoder;
import io.basalt.iscsi.pdu.PduEncoder;
import io.basalt.iscsi.pdu.PduLimits;
import io.basalt.iscsi.scsi.LunSource;
import io.basalt.iscsi.scsi.TargetLuns;
import io.basalt.iscsi.session.ChapCredentials;
import io.basalt.iscsi.session.Connection;
import io.basalt.iscsi.session.SessionListener;
import io.basalt.iscsi.session.SessionRegistry;
import io.basalt.iscsi.session.TargetConfig;
import io.basalt.iscsi.session.TargetDirectory;
import io.basalt.iscsi.session.TargetSettings;
import io.basalt.vdisk.BlockDevice;
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
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * An iSCSI target server: one portal (address and port) serving one or more targets, each with
 * LUNs backed by {@link BlockDevice}s shared by every session, or by {@link LunSource}s that open
 * a device per session, an optional initiator ACL and optional CHAP. The devices stay owned by
 * the caller: {@link #close()} stops serving them but does not close them (a source is told of
 * each session's end, as always). A {@link SessionListener} learns of sessions starting and ending.
 *
 * <pre>{@code
 * try (IscsiTarget t = IscsiTarget.builder().portal("127.0.0.1", 3260)
 *         .addTarget("iqn.2026-11.io.basalt:disk0", Map.of(0, device)).start()) { ... }
 * }</pre>
 */
public final class IscsiTarget implements AutoCloseable {

    /** RFC 7143 §4.2.7.4 iqn names, and eui./naa. names. */
    private static final Pattern NAME = Pattern.compile("(iqn\\.\\d{4}-\\d{2}(\\.[a-z0-9-]+)+(:.+)?|eui\\.[0-9A-F]{16}|naa\\.[0-9A-F]{16,32})");
    private static final int AHS_BYTES_MAX = 256;
    private static final int WRITE_BUFFER_LOW_BYTES = 1 << 20;
    private static final int WRITE_BUFFER_HIGH_BYTES = 4 << 20;
    private static final int FLUSHES_COALESCED_MAX = 64;

    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final Channel server;
    private final ChannelGroup connections;
    private final SessionRegistry registry;

    private IscsiTarget(EventLoopGroup boss, EventLoopGroup workers, Channel server, ChannelGroup connections, SessionRegistry registry) {
        this.boss = boss;
        this.workers = workers;
        this.server = server;
        this.connections = connections;
        this.registry = registry;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The bound address (the real port when the builder asked for port 0). */
    public InetSocketAddress localAddress() {
        return (InetSocketAddress) server.localAddress();
    }

    /** Asks every initiator to log out, stops accepting, closes every connection. */
    @Override
    public void close() {
        registry.all().forEach(Connection::requestLogout);
        server.close().syncUninterruptibly();
        connections.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
        boss.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    }

    /** Collects portal, targets and settings; {@link #start()} binds. */
    public static final class Builder {
        private String host = "127.0.0.1";
        private int port = 3260;
        private int threads = Math.max(2, Runtime.getRuntime().availableProcessors());
        private TargetSettings settings = TargetSettings.defaults();
        private ChapCredentials discoveryChap;
        private SessionListener sessionListener = SessionListener.NONE;
        private int portalGroupTag = 1;
        private final Map<String, TargetConfig> targets = new LinkedHashMap<>();

        public Builder portal(String host, int port) {
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port: " + port + " (expected: 0..65535)");
            }
            this.host = host;
            this.port = port;
            return this;
        }

        /**
         * The portal group tag of this portal (1 unless set): with the target name it names the SCSI
         * target port, so two processes serving one LUN under one target name are two target ports
         * (two I_T nexuses for one initiator port) when their tags differ.
         */
        public Builder portalGroupTag(int tag) {
            if (tag < 1 || tag > 0xffff) {
                throw new IllegalArgumentException("portal group tag: " + tag + " (expected: 1..65535)");
            }
            this.portalGroupTag = tag;
            return this;
        }

        public Builder threads(int threads) {
            if (threads < 1 || threads > 256) {
                throw new IllegalArgumentException("threads: " + threads + " (expected: 1..256)");
            }
            this.threads = threads;
            return this;
        }

        public Builder settings(TargetSettings settings) {
            this.settings = settings;
            return this;
        }

        public Builder discoveryChap(ChapCredentials chap) {
            this.discoveryChap = chap;
            return this;
        }

        /** Told when each initiator's session with any target of this portal starts and ends. */
        public Builder sessionListener(SessionListener listener) {
            if (listener == null) {
                throw new IllegalArgumentException("session listener: null (expected: a listener, or SessionListener.NONE)");
            }
            this.sessionListener = listener;
            return this;
        }

        /** A target open to every initiator, without authentication. */
        public Builder addTarget(String iqn, Map<Integer, BlockDevice> luns) {
            return addTarget(iqn, luns, Set.of(), null);
        }

        /**
         * @param allowedInitiators initiator names that may log in; empty allows all
         * @param chap credentials initiators must prove, or null for none
         */
        public Builder addTarget(String iqn, Map<Integer, BlockDevice> luns, Set<String> allowedInitiators, ChapCredentials chap) {
            return add(iqn, new TargetLuns(iqn, luns), allowedInitiators, chap);
        }

        /**
         * A target whose sessions each read and write a LUN through the device its source opens
         * for them (see {@link LunSource}).
         *
         * @param allowedInitiators initiator names that may log in; empty allows all
         * @param chap credentials initiators must prove, or null for none
         */
        public Builder addTargetWithSources(String iqn, Map<Integer, ? extends LunSource> luns, Set<String> allowedInitiators, ChapCredentials chap) {
            return add(iqn, TargetLuns.ofSources(iqn, luns), allowedInitiators, chap);
        }

        private Builder add(String iqn, TargetLuns luns, Set<String> allowedInitiators, ChapCredentials chap) {
            if (!NAME.matcher(iqn).matches()) {
                throw new IllegalArgumentException("target name: '" + iqn + "' (expected: iqn.yyyy-mm.reversed.domain[:id], eui. or naa.)");
            }
            if (targets.containsKey(iqn)) {
                throw new IllegalArgumentException("target name: " + iqn + " (expected: not already added)");
            }
            targets.put(iqn, new TargetConfig(luns, allowedInitiators, chap));
            return this;
        }

        public IscsiTarget start() {
            Directory directory = new Directory(Map.copyOf(targets), discoveryChap, portalGroupTag);
            SessionRegistry registry = new SessionRegistry();
            EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
            EventLoopGroup workers = new MultiThreadIoEventLoopGroup(threads, NioIoHandler.newFactory());
            ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
            TargetSettings s = settings;
            SessionListener listener = sessionListener;
            SecureRandom random = new SecureRandom();
            try {
                Channel server = new ServerBootstrap().group(boss, workers).channel(NioServerSocketChannel.class)
                        .childOption(ChannelOption.TCP_NODELAY, true)
                        .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(WRITE_BUFFER_LOW_BYTES, WRITE_BUFFER_HIGH_BYTES))
                        .childHandler(new ChannelInitializer<SocketChannel>() {
                            @Override
                            protected void initChannel(SocketChannel ch) {
                                connections.add(ch);
                                PduDecoder decoder = new PduDecoder(new PduLimits(s.maxRecvDataSegmentLength(), AHS_BYTES_MAX), true);
                                PduEncoder encoder = new PduEncoder();
                                // Completions arrive one by one from the devices; coalesce their flushes
                                // into one write syscall per event-loop turn.
                                ch.pipeline().addLast(new FlushConsolidationHandler(FLUSHES_COALESCED_MAX, true), decoder, encoder,
                                        new Connection(s, directory, registry, listener, decoder, encoder, random, System::nanoTime));
                            }
                        })
                        .bind(host, port).syncUninterruptibly().channel();
                return new IscsiTarget(boss, workers, server, connections, registry);
            } catch (RuntimeException e) {
                workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
                boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
                throw e;
            }
        }
    }

    private record Directory(Map<String, TargetConfig> targets, ChapCredentials discoveryChap, int portalGroupTag) implements TargetDirectory {
        @Override
        public TargetConfig find(String iqn) {
            return targets.get(iqn);
        }

        @Override
        public Collection<TargetConfig> all() {
            return targets.values().stream().sorted(java.util.Comparator.comparing(TargetConfig::name)).toList();
        }
    }
}
