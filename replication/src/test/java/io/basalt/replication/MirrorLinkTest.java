package io.basalt.replication;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.replication.link.LinkSecret;
import io.basalt.replication.link.MirrorClient;
import io.basalt.replication.link.MirrorClient.ShipResult;
import io.basalt.replication.link.MirrorLinkException;
import io.basalt.replication.link.MirrorServer;
import io.basalt.replication.stream.MirrorException;

/**
 * Two sites in one process joined by the mirror link over real loopback sockets and TLS: rounds
 * ship and the replica equals the source's snapshot; a wrong secret, a cut connection, a replay
 * and a bandwidth limit do what the link promises (docs/decisions/mirror-link-security.md).
 * Servers and proxies listen on ports the kernel picks at bind time and keep them.
 */
class MirrorLinkTest {
    private static final String SITE_B = "site-b";
    private static final String VDISK = "vm1";
    private static final long SIZE_BYTES = 8L << 20;
    private static final LinkSecret SECRET = LinkSecret.of(bytes(32, 1));
    /** Short timeouts and delays: a failing test fails in seconds, not minutes. */
    private static final MirrorClient.Options FAST = new MirrorClient.Options(Duration.ofSeconds(5), Duration.ofSeconds(10),
            Duration.ofSeconds(30), Duration.ofSeconds(10), 4, Duration.ofMillis(50));

    @TempDir
    Path dir;
    private Sites sites;
    private MirrorServer server;
    private final List<AutoCloseable> closeLast = new CopyOnWriteArrayList<>();
    private final List<MirrorReceiver.Result> applied = new CopyOnWriteArrayList<>();
    private final List<String> refusals = new CopyOnWriteArrayList<>();
    private final Random random = new Random(7);

