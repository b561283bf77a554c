package io.basalt.replication.link;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslHandler;

/**
 * One TLS connection from a mirror client to a peer's server, used by one thread at a time: it
 * sends a message when the channel is writable (waiting at most the write stall limit, so the
 * send buffer stays bounded by Netty's high water mark), and takes the peer's messages from a
 * small bounded inbox; the protocol never has more than one answer outstanding, so a peer that
 * fills the inbox is broken and the connection is closed.
 */
final class ClientConnection implements AutoCloseable {
    static final int INBOX_MESSAGES_MAX = 4;
    static final int WRITE_BUFFER_LOW_BYTES = 1 << 20;
    static final int WRITE_BUFFER_HIGH_BYTES = 4 << 20;

    private final Channel channel;
    private final SslHandler ssl;
    private final BlockingQueue<LinkMessage> inbox = new ArrayBlockingQueue<>(INBOX_MESSAGES_MAX);
    private final Object writability = new Object();
    private volatile Throwable failure;

    private ClientConnection(Channel channel, SslHandler ssl) {
        this.channel = channel;
        this.ssl = ssl;
    }

    /** Connects and completes the TLS handshake. */
    static ClientConnection open(EventLoopGroup group, LinkTls tls, InetSocketAddress address, Duration timeout) throws IOException {
        ClientConnection[] made = new ClientConnection[1];
        ChannelFuture connect = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, Math.toIntExact(timeout.toMillis()))
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(WRITE_BUFFER_LOW_BYTES, WRITE_BUFFER_HIGH_BYTES))
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.MESSAGE_SIZE_ESTIMATOR, LinkCodec.SIZE_ESTIMATOR)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        SslHandler ssl = new SslHandler(tls.newEngine());
                        ssl.setHandshakeTimeoutMillis(timeout.toMillis());
                        made[0] = new ClientConnection(ch, ssl);
                        ch.pipeline().addLast(ssl, LinkCodec.frameDecoder(), new LinkCodec.Decoder(), new LinkCodec.Encoder(), made[0].new Inbox());
                    }
                })
                .connect(address);
        try {
            await(connect, timeout, "connect to " + address);
            // The initializer ran when the channel was registered, before the connect completed.
            await(made[0].ssl.handshakeFuture(), timeout, "TLS handshake with " + address);
            return made[0];
        } catch (IOException e) {
            // A connect that timed out may still be pending: close it, not leave it to complete unowned.
            connect.channel().close().syncUninterruptibly();
            throw e;
        }
    }

    SslHandler ssl() {
        return ssl;
    }

    InetSocketAddress remoteAddress() {
        return (InetSocketAddress) channel.remoteAddress();
    }

    /** Sends {@code m} once the channel is writable, waiting at most {@code stallMax} for the peer to read. */
    void send(LinkMessage m, Duration stallMax) throws IOException {
        long deadline = System.nanoTime() + stallMax.toNanos();
        synchronized (writability) {
            while (!channel.isWritable()) {
                checkOpen();
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new IOException("mirror link to " + channel.remoteAddress() + ": the peer read nothing for " + stallMax);
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(writability, Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while sending to " + channel.remoteAddress());
                }
            }
        }
        checkOpen();
        channel.writeAndFlush(m).addListener(f -> {
            if (!f.isSuccess()) {
                fail(f.cause());
            }
        });
    }

    /** The peer's next message, waiting at most {@code timeout}. */
    LinkMessage receive(Duration timeout, String expected) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            LinkMessage m;
            try {
                m = inbox.poll(Math.min(deadline - System.nanoTime(), TimeUnit.MILLISECONDS.toNanos(100)), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for " + expected + " from " + channel.remoteAddress());
            }
            if (m != null) {
                return m;
            }
            if (failure != null || !channel.isActive()) {
                LinkMessage last = inbox.poll(); // what the peer said before it closed (a refusal) comes first
                if (last != null) {
                    return last;
                }
                checkOpen();
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new IOException("mirror link to " + channel.remoteAddress() + ": no " + expected + " within " + timeout);
            }
        }
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
    }

    private void checkOpen() throws IOException {
        Throwable f = failure;
        if (f != null || !channel.isActive()) {
            throw new IOException("mirror link to " + channel.remoteAddress() + " lost" + (f == null ? "" : ": " + f), f);
        }
    }

    private void fail(Throwable cause) {
        if (failure == null) {
            failure = cause;
        }
        channel.close();
        wakeWriters();
    }

    private void wakeWriters() {
        synchronized (writability) {
            writability.notifyAll();
        }
    }

    private static void await(io.netty.util.concurrent.Future<?> f, Duration timeout, String what) throws IOException {
        try {
            if (!f.await(timeout.toMillis())) {
                throw new IOException(what + ": no answer within " + timeout);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException(what + ": interrupted");
        }
        if (!f.isSuccess()) {
            throw new IOException(what + ": " + f.cause(), f.cause());
        }
    }

    /** The end of the pipeline: messages into the inbox, writability and loss to the waiting thread. */
    private final class Inbox extends SimpleChannelInboundHandler<LinkMessage> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, LinkMessage m) {
            if (!inbox.offer(m)) {
                fail(new IOException("peer sent " + INBOX_MESSAGES_MAX + " messages unanswered (expected: one answer at a time)"));
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            wakeWriters();
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            wakeWriters();
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            fail(cause);
        }
    }
}
