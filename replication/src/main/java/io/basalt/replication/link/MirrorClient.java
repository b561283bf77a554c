package io.basalt.replication.link;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.basalt.replication.MirrorSender;
import io.basalt.replication.stream.MirrorException;
import io.basalt.replication.stream.MirrorFrame;
import io.basalt.replication.stream.MirrorFrameCodec;
import io.basalt.vdisk.store.VdiskStore;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;

/**
 * The primary site's end of the mirror link to one peer site: ships rounds of its vdisks to the
 * peer's {@link MirrorServer}. {@link #shipRound} is the whole of a round's transfer: connect,
 * authenticate, ask, send what the peer lacks, wait for its apply; a cut connection is retried
 * and the round resumes after the frames the peer has staged. The bandwidth limit is this
 * client's, shared by every round it ships at once.
 *
 * <p>Owns its event loop ({@link #close()}), not the store. The snapshots a round ships are the
 * caller's to take and prune ({@code MirrorSnapshots}); the schedule is the caller's too.
 */
public final class MirrorClient implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MirrorClient.class);
    /** A bucket of a tenth of a second's bytes, at least 64 KiB: a limit holds over any second. */
    static final long BURST_BYTES_MIN = 64 << 10;

    /**
     * The peer site: its id (it must say the same in its hello), where its server listens, the
     * secret both sites share, and the limit on what this client sends it ({@code 0}: none).
     */
    public record Peer(String siteId, InetSocketAddress address, LinkSecret secret, long bandwidthBytesPerSecond) {
        public Peer {
            if (bandwidthBytesPerSecond < 0) {
                throw new IllegalArgumentException("bandwidth: " + bandwidthBytesPerSecond + " bytes/s (expected: >= 0, 0 for no limit)");
            }
        }
    }

    /**
     * @param connectTimeout   a TCP connect and a TLS handshake, each
     * @param replyTimeout     for each answer of the handshake and the ship request
     * @param applyTimeout     from the round's last byte sent to the peer's answer (it applies the whole round meanwhile)
     * @param writeStallMax    how long the peer may read nothing while the client has bytes for it
     * @param attemptsMax      connections tried for one round before giving up
     * @param retryDelay       before the second attempt; doubled for each further one
     */
    public record Options(Duration connectTimeout, Duration replyTimeout, Duration applyTimeout, Duration writeStallMax,
                          int attemptsMax, Duration retryDelay) {
        public static final Options DEFAULTS = new Options(Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofMinutes(30),
                Duration.ofSeconds(60), 5, Duration.ofMillis(500));

        public Options {
            if (attemptsMax < 1) {
                throw new IllegalArgumentException("attempts: " + attemptsMax + " (expected: >= 1)");
            }
        }
    }

    /**
     * What a round's shipping did.
     *
     * @param outcome        APPLIED: the peer applied this stream now; ALREADY_APPLIED: the peer held the round already
     * @param streamBytes    the stream's length (0 when already applied)
     * @param sentBytes      stream bytes sent over all attempts (less than streamBytes after a resume skipped staged frames)
     * @param resumedAtBytes where the last attempt started in the stream (0: from its start)
     * @param attempts       connections used
     * @param duration       from the call to the peer's answer, every attempt included
     * @param applyWait      from the last frame handed to the link to the peer's answer: mostly the peer's apply of the
     *                       whole round (the last few MiB may still have been in flight); zero when already applied
     */
    public record ShipResult(Outcome outcome, String vdisk, long round, UUID streamId, long streamBytes, long sentBytes,
                             long extentCount, long dataBytes, long resumedAtBytes, int attempts, Duration duration, Duration applyWait) {
        public enum Outcome { APPLIED, ALREADY_APPLIED }
    }

    private final String localSite;
    private final Peer peer;
    private final Options options;
    private final MirrorSender sender;
    private final LinkTls tls;
    private final SecureRandom random = new SecureRandom();
    private final TokenBucket bandwidth;
    private final EventLoopGroup group;

    public MirrorClient(String localSite, VdiskStore store, Peer peer) {
        this(localSite, store, peer, Options.DEFAULTS);
    }

    public MirrorClient(String localSite, VdiskStore store, Peer peer, Options options) {
        this(localSite, io.basalt.replication.MirrorStore.of(store), peer, options);
    }

    public MirrorClient(String localSite, io.basalt.replication.MirrorStore store, Peer peer, Options options) {
        this.localSite = localSite;
        this.peer = peer;
        this.options = options;
        this.sender = new MirrorSender(store, localSite);
        this.tls = LinkTls.client(random);
        long rate = peer.bandwidthBytesPerSecond();
        this.bandwidth = rate == 0 ? null : new TokenBucket(rate, Math.max(BURST_BYTES_MIN, rate / 10), System::nanoTime);
        this.group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory()); // last: nothing above may leave it running
    }

    /**
     * Ships round {@code round} of {@code vdisk}: the stream from snapshot {@code fromSnap}
     * (null: a full sync) to {@code toSnap}, until the peer applied it or already held it.
     *
     * @throws MirrorException     the peer refused the round (STALE, WRONG_BASE, ...: the reason says what to do)
     * @throws MirrorLinkException authentication failed, or no attempt got through
     */
    public ShipResult shipRound(String vdisk, String fromSnap, String toSnap, long round) {
        long started = System.nanoTime();
        MirrorFrame.Header header = sender.header(vdisk, fromSnap, toSnap, round);
        Attempts attempts = new Attempts();
        IOException last = null;
        while (attempts.count < options.attemptsMax()) {
            attempts.count++;
            try (ClientConnection c = ClientConnection.open(group, tls, peer.address(), options.connectTimeout())) {
                authenticate(c);
                return ship(c, header, attempts, started);
            } catch (StagedPrefixMismatch e) {
                log.warn("mirror link to site {}: {}; sending round {} of {} again from its start", peer.siteId(), e.getMessage(), round, vdisk);
                header = sender.header(vdisk, fromSnap, toSnap, round); // a new stream id: the peer drops what it staged
                last = e;
                continue;
            } catch (IOException e) {
                last = e;
                log.warn("mirror link to site {} at {}: attempt {} of {} for round {} of {} failed: {}", peer.siteId(), peer.address(),
                        attempts.count, options.attemptsMax(), round, vdisk, e.toString());
            }
            pause(options.retryDelay().multipliedBy(1L << Math.min(attempts.count - 1, 6)));
        }
        throw new MirrorLinkException(MirrorLinkException.Kind.UNREACHABLE, "round " + round + " of vdisk " + vdisk + " to site "
                + peer.siteId() + " at " + peer.address() + ": no attempt of " + options.attemptsMax() + " got through; last: " + last, last);
    }

    /**
     * Asks the peer's {@link MirrorServer.CallHandler} {@code op} with {@code body} over one new
     * connection (no retry: a call such as a demotion is not to be repeated blindly) and returns
     * its answer; {@code timeout} bounds the wait for it.
     *
     * @throws MirrorLinkException the peer is unreachable, failed to authenticate, or refused the call (the message says why)
     */
    public String call(String op, String body, Duration timeout) {
        try (ClientConnection c = ClientConnection.open(group, tls, peer.address(), options.connectTimeout())) {
            authenticate(c);
            c.send(new LinkMessage.Call(op, body), options.writeStallMax());
            LinkMessage answer = c.receive(timeout, "answer to call " + op);
            return switch (answer) {
                case LinkMessage.Reply r -> r.body();
                case LinkMessage.Refused r when r.reason().equals(LinkCodec.FAILED) -> throw new MirrorLinkException(MirrorLinkException.Kind.REFUSED,
                        "site " + peer.siteId() + " refused " + op + " " + body + ": " + r.message());
                default -> throw refusal(answer, null);
            };
        } catch (IOException e) {
            throw new MirrorLinkException(MirrorLinkException.Kind.UNREACHABLE, "call " + op + " to site " + peer.siteId() + " at "
                    + peer.address() + ": " + e, e);
        }
    }

    /**
     * One attempt: asks for the round and sends what the peer lacks.
     *
     * @throws IOException the connection failed, or the peer is busy with the replica: worth another attempt
     */
    private ShipResult ship(ClientConnection c, MirrorFrame.Header header, Attempts attempts, long started) throws IOException {
        c.send(new LinkMessage.ShipRequest(ByteBuffer.wrap(MirrorFrameCodec.encode(header))), options.writeStallMax());
        LinkMessage answer = c.receive(options.replyTimeout(), "answer to the ship request");
        switch (answer) {
            case LinkMessage.StartAt s -> {
                FrameOutput out = new FrameOutput(c, s.offsetBytes(), s.chainCrc(), bandwidth, options.writeStallMax());
                MirrorSender.Result sent;
                try {
                    sent = sender.send(header, out);
                } catch (UncheckedIOException e) {
                    throw e.getCause();
                } finally {
                    attempts.sentBytes += out.sentBytes();
                }
                long sentAt = System.nanoTime();
                LinkMessage done = c.receive(options.applyTimeout(), "answer to the round's stream");
                if (done instanceof LinkMessage.Applied a) {
                    checkApplied(header, sent, a);
                    long now = System.nanoTime();
                    return new ShipResult(ShipResult.Outcome.APPLIED, header.vdiskName(), header.sequence(), header.streamId(), sent.streamBytes(),
                            attempts.sentBytes, a.extentCount(), a.dataBytes(), s.offsetBytes(), attempts.count, Duration.ofNanos(now - started),
                            Duration.ofNanos(now - sentAt));
                }
                throw refusal(done, header);
            }
            case LinkMessage.Refused r when r.reason().equals(MirrorException.Reason.ALREADY_APPLIED.name()) -> {
                log.info("mirror link to site {}: round {} of {} already applied there: {}", peer.siteId(), header.sequence(), header.vdiskName(), r.message());
                return new ShipResult(ShipResult.Outcome.ALREADY_APPLIED, header.vdiskName(), header.sequence(), header.streamId(), 0,
                        attempts.sentBytes, 0, 0, 0, attempts.count, Duration.ofNanos(System.nanoTime() - started), Duration.ZERO);
            }
            case LinkMessage.Refused r when r.reason().equals(LinkCodec.BUSY) -> throw new IOException("site " + peer.siteId() + " is busy: " + r.message());
            default -> throw refusal(answer, header);
        }
    }

    /** Both hellos, then the client's proof, then the server's. */
    private void authenticate(ClientConnection c) throws IOException {
        byte[] clientNonce = new byte[LinkProof.NONCE_BYTES];
        random.nextBytes(clientNonce);
        c.send(new LinkMessage.Hello(LinkCodec.PROTOCOL_VERSION, localSite, ByteBuffer.wrap(clientNonce)), options.writeStallMax());
        LinkMessage m = c.receive(options.replyTimeout(), "hello");
        if (!(m instanceof LinkMessage.Hello h)) {
            throw refusal(m, null);
        }
        if (h.protocolVersion() != LinkCodec.PROTOCOL_VERSION || !h.siteId().equals(peer.siteId())) {
            throw new MirrorLinkException(h.protocolVersion() != LinkCodec.PROTOCOL_VERSION ? MirrorLinkException.Kind.PROTOCOL
                    : MirrorLinkException.Kind.AUTHENTICATION, "mirror server at " + c.remoteAddress() + " says site " + h.siteId()
                    + ", link protocol " + h.protocolVersion() + " (expected: site " + peer.siteId() + ", protocol " + LinkCodec.PROTOCOL_VERSION + ")");
        }
        byte[] serverNonce = new byte[LinkProof.NONCE_BYTES];
        h.nonce().duplicate().get(serverNonce);
        byte[] keying = LinkTls.keyingMaterial(c.ssl().engine().getSession());
        byte[] mine = LinkProof.compute(peer.secret(), LinkProof.Role.CLIENT, keying, clientNonce, serverNonce, localSite, peer.siteId());
        c.send(new LinkMessage.Proof(ByteBuffer.wrap(mine)), options.writeStallMax());
        LinkMessage p = c.receive(options.replyTimeout(), "the server's proof");
        if (!(p instanceof LinkMessage.Proof proof)) {
            throw refusal(p, null);
        }
        byte[] expected = LinkProof.compute(peer.secret(), LinkProof.Role.SERVER, keying, clientNonce, serverNonce, localSite, peer.siteId());
        byte[] got = new byte[proof.mac().remaining()];
        proof.mac().duplicate().get(got);
        if (!LinkProof.matches(expected, got)) {
            log.warn("mirror link to site {} at {}: the server did not prove the shared secret; nothing sent", peer.siteId(), c.remoteAddress());
            throw new MirrorLinkException(MirrorLinkException.Kind.AUTHENTICATION, "mirror server at " + c.remoteAddress() + " (site "
                    + peer.siteId() + ") did not prove the shared secret");
        }
    }

    /** The peer's answer matches what was sent. */
    private void checkApplied(MirrorFrame.Header header, MirrorSender.Result sent, LinkMessage.Applied a) {
        if (a.streamBytes() != sent.streamBytes() || a.extentCount() != sent.end().extentCount() || !a.snapshot().equals(header.toSnapshot())) {
            throw new MirrorLinkException(MirrorLinkException.Kind.PROTOCOL, "site " + peer.siteId() + " applied " + a + " (expected: "
                    + sent.streamBytes() + " stream bytes, " + sent.end().extentCount() + " extents, snapshot " + header.toSnapshot() + ")");
        }
    }

    /** A refusal (or an unexpected message) as the exception the caller acts on. */
    private RuntimeException refusal(LinkMessage m, MirrorFrame.Header header) {
        String where = "site " + peer.siteId() + " at " + peer.address();
        if (!(m instanceof LinkMessage.Refused r)) {
            return new MirrorLinkException(MirrorLinkException.Kind.PROTOCOL, where + " sent " + m.getClass().getSimpleName() + " out of turn");
        }
        if (r.reason().equals(LinkCodec.AUTHENTICATION)) {
            return new MirrorLinkException(MirrorLinkException.Kind.AUTHENTICATION, where + " refused this site (" + localSite + "): "
                    + r.message() + " (is the shared secret the same on both sites?)");
        }
        for (MirrorException.Reason reason : MirrorException.Reason.values()) {
            if (reason.name().equals(r.reason())) {
                return new MirrorException(reason, where + " refused round " + (header == null ? "?" : header.sequence() + " of " + header.vdiskName())
                        + ": " + r.message());
            }
        }
        return new MirrorLinkException(MirrorLinkException.Kind.PROTOCOL, where + " refused: " + r.reason() + ": " + r.message());
    }

    private static void pause(Duration d) {
        try {
            TimeUnit.NANOSECONDS.sleep(d.toNanos());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MirrorLinkException(MirrorLinkException.Kind.UNREACHABLE, "interrupted between attempts", e);
        }
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Counts across the attempts of one round. */
    private static final class Attempts {
        int count;
        long sentBytes;
    }
}
