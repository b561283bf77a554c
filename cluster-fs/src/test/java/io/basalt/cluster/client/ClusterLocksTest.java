package io.basalt.cluster.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.TestCluster;
import io.basalt.cluster.raft.RaftSetup;
import io.basalt.lock.HoldState;
import io.basalt.lock.HostSessionClient;
import io.basalt.lock.LockCommand;
import io.basalt.lock.LockMode;
import io.basalt.lock.LockRefusedException;
import io.basalt.lock.LockResult;
import io.basalt.lock.LockResult.Grant;
import io.basalt.lock.LockService;
import io.basalt.lock.Session;
import io.basalt.lock.VdiskLock;
import io.basalt.vdisk.FencedException;

/**
 * Locks and fencing in a real in-process cluster (docs/architecture.md, "Locks and fencing"):
 * the lock table in the meta group, the meta leader's lease timers, the fence on every PG, the
 * client's self-fencing.
 */
class ClusterLocksTest {
    private static final int BLOCK = 4096;
    /** Blocks per stripe (256 grains of 4 KiB): lba k * STRIPE is in another stripe, mostly another PG. */
    private static final int STRIPE = 256;
    private static final long LEASE_MS_SHORT = 1_000;

    @TempDir
    Path dir;
    private TestCluster cluster;
    private final List<HostSessionClient> sessions = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (HostSessionClient s : sessions) {
            try {
                s.close();
            } catch (RuntimeException e) {
                // the session may have expired or the cluster be gone: nothing left to release
            }
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    private ClusterClient start() throws Exception {
        cluster = TestCluster.start(TestCluster.config("locks", 3, 3, 3, TestCluster.fastTuning()), dir);
        cluster.waitForAllLeaders(Duration.ofSeconds(30));
        ClusterClient client = cluster.client();
        client.createVdisk("web", 16L << 20, BLOCK, BLOCK);
        return client;
    }

    private HostSessionClient session(LockService locks, String host, long leaseMs) {
        HostSessionClient s = HostSessionClient.open(locks, host, leaseMs, System::nanoTime);
        sessions.add(s);
        return s;
    }

    private static ByteBuffer block(int value) {
        byte[] b = new byte[BLOCK];
        Arrays.fill(b, (byte) value);
        return ByteBuffer.wrap(b);
    }

    /** A block holding {@code value} in every int: no two values look alike. */
    private static ByteBuffer numbered(int value) {
        ByteBuffer b = ByteBuffer.allocate(BLOCK);
        while (b.hasRemaining()) {
            b.putInt(value);
        }
        return b.flip();
    }

    private static byte[] read(ClusterVdisk v, long lba) {
        ByteBuffer b = v.read(lba, 1).join();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    /** The FencedException a failed write carries (the test fails when it succeeded or failed otherwise). */
    private static FencedException fenced(CompletableFuture<?> f) {
        CompletionException e = assertThrows(CompletionException.class, f::join);
        return assertInstanceOf(FencedException.class, e.getCause(), String.valueOf(e.getCause()));
    }

    /** Acquires {@code vdisk} for {@code s} and raises the fences, retrying while another session holds it. */
    private static Grant takeOver(ClusterLocks locks, HostSessionClient s, String vdisk, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                return locks.acquireAndFence(s, vdisk, LockMode.EXCLUSIVE);
            } catch (LockRefusedException e) {
                if (e.reason() != LockResult.Reason.CONFLICT || System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(50);
            }
        }
    }

    /**
     * A holder that went silent loses its lock to the next one, and whatever it still sends with
     * its old token (a delayed or retried packet, or a zombie that ignores its lease) is refused
     * at every PG, naming vdisk, token and fence; nothing of it lands.
     */
    @Test
    void aStaleTokenIsRefusedAtThePgWithFenced() throws Exception {
        ClusterClient client = start();
        ClusterLocks locks = client.locks();
        HostSessionClient a = session(locks, "host-a", LEASE_MS_SHORT);
        Grant grantA = locks.acquireAndFence(a, "web", LockMode.EXCLUSIVE);
        ClusterVdisk devA = client.open("web", a);
        devA.write(0, block(1), false).join();

        a.stopHeartbeatingForTests();
        HostSessionClient b = session(locks, "host-b", LEASE_MS_SHORT);
        Grant grantB = takeOver(locks, b, "web", Duration.ofSeconds(20));
        assertFalse(a.valid(), "the silent holder gave up its lease before the leader expired it");
        assertTrue(grantB.token() > grantA.token());
        ClusterVdisk devB = client.open("web", b);
        devB.write(0, block(2), false).join();

        // A zombie: A's token, sent without A's self-fence, to two stripes (two PGs at least over the four writes).
        ClusterVdisk zombie = client.open("web", grantA::token, () -> HoldState.HELD);
        for (long lba : new long[] {0, STRIPE, 2 * STRIPE, 3 * STRIPE}) {
            FencedException e = fenced(zombie.write(lba, block(9), false));
            assertEquals("web", e.vdisk());
            assertEquals(grantA.token(), e.token());
            assertEquals(grantB.fence(), e.fence());
            assertTrue(e.getMessage().contains("FENCED") && e.getMessage().contains("token=" + grantA.token()), e.getMessage());
        }
        fenced(zombie.unmap(0, 1));
        fenced(zombie.writeZeroes(0, 1, false));
        fenced(zombie.compareAndWrite(0, block(2), block(9)));
        // A itself does not even send: its write is held back (lease unconfirmed), then fenced once A hears its session is gone.
        assertEquals(HoldState.UNCONFIRMED, a.hold("web"));
        CompletableFuture<Void> heldA = devA.write(0, block(8), false);
        assertThrows(LockRefusedException.class, a::renewNow);
        FencedException self = fenced(heldA);
        assertTrue(self.getMessage().contains("self-fenced"), self.getMessage());

        assertArrayEquals(block(2).array(), read(devB, 0));
        for (long lba : new long[] {STRIPE, 2 * STRIPE, 3 * STRIPE}) {
            assertArrayEquals(new byte[BLOCK], read(devB, lba), "nothing of the zombie's writes landed at lba " + lba);
        }

        // An operator's snapshot (basalt snap create, no lock) is taken whatever the fence: it changes no data.
        client.createSnapshot("web", "operator");
        try (ClusterVdisk snap = client.open("web@operator")) {
            assertArrayEquals(block(2).array(), read(snap, 0), "the operator's snapshot holds what the head held");
        }
    }

    /** The switch that turns the PG's check off makes the stale write land: the test above can fail. */
    @Test
    void withoutThePgCheckTheStaleWriteLands() throws Exception {
        System.setProperty("basalt.test.skipPgFenceCheck", "true");
        ClusterClient client;
        try {
            client = start(); // the stores read the switch when they open
        } finally {
            System.clearProperty("basalt.test.skipPgFenceCheck");
        }
        ClusterLocks locks = client.locks();
        HostSessionClient a = session(locks, "host-a", LEASE_MS_SHORT);
        HostSessionClient b = session(locks, "host-b", LEASE_MS_SHORT);
        Grant grantA = locks.acquireAndFence(a, "web", LockMode.EXCLUSIVE);
        locks.handoffAndFence(a, "web", b.sessionId());
        client.open("web", grantA::token, () -> HoldState.HELD).write(0, block(9), false).join();
        assertArrayEquals(block(9).array(), read(client.open("web"), 0), "without the PG's check the zombie's write lands");
    }

    /**
     * A holder that cannot reach the meta group stops sending writes when its lease runs out,
     * before anyone may expire it: they are held back while the lease is unconfirmed, sent when a
     * renewal gets through, and fail as fenced once the meta group says the session is gone.
     */
    @Test
    void aSessionThatCannotRenewFencesItself() throws Exception {
        ClusterClient client = start();
        AtomicBoolean cutOff = new AtomicBoolean();
        LockService flaky = new LockService() {
            @Override
            public LockResult submit(LockCommand command) {
                if (cutOff.get()) {
                    throw new IllegalStateException("cut off from the meta group (test)");
                }
                return client.locks().submit(command);
            }

            @Override
            public Collection<Session> sessions() {
                return client.locks().sessions();
            }

            @Override
            public Collection<VdiskLock> locks() {
                return client.locks().locks();
            }

            @Override
            public Optional<VdiskLock> lock(String vdisk) {
                return client.locks().lock(vdisk);
            }
        };
        AtomicLong clock = new AtomicLong(System.nanoTime());
        HostSessionClient a = HostSessionClient.open(flaky, "host-a", 5_000, clock::get);
        sessions.add(a);
        Grant grant = a.acquire("web", LockMode.EXCLUSIVE);
        client.locks().raiseFence("web", grant.fence());
        ClusterVdisk dev = client.open("web", a);
        dev.write(0, block(1), false).join();

        // Cut off; the host's clock runs past its lease (the leader's real timer has not run out).
        cutOff.set(true);
        clock.addAndGet(Duration.ofMillis(4_400).toNanos());
        assertTrue(a.valid(), "4.4 s into a 5 s lease (4.5 s after the drift margin)");
        dev.write(STRIPE, block(2), false).join();
        clock.addAndGet(Duration.ofMillis(200).toNanos());
        assertEquals(HoldState.UNCONFIRMED, a.hold("web"));
        assertEquals(java.util.OptionalLong.empty(), a.token("web"));
        CompletableFuture<Void> held = dev.write(2 * STRIPE, block(3), false);
        Thread.sleep(300);
        assertFalse(held.isDone(), "held back, not sent, while the lease is unconfirmed");
        // A renewal gets through: the held write is sent with the same token and lands.
        cutOff.set(false);
        a.renewNow();
        assertEquals(HoldState.HELD, a.hold("web"));
        held.get(10, java.util.concurrent.TimeUnit.SECONDS);

        // Cut off again, past the lease; the meta leader expires the session on its own clock.
        cutOff.set(true);
        clock.addAndGet(Duration.ofMillis(4_600).toNanos());
        CompletableFuture<Void> heldToo = dev.write(3 * STRIPE, block(4), false);
        TestCluster.waitUntil("the leader expired host-a's session", Duration.ofSeconds(20),
                () -> client.locks().sessions().stream().noneMatch(x -> x.id() == a.sessionId()));
        assertFalse(heldToo.isDone(), "still held back: the host has not heard yet");
        cutOff.set(false);
        TestCluster.waitUntil("host-a learned that its session is gone", Duration.ofSeconds(10), () -> {
            try {
                a.renewNow();
            } catch (LockRefusedException | IllegalStateException expected) {
                // refused (the session is gone), or its heartbeat learned it first
            }
            return a.hold("web") == HoldState.LOST;
        });
        FencedException e = fenced(heldToo);
        assertTrue(e.getMessage().contains("self-fenced: lease lost"), e.getMessage());
        fenced(dev.unmap(0, 1));
        assertThrows(FencedException.class, () -> dev.snapshot("s"));
        ClusterVdisk reader = client.open("web");
        assertArrayEquals(block(1).array(), read(reader, 0));
        assertArrayEquals(block(2).array(), read(reader, STRIPE));
        assertArrayEquals(block(3).array(), read(reader, 2 * STRIPE), "the held write went out once the lease was confirmed");
        assertArrayEquals(new byte[BLOCK], read(reader, 3 * STRIPE), "nothing was sent once the lock was lost");
    }

    /**
     * The meta leader expires a session that stopped renewing; a new meta leader does not trust
     * the old one's timers but gives every session a full lease from when it took over.
     */
    @Test
    void theLeaderExpiresASilentSessionAndANewLeaderRestartsTheLeases() throws Exception {
        ClusterClient client = start();
        ClusterLocks locks = client.locks();
        long leaseMs = 3_000;
        HostSessionClient a = session(locks, "host-a", leaseMs);
        Grant grant = locks.acquireAndFence(a, "web", LockMode.EXCLUSIVE);
        a.stopHeartbeatingForTests();
        long stoppedAt = System.nanoTime();

        Thread.sleep(leaseMs * 2 / 3);
        // The leader goes away with its timers (the nodes give leadership to node 1 by priority,
        // so stopping the leader is how it moves here); another node takes over.
        int oldLeader = cluster.waitForLeader(RaftSetup.metaGroupId(cluster.config()), Duration.ofSeconds(10));
        long transferAt = System.nanoTime();
        cluster.stopNode(oldLeader);
        TestCluster.waitUntil("another node leads the meta group", Duration.ofSeconds(10),
                () -> leaderOfMeta().filter(n -> n != oldLeader).isPresent());

        TestCluster.waitUntil("the session expires", Duration.ofSeconds(15),
                () -> locks.sessions().stream().noneMatch(s -> s.id() == a.sessionId()));
        long goneAfterTransferMs = (System.nanoTime() - transferAt) / 1_000_000;
        long goneAfterStopMs = (System.nanoTime() - stoppedAt) / 1_000_000;
        assertTrue(goneAfterTransferMs >= leaseMs, "expired " + goneAfterTransferMs + " ms after the leader changed (expected: >= the "
                + leaseMs + " ms lease, timed from the new leader's start); " + goneAfterStopMs + " ms after the last renewal");
        VdiskLock after = locks.lock("web").orElseThrow();
        assertEquals(List.of(), after.holders());
        assertTrue(after.fence() > grant.token());
        // The leader pushed the raised fence to the PGs (best effort, right after the expiry).
        ClusterVdisk zombie = client.open("web", grant::token, () -> HoldState.HELD);
        TestCluster.waitUntil("the expiry's fence on every PG", Duration.ofSeconds(10), () -> {
            try {
                zombie.write(0, block(9), false).join();
                return false;
            } catch (CompletionException e) {
                return e.getCause() instanceof FencedException;
            }
        });
    }

    private Optional<Integer> leaderOfMeta() {
        try {
            return cluster.leaderOf(RaftSetup.metaGroupId(cluster.config()));
        } catch (java.io.IOException e) {
            return Optional.empty();
        }
    }

    /** Sessions, locks and fences are in the meta store: a restart of every meta replica keeps them. */
    @Test
    void locksSurviveAMetaRestart() throws Exception {
        ClusterClient client = start();
        ClusterLocks locks = client.locks();
        HostSessionClient a = session(locks, "host-a", HostSessionClient.LEASE_MS_DEFAULT);
        Grant grant = locks.acquireAndFence(a, "web", LockMode.EXCLUSIVE);
        VdiskLock before = locks.lock("web").orElseThrow();

        for (int node = 1; node <= 3; node++) {
            cluster.stopNode(node);
        }
        for (int node = 1; node <= 3; node++) {
            cluster.startNode(node);
        }
        cluster.waitForAllLeaders(Duration.ofSeconds(30));

        assertEquals(before, locks.lock("web").orElseThrow());
        assertTrue(locks.sessions().stream().anyMatch(s -> s.id() == a.sessionId()), "the session is still open");
        HostSessionClient b = session(locks, "host-b", LEASE_MS_SHORT);
        LockRefusedException e = assertThrows(LockRefusedException.class, () -> b.acquire("web", LockMode.EXCLUSIVE));
        assertEquals(LockResult.Reason.CONFLICT, e.reason());
        ClusterVdisk dev = client.open("web", a);
        TestCluster.waitUntil("the holder renews after the restart", Duration.ofSeconds(10), a::valid);
        dev.write(0, block(5), false).join();
        assertEquals(grant.token(), a.token("web").orElseThrow());
        FencedException stale = fenced(client.open("web", () -> grant.token() - 1, () -> HoldState.HELD).write(0, block(6), false));
        assertEquals(grant.fence(), stale.fence(), "the PGs kept their fence too");
    }

    /**
     * An exclusive lock handed back and forth 1,000 times between two sessions while a writer
     * follows it: after each hand-off the giver's token is refused everywhere, and every write of
     * the holders is still there. Prints the hand-off latency (hand-off committed and fences
     * raised on every PG: what a live migration waits for; the receiver is passed its grant as a
     * migration's destination is).
     */
    @Test
    void handoffBackAndForthUnderAWriter() throws Exception {
        ClusterClient client = start();
        ClusterLocks locks = client.locks();
        HostSessionClient[] hosts = {session(locks, "host-a", HostSessionClient.LEASE_MS_DEFAULT),
                session(locks, "host-b", HostSessionClient.LEASE_MS_DEFAULT)};
        ClusterVdisk[] devs = {client.open("web", hosts[0]), client.open("web", hosts[1])};
        locks.acquireAndFence(hosts[0], "web", LockMode.EXCLUSIVE);
        int handoffs = 1_000;
        int blocks = 16;
        int[] written = new int[blocks];
        long[] nanos = new long[handoffs];
        int holder = 0;
        for (int i = 0; i < handoffs; i++) {
            // The holder writes (as a VM between migrations would), then hands the disk over.
            int b = i % blocks;
            long lba = b * STRIPE + (i / blocks) % 4;
            devs[holder].write(b * STRIPE, numbered(i + 1), false).join();
            written[b] = i + 1;
            long token = hosts[holder].token("web").orElseThrow();
            int next = 1 - holder;
            long start = System.nanoTime();
            Grant g = locks.handoffAndFence(hosts[holder], "web", hosts[next].sessionId());
            nanos[i] = System.nanoTime() - start;
            hosts[next].received(g);
            assertEquals(java.util.OptionalLong.empty(), hosts[holder].token("web"), "the giver no longer holds it");

            // No write from the giver is accepted any more: not through its device, not with its old token.
            fenced(devs[holder].write(b * STRIPE, numbered(-1), false));
            FencedException e = fenced(client.open("web", () -> token, () -> HoldState.HELD).write(lba + 1, numbered(-2), false));
            assertEquals(g.fence(), e.fence());
            holder = next;
        }
        for (int b = 0; b < blocks; b++) {
            assertArrayEquals(numbered(written[b]).array(), read(devs[holder], b * STRIPE), "block " + b + ": the last holder's write survives");
            for (long lba = b * STRIPE + 1; lba <= b * STRIPE + 4; lba++) {
                assertArrayEquals(new byte[BLOCK], read(devs[holder], lba), "lba " + lba + ": no refused write landed");
            }
        }
        Arrays.sort(nanos);
        System.out.printf("hand-off latency over %d hand-offs (hand-off committed in the meta group, then the fence raised on %d PGs): "
                + "p50 %.1f ms, p99 %.1f ms, max %.1f ms%n",
                handoffs, cluster.config().pgCount(), nanos[handoffs / 2] / 1e6, nanos[handoffs * 99 / 100] / 1e6, nanos[handoffs - 1] / 1e6);
    }
}
