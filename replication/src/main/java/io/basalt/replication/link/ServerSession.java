package io.basalt.replication.link;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.concurrent.RejectedExecutionException;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.basalt.replication.MirrorReceiver;
import io.basalt.replication.stream.MirrorException;
import io.basalt.replication.stream.MirrorFrame;
import io.basalt.replication.stream.MirrorFrameCodec;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;

/**
 * One connection to the mirror server, as a state machine run on its event loop: the hello, the
 * peer's proof, then rounds. A round's frames are staged as they come (an append to a file: the
 * event loop reads the next bytes only after it, which is the back-pressure towards the sender);
 * once the end frame is staged, reading stops and the round is applied on an apply thread, then
 * answered. Nothing reaches the replica before the peer proved the secret and the round's end
 * frame arrived.
 */
final class ServerSession extends SimpleChannelInboundHandler<LinkMessage> {
    private static final Logger log = LoggerFactory.getLogger(MirrorServer.class);

    enum State { HELLO, PROOF, READY, RECEIVING, APPLYING, CLOSED }

    private final MirrorServer.Shared shared;
    private final SslHandler ssl;
    private final LinkCodec.HandshakeLimitedFrameDecoder frames;
    private Channel channel;
    /** Read by other connections' {@link #closeIfReceiving}. */
    private volatile State state = State.HELLO;
    /** From the end frame until the apply thread is done with the part: the event loop leaves the part alone meanwhile. */
    private volatile boolean applying;
    private String peerSite;
    private LinkSecret secret;
    private byte[] clientNonce;
    private byte[] serverNonce;
    private StagingArea.Part part;

    ServerSession(MirrorServer.Shared shared, SslHandler ssl, LinkCodec.HandshakeLimitedFrameDecoder frames) {
        this.shared = shared;
        this.ssl = ssl;
        this.frames = frames;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, LinkMessage m) {
        switch (state) {
            case HELLO -> hello(ctx, m);
            case PROOF -> proof(ctx, m);
            case READY -> request(ctx, m);
            case RECEIVING -> frame(ctx, m);
            case APPLYING, CLOSED -> protocolError(ctx, m, "nothing while a round is applied");
        }
    }

    private void hello(ChannelHandlerContext ctx, LinkMessage m) {
        if (!(m instanceof LinkMessage.Hello h)) {
            protocolError(ctx, m, "a hello");
            return;
        }
        if (h.protocolVersion() != LinkCodec.PROTOCOL_VERSION) {
            refuseAndClose(ctx, LinkCodec.PROTOCOL, "link protocol version: " + h.protocolVersion() + " (expected: " + LinkCodec.PROTOCOL_VERSION + ")");
            return;
        }
        peerSite = h.siteId();
        Optional<LinkSecret> s = shared.peers().secretOf(peerSite);
        if (s.isEmpty()) {
            // The same answer as a wrong proof: a stranger learns nothing about which sites are peers.
            log.warn("mirror link from {}: site '{}' is not a peer of site {}; refused", ctx.channel().remoteAddress(), peerSite, shared.siteId());
            refuseAndClose(ctx, LinkCodec.AUTHENTICATION, "authentication failed");
            return;
        }
        secret = s.get();
        clientNonce = bytes(h.nonce());
        serverNonce = new byte[LinkProof.NONCE_BYTES];
        shared.random().nextBytes(serverNonce);
        state = State.PROOF;
        ctx.writeAndFlush(new LinkMessage.Hello(LinkCodec.PROTOCOL_VERSION, shared.siteId(), ByteBuffer.wrap(serverNonce)));
    }

    private void proof(ChannelHandlerContext ctx, LinkMessage m) {
        if (!(m instanceof LinkMessage.Proof p)) {
            protocolError(ctx, m, "the client's proof");
            return;
        }
        byte[] keying = LinkTls.keyingMaterial(ssl.engine().getSession());
        byte[] expected = LinkProof.compute(secret, LinkProof.Role.CLIENT, keying, clientNonce, serverNonce, peerSite, shared.siteId());
        if (!LinkProof.matches(expected, bytes(p.mac()))) {
            log.warn("mirror link from {}: site '{}' did not prove the shared secret; refused, nothing received",
                    ctx.channel().remoteAddress(), peerSite);
            refuseAndClose(ctx, LinkCodec.AUTHENTICATION, "authentication failed");
            return;
        }
        byte[] mine = LinkProof.compute(secret, LinkProof.Role.SERVER, keying, clientNonce, serverNonce, peerSite, shared.siteId());
        state = State.READY;
        frames.authenticated();
        log.info("mirror link from {}: site {} authenticated", ctx.channel().remoteAddress(), peerSite);
        ctx.writeAndFlush(new LinkMessage.Proof(ByteBuffer.wrap(mine)));
    }