    @BeforeEach
    void setUp() {
        sites = new Sites(dir);
        MirrorServer.Listener listener = new MirrorServer.Listener() {
            @Override
            public void applied(String peerSite, MirrorReceiver.Result result) {
                applied.add(result);
            }

            @Override
            public void refused(SocketAddress peer, String reason, String message) {
                refusals.add(reason + " " + peer);
            }
        };
        server = MirrorServer.start(new MirrorServer.Config(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), SITE_B, sites.b,
                dir.resolve("staging"), site -> Optional.ofNullable(Map.of(Sites.SITE_A, SECRET).get(site)), listener));
        sites.a.create(VDISK, SIZE_BYTES);
    }

    @AfterEach
    void tearDown() throws Exception {
        try {
            for (AutoCloseable c : closeLast) {
                c.close();
            }
        } finally {
            try {
                server.close();
            } finally {
                sites.close();
            }
        }
    }

    private MirrorClient client(InetSocketAddress to, LinkSecret secret, long bandwidthBytesPerSecond) {
        MirrorClient c = new MirrorClient(Sites.SITE_A, sites.a, new MirrorClient.Peer(SITE_B, to, secret, bandwidthBytesPerSecond), FAST);
        closeLast.add(0, c);
        return c;
    }

    private MirrorClient client() {
        return client(server.localAddress(), SECRET, 0);
    }

    /** Writes random grains on A and takes mirror snapshot {@code round}. */
    private void change(long round, int grains) {
        Sites.writeRandomGrains(sites.a, VDISK, random, grains);
        sites.a.createSnapshot(VDISK, MirrorSnapshots.name(round));
    }

    private void assertReplicaAt(long round) {
        assertEquals(MirrorSnapshots.name(round), Sites.snapshotNames(sites.b, VDISK).getLast());
        sites.assertSameBytes(VDISK + "@" + MirrorSnapshots.name(round), VDISK + "@" + MirrorSnapshots.name(round));
    }

    private List<Path> staged() throws IOException {
        try (Stream<Path> files = Files.list(dir.resolve("staging"))) {
            return files.toList();
        }
    }

    @Test
    void aReplicaHeldForAFailoverTakesNoRoundUntilReleased() {
        MirrorClient client = client();
        change(1, 50);
        client.shipRound(VDISK, null, MirrorSnapshots.name(1), 1);
        change(2, 50);
        MirrorLinkException busy = server.withoutRounds(VDISK, () -> assertThrows(MirrorLinkException.class,
                () -> client.shipRound(VDISK, MirrorSnapshots.name(1), MirrorSnapshots.name(2), 2)));
        assertTrue(busy.getMessage().contains("is being failed over or back"), busy.getMessage());
        assertReplicaAt(1);
        assertEquals(ShipResult.Outcome.APPLIED, client.shipRound(VDISK, MirrorSnapshots.name(1), MirrorSnapshots.name(2), 2).outcome());
        assertReplicaAt(2);
    }

    @Test
    void aCallIsAnsweredByTheServersHandlerAndARefusalNamesWhy() {
        MirrorServer echo = MirrorServer.start(new MirrorServer.Config(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), SITE_B,
                sites.b, dir.resolve("staging-2"), site -> Optional.of(SECRET), new MirrorServer.Listener() {}, (peer, op, body) -> {
                    if (op.equals("fail")) {
                        throw new IllegalArgumentException("vdisk: " + body + " (expected: one that exists)");
                    }
                    return peer + " " + op + " " + body;
                }));
        closeLast.add(echo);
        MirrorClient client = client(echo.localAddress(), SECRET, 0);
        assertEquals("site-a role {\"vdisk\":\"vm1\"}", client.call("role", "{\"vdisk\":\"vm1\"}", Duration.ofSeconds(10)));
        MirrorLinkException refused = assertThrows(MirrorLinkException.class, () -> client.call("fail", "vm9", Duration.ofSeconds(10)));
        assertEquals(MirrorLinkException.Kind.REFUSED, refused.kind());
        assertTrue(refused.getMessage().contains("vdisk: vm9 (expected: one that exists)"), refused.getMessage());
        MirrorLinkException noHandler = assertThrows(MirrorLinkException.class, () -> client().call("role", "{}", Duration.ofSeconds(10)));
        assertTrue(noHandler.getMessage().contains("this site answers no calls"), noHandler.getMessage());
    }

    @Test
    void roundsShipOverTlsAndTheReplicaEqualsTheSourceSnapshot() throws IOException {
        MirrorClient client = client();
        change(1, 600);
        ShipResult full = client.shipRound(VDISK, null, MirrorSnapshots.name(1), 1);
        assertEquals(ShipResult.Outcome.APPLIED, full.outcome());
        assertEquals(1, full.attempts());
        assertEquals(full.streamBytes(), full.sentBytes());
        assertReplicaAt(1);

        change(2, 200);
        ShipResult second = client.shipRound(VDISK, MirrorSnapshots.name(1), MirrorSnapshots.name(2), 2);
        assertEquals(ShipResult.Outcome.APPLIED, second.outcome());
        assertTrue(second.streamBytes() < full.streamBytes(), "an incremental round ships less: " + second + " vs " + full);
        assertReplicaAt(2);
        assertEquals(List.of(MirrorSnapshots.name(1), MirrorSnapshots.name(2)), Sites.snapshotNames(sites.b, VDISK));
        assertEquals(2, applied.size());
        assertEquals(List.of(), staged(), "nothing staged once applied");
    }

    @Test
    void aWrongSecretIsRefusedLoggedWithThePeerAndNothingIsApplied() throws IOException {
        change(1, 100);
        client().shipRound(VDISK, null, MirrorSnapshots.name(1), 1);
        byte[] record = sites.b.replicaRecord(VDISK).orElseThrow();
        change(2, 100);

        MirrorClient intruder = client(server.localAddress(), LinkSecret.of(bytes(32, 2)), 0);
        MirrorLinkException e = assertThrows(MirrorLinkException.class,
                () -> intruder.shipRound(VDISK, MirrorSnapshots.name(1), MirrorSnapshots.name(2), 2));
        assertEquals(MirrorLinkException.Kind.AUTHENTICATION, e.kind(), e.getMessage());
        assertEquals(1, refusals.size(), refusals.toString());
        assertTrue(refusals.getFirst().startsWith("AUTHENTICATION /127.0.0.1:"), refusals.toString());
        assertEquals(List.of(MirrorSnapshots.name(1)), Sites.snapshotNames(sites.b, VDISK));
        assertArrayEquals(record, sites.b.replicaRecord(VDISK).orElseThrow());
        assertEquals(1, applied.size());
        assertEquals(List.of(), staged());
    }

    @Test
    void aWrongSecretBeforeAnyRoundCreatesNoReplica() {
        change(1, 100);
        MirrorClient intruder = client(server.localAddress(), LinkSecret.of(bytes(32, 3)), 0);
        MirrorLinkException e = assertThrows(MirrorLinkException.class, () -> intruder.shipRound(VDISK, null, MirrorSnapshots.name(1), 1));
        assertEquals(MirrorLinkException.Kind.AUTHENTICATION, e.kind());
        assertFalse(sites.b.exists(VDISK));
    }

    @Test
    void aConnectionCutMidStreamResumesAfterTheStagedFramesAndTheRoundIsAppliedOnce() throws Exception {
        change(1, 1500); // about 6 MB of random grains: several 1 MiB frames
        try (FaultyProxy proxy = new FaultyProxy(server.localAddress())) {
            proxy.cutNextAfter(3 << 20);
            ShipResult r = client(proxy.address(), SECRET, 0).shipRound(VDISK, null, MirrorSnapshots.name(1), 1);
            System.out.println("mirror link resume: " + r);
            assertEquals(ShipResult.Outcome.APPLIED, r.outcome());
            assertEquals(2, r.attempts());
            assertEquals(2, proxy.connectionsAccepted());
            assertTrue(r.resumedAtBytes() > 0 && r.resumedAtBytes() < 3 << 20, "resumed at " + r.resumedAtBytes());
            // The second attempt sent only what the peer had not staged.
            assertTrue(r.sentBytes() - r.streamBytes() < 3 << 20, "sent " + r.sentBytes() + " for a stream of " + r.streamBytes());
        }
        assertEquals(1, applied.size(), "applied once");
        assertReplicaAt(1);
        assertEquals(List.of(MirrorSnapshots.name(1)), Sites.snapshotNames(sites.b, VDISK));
        assertEquals(List.of(), staged());
    }

    @Test
    void aRoundThatDoesNotGetThroughLeavesTheReplicaAtItsLastCompleteSnapshotAndALaterAttemptStartsAfresh() throws Exception {
        change(1, 100);
        client().shipRound(VDISK, null, MirrorSnapshots.name(1), 1);
        byte[] record = sites.b.replicaRecord(VDISK).orElseThrow();
        change(2, 1500);
        MirrorClient.Options once = new MirrorClient.Options(FAST.connectTimeout(), FAST.replyTimeout(), FAST.applyTimeout(),
                FAST.writeStallMax(), 1, FAST.retryDelay());
        try (FaultyProxy proxy = new FaultyProxy(server.localAddress())) {
            proxy.cutNextAfter(2 << 20);
            MirrorClient cut = new MirrorClient(Sites.SITE_A, sites.a, new MirrorClient.Peer(SITE_B, proxy.address(), SECRET, 0), once);
            closeLast.add(0, cut);
            MirrorLinkException e = assertThrows(MirrorLinkException.class,
                    () -> cut.shipRound(VDISK, MirrorSnapshots.name(1), MirrorSnapshots.name(2), 2));
            assertEquals(MirrorLinkException.Kind.UNREACHABLE, e.kind(), e.getMessage());
        }
        // Part of round 2 is staged; none of it reached the replica, whose head still reads as round 1.
        assertEquals(1, staged().size());
        assertEquals(1, applied.size());
        assertArrayEquals(record, sites.b.replicaRecord(VDISK).orElseThrow());
        assertEquals(List.of(MirrorSnapshots.name(1)), Sites.snapshotNames(sites.b, VDISK));
        sites.assertSameBytes(VDISK + "@" + MirrorSnapshots.name(1), VDISK);

        // Another attempt (a new stream id) does not trust the staged frames of the old one.
        ShipResult r = client().shipRound(VDISK, MirrorSnapshots.name(1), MirrorSnapshots.name(2), 2);
        assertEquals(0, r.resumedAtBytes());
        assertEquals(r.streamBytes(), r.sentBytes());
        assertReplicaAt(2);
        assertEquals(2, applied.size());
        assertEquals(List.of(), staged());
    }

    @Test
    void aReplayedRoundIsRefusedAsAlreadyAppliedAndAnOlderOneAsStaleWithoutChange() throws IOException {
        MirrorClient client = client();
        change(1, 100);
        client.shipRound(VDISK, null, MirrorSnapshots.name(1), 1);
        change(2, 100);
        client.shipRound(VDISK, MirrorSnapshots.name(1), MirrorSnapshots.name(2), 2);
        byte[] record = sites.b.replicaRecord(VDISK).orElseThrow();

        ShipResult replay = client.shipRound(VDISK, MirrorSnapshots.name(1), MirrorSnapshots.name(2), 2);
        assertEquals(ShipResult.Outcome.ALREADY_APPLIED, replay.outcome());
        assertEquals(0, replay.sentBytes());
        MirrorException stale = assertThrows(MirrorException.class, () -> client.shipRound(VDISK, null, MirrorSnapshots.name(1), 1));
        assertEquals(MirrorException.Reason.STALE, stale.reason(), stale.getMessage());

        assertArrayEquals(record, sites.b.replicaRecord(VDISK).orElseThrow());
        assertEquals(List.of(MirrorSnapshots.name(1), MirrorSnapshots.name(2)), Sites.snapshotNames(sites.b, VDISK));
        assertEquals(2, applied.size());
        assertReplicaAt(2);
        assertEquals(List.of(), staged());
    }

    @Test
    void theBandwidthLimitHoldsARoundToItsRate() {
        change(1, 512); // 2 MiB of random data (some grains hit twice, a tenth unmapped: a little less)
        long rate = 1_000_000;
        MirrorClient slow = client(server.localAddress(), SECRET, rate);
        ShipResult r = slow.shipRound(VDISK, null, MirrorSnapshots.name(1), 1);
        double seconds = r.duration().toNanos() / 1e9;
        System.out.printf("mirror link at %d bytes/s: %d stream bytes in %.2f s = %.0f bytes/s%n", rate, r.streamBytes(), seconds, r.streamBytes() / seconds);
        // A lower bound only: the limit must hold; how much slower a busy machine makes it says nothing.
        double floorSeconds = (r.streamBytes() - Math.max(64 << 10, rate / 10)) / (double) rate;
        assertTrue(seconds >= floorSeconds, "took " + seconds + " s for " + r.streamBytes() + " bytes (expected: >= " + floorSeconds + " s)");
        assertTrue(r.streamBytes() > 1_600_000, "stream bytes: " + r.streamBytes());
        assertReplicaAt(1);
    }

    private static byte[] bytes(int length, int seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }
}