    /** A round asked for: refused, or answered with where to start (after what is staged). */
    private void request(ChannelHandlerContext ctx, LinkMessage m) {
        if (m instanceof LinkMessage.Call c) {
            call(ctx, c);
            return;
        }
        if (!(m instanceof LinkMessage.ShipRequest r)) {
            protocolError(ctx, m, "a ship request");
            return;
        }
        MirrorFrame.Header h;
        try {
            if (!(MirrorFrameCodec.decode(bytes(r.headerFrame())) instanceof MirrorFrame.Header header)) {
                protocolError(ctx, m, "a ship request holding a mirror header frame");
                return;
            }
            h = header;
            if (!h.sourceSite().equals(peerSite)) {
                throw new MirrorException(MirrorException.Reason.WRONG_SOURCE, "stream " + h.streamId() + " from site " + h.sourceSite()
                        + " sent by site " + peerSite + " (expected: a peer ships its own vdisks)");
            }
            shared.receiver().check(h, h.vdiskName());
        } catch (MirrorException e) {
            refuse(ctx, e.reason().name(), e.getMessage());
            return;
        }
        ServerSession other = shared.receiving().putIfAbsent(h.vdiskName(), this);
        if (other != null) {
            // Likely an earlier connection of this peer that broke without our noticing: end it, so a retry finds the replica free.
            other.closeIfReceiving();
            refuse(ctx, LinkCodec.BUSY, "replica " + h.vdiskName() + " is receiving or applying another round; try again");
            return;
        }
        if (shared.held().contains(h.vdiskName())) {
            // Checked after claiming the replica: MirrorServer.withoutRounds sets held first, then waits for receiving to clear.
            shared.receiving().remove(h.vdiskName(), this);
            refuse(ctx, LinkCodec.BUSY, "replica " + h.vdiskName() + " is being failed over or back; try again");
            return;
        }
        try {
            part = shared.staging().open(h);
        } catch (RuntimeException e) {
            shared.receiving().remove(h.vdiskName(), this);
            log.error("mirror link from {}: cannot stage stream {} of {}", ctx.channel().remoteAddress(), h.streamId(), h.vdiskName(), e);
            refuse(ctx, LinkCodec.FAILED, "site " + shared.siteId() + " cannot stage stream " + h.streamId() + ": " + e);
            return;
        }
        state = State.RECEIVING;
        if (part.stagedBytes() > 0) {
            log.info("mirror link from {}: resuming stream {} of {} round {} after {} staged bytes", ctx.channel().remoteAddress(),
                    h.streamId(), h.vdiskName(), h.sequence(), part.stagedBytes());
        }
        ctx.writeAndFlush(new LinkMessage.StartAt(part.stagedBytes(), part.chainCrc()));
    }

    private void frame(ChannelHandlerContext ctx, LinkMessage m) {
        if (!(m instanceof LinkMessage.StreamFrame f)) {
            protocolError(ctx, m, "a stream frame");
            return;
        }
        boolean ended;
        try {
            ended = part.append(f.frame());
        } catch (MirrorException e) {
            // A damaged frame or a stream that is not the one asked for: nothing of it is kept.
            String vdisk = discardAndRelease();
            log.warn("mirror link from {}: stream for {} refused: {}", ctx.channel().remoteAddress(), vdisk, e.getMessage());
            refuseAndClose(ctx, e.reason().name(), e.getMessage());
            return;
        }
        if (ended) {
            state = State.APPLYING;
            applying = true;
            ctx.channel().config().setAutoRead(false);
            shared.applies().execute(() -> apply(ctx));
        }
    }

    /** On an apply thread: the whole staged round into the replica, then the answer. */
    private void apply(ChannelHandlerContext ctx) {
        StagingArea.Part p = part;
        String replica = p.header().vdiskName();
        LinkMessage answer;
        try (InputStream in = p.read()) {
            MirrorReceiver.Result r = shared.receiver().receive(in, replica);
            shared.listener().applied(peerSite, r);
            log.info("mirror link from {}: {} round {} applied ({} stream bytes, snapshot {})", ctx.channel().remoteAddress(),
                    replica, r.header().sequence(), r.streamBytes(), r.snapshot().name());
            answer = new LinkMessage.Applied(r.streamBytes(), r.end().extentCount(), r.end().dataBytes(), r.snapshot().name());
        } catch (MirrorException e) {
            log.warn("mirror link from {}: staged round for {} refused: {}", ctx.channel().remoteAddress(), replica, e.getMessage());
            answer = new LinkMessage.Refused(e.reason().name(), e.getMessage());
        } catch (IOException | RuntimeException e) {
            log.error("mirror link from {}: applying the staged round for {} failed", ctx.channel().remoteAddress(), replica, e);
            answer = new LinkMessage.Refused(LinkCodec.FAILED, "site " + shared.siteId() + " could not apply the round: " + e);
        }
        // Applied or refused, the staged stream is done with: a retry sends the round again.
        discardAndRelease();
        applying = false;
        LinkMessage reply = answer;
        try {
            ctx.executor().execute(() -> {
                if (state == State.APPLYING) {
                    state = State.READY;
                    ctx.channel().config().setAutoRead(true);
                }
                ctx.writeAndFlush(reply);
            });
        } catch (RejectedExecutionException closing) {
            // The server is closing; the peer learns from the lost connection and asks again.
        }
    }

    /** A peer's call, answered from an apply thread (it may block); reading pauses until the answer is sent. */
    private void call(ChannelHandlerContext ctx, LinkMessage.Call c) {
        state = State.APPLYING;
        ctx.channel().config().setAutoRead(false);
        String peer = peerSite;
        shared.applies().execute(() -> {
            LinkMessage reply;
            try {
                reply = new LinkMessage.Reply(shared.calls().call(peer, c.op(), c.body()));
                log.info("mirror link from {}: site {} called {} {}", ctx.channel().remoteAddress(), peer, c.op(), c.body());
            } catch (IllegalArgumentException | IllegalStateException | MirrorException | io.basalt.vdisk.store.StoreException e) {
                log.warn("mirror link from {}: call {} {} of site {} refused: {}", ctx.channel().remoteAddress(), c.op(), c.body(), peer, e.getMessage());
                reply = new LinkMessage.Refused(LinkCodec.FAILED, String.valueOf(e.getMessage()));
            } catch (RuntimeException e) {
                log.error("mirror link from {}: call {} {} of site {} failed", ctx.channel().remoteAddress(), c.op(), c.body(), peer, e);
                reply = new LinkMessage.Refused(LinkCodec.FAILED, "site " + shared.siteId() + " failed on " + c.op() + ": " + e);
            }
            LinkMessage answer = reply;
            try {
                ctx.executor().execute(() -> {
                    if (state == State.APPLYING) {
                        state = State.READY;
                        ctx.channel().config().setAutoRead(true);
                    }
                    ctx.writeAndFlush(answer);
                });
            } catch (RejectedExecutionException closing) {
                // The server is closing; the caller learns from the lost connection.
            }
        });
    }

    /** Closes this connection if it is receiving a round (called from another connection's event loop). */
    void closeIfReceiving() {
        // Read racily: a connection that just moved on to applying stays open, and the caller's peer retries later.
        if (state == State.RECEIVING) {
            log.info("mirror link from {}: closing, a newer connection asks for the same replica", channel.remoteAddress());
            channel.close();
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        channel = ctx.channel();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        state = State.CLOSED;
        // The volatile flag first: once it reads false, the apply thread's part = null is seen too.
        if (!applying && part != null) {
            // Kept on disk: the next attempt of the same stream resumes after it.
            part.close();
            shared.receiving().remove(part.header().vdiskName(), this);
            part = null;
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
        if (event instanceof IdleStateEvent && !applying) {
            log.warn("mirror link from {}: nothing received for {}; closing", ctx.channel().remoteAddress(), MirrorServer.IDLE_TIMEOUT);
            ctx.close();
        }
        ctx.fireUserEventTriggered(event);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (state == State.CLOSED) {
            return; // already closing: a decoder draining what it buffered fails again on the same bytes
        }
        state = State.CLOSED;
        log.warn("mirror link from {} (site {}): {}; closing", ctx.channel().remoteAddress(), peerSite, cause.toString());
        ctx.close();
    }

    /** Discards the staged part (it is never resumed again) and frees the replica for another round; returns its name. */
    private String discardAndRelease() {
        StagingArea.Part p = part;
        String replica = p.header().vdiskName();
        p.discard();
        shared.receiving().remove(replica, this);
        part = null;
        return replica;
    }

    private void refuse(ChannelHandlerContext ctx, String reason, String message) {
        shared.listener().refused(ctx.channel().remoteAddress(), reason, message);
        ctx.writeAndFlush(new LinkMessage.Refused(reason, message));
    }

    private void refuseAndClose(ChannelHandlerContext ctx, String reason, String message) {
        state = State.CLOSED;
        shared.listener().refused(ctx.channel().remoteAddress(), reason, message);
        ctx.writeAndFlush(new LinkMessage.Refused(reason, message)).addListener(ChannelFutureListener.CLOSE);
    }

    private void protocolError(ChannelHandlerContext ctx, LinkMessage m, String expected) {
        String message = "link message " + m.getClass().getSimpleName() + " in state " + state + " (expected: " + expected + ")";
        log.warn("mirror link from {}: {}; closing", ctx.channel().remoteAddress(), message);
        refuseAndClose(ctx, LinkCodec.PROTOCOL, message);
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }
}
