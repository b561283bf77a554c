package io.basalt.node.locks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.lock.HostSessionClient;
import io.basalt.lock.LockCommand;
import io.basalt.lock.LockMode;
import io.basalt.lock.LockResult;
import io.basalt.lock.LockResult.Grant;
import io.basalt.lock.Session;
import io.basalt.lock.VdiskLock;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.FencedException;
import io.basalt.vdisk.store.Vdisk;
import io.basalt.vdisk.store.VdiskStore;

/** The embedded lock table on a real store: persistence, leases, tokens and the engine's fences. */
class EmbeddedLocksTest {
    private static final long LEASE_MS = 1_000;
    private static final int BLOCK = 4096;
    private static final int BLOCK_COUNT = 64;

    @TempDir
    Path dir;

    private VdiskStore store() {
        return VdiskStore.open(dir.resolve("store"));
    }

    private static Session open(EmbeddedLocks locks, String host) {
        return ((LockResult.SessionOpened) locks.submit(new LockCommand.OpenSession(host, LEASE_MS, 0))).session();
    }

    private static Grant acquire(EmbeddedLocks locks, long session, String vdisk) {
        return ((LockResult.Granted) locks.submit(new LockCommand.Acquire(session, vdisk, LockMode.EXCLUSIVE))).grant();
    }

    @Test
    void sessionsLocksAndTheLastIndexSurviveAReopen() {
        Session a;
        Grant g;
        try (VdiskStore s = store(); EmbeddedLocks locks = EmbeddedLocks.open(s)) {
            s.create("web1", 1 << 20);
            a = open(locks, "host-a");
            g = acquire(locks, a.id(), "web1");
        }
        try (VdiskStore s = store(); EmbeddedLocks locks = EmbeddedLocks.open(s)) {
            assertEquals(g.token(), locks.lastIndex());
            assertEquals(1, locks.sessions().size());
            assertEquals("host-a", locks.sessions().iterator().next().host());
            VdiskLock l = locks.lock("web1").orElseThrow();
            assertEquals(a.id(), l.exclusive().orElseThrow().sessionId());
            assertEquals(g.token(), l.exclusive().orElseThrow().token());
            try (Vdisk v = s.open("web1")) {
                assertEquals(g.fence(), v.fence(), "the grant's fence is in the engine");
            }
        }
    }

    @Test
    void tokensKeepGrowingAcrossReopens() {
        long previous = 0;
        for (int round = 0; round < 3; round++) {
            try (VdiskStore s = store(); EmbeddedLocks locks = EmbeddedLocks.open(s)) {
                if (!s.exists("web1")) {
                    s.create("web1", 1 << 20);
                }
                Session a = open(locks, "host-" + round);
                if (round > 0) {
                    locks.submit(new LockCommand.Break("web1"));
                }
                Grant g = acquire(locks, a.id(), "web1");
                assertTrue(g.token() > previous, "round " + round + ": token " + g.token() + " after " + previous);
                previous = g.token();
            }
        }
    }

    @Test
    void theMonitorExpiresASilentSessionAndRaisesTheEnginesFence() {
        AtomicLong nanos = new AtomicLong(1_000_000_000L);
        try (VdiskStore s = store(); EmbeddedLocks locks = EmbeddedLocks.open(s, nanos::get)) {
            s.create("web1", 1 << 20);
            Session a = open(locks, "host-a");
            Grant g = acquire(locks, a.id(), "web1");
            nanos.addAndGet((LEASE_MS - 1) * 1_000_000L);
            assertEquals(0, locks.expireDue(nanos.get()), "not before the lease has run out");
            nanos.addAndGet(1_000_000L);
            assertEquals(1, locks.expireDue(nanos.get()));
            assertTrue(locks.sessions().isEmpty());
            VdiskLock l = locks.lock("web1").orElseThrow();
            assertTrue(l.holders().isEmpty());
            assertTrue(l.fence() > g.token());
            try (Vdisk v = s.open("web1")) {
                assertEquals(l.fence(), v.fence(), "the zombie is shut out before anyone else takes the lock");
                CompletionException e = assertThrows(CompletionException.class, () -> v.withToken(g.token()).write(0, block(1), false).join());
                assertInstanceOf(FencedException.class, e.getCause());
            }
        }
    }

    @Test
    void aReopenGivesEveryPersistedSessionAFullLeaseOnTheRealClock() throws Exception {
        long id;
        try (VdiskStore s = store(); EmbeddedLocks locks = EmbeddedLocks.open(s)) {
            id = open(locks, "host-a").id();
        }
        Thread.sleep(LEASE_MS + 200);    // longer than the lease, while no process held the store
        try (VdiskStore s = store(); EmbeddedLocks locks = EmbeddedLocks.open(s).startLeaseMonitor()) {
            assertEquals(id, locks.sessions().iterator().next().id(), "the lease restarts at open: not expired at once");
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (!locks.sessions().isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertTrue(locks.sessions().isEmpty(), "the monitor expired it after a lease");
        }
    }

    @Test
    void anAcquireOfAMissingVdiskIsRefusedByName() {
        try (VdiskStore s = store(); EmbeddedLocks locks = EmbeddedLocks.open(s)) {
            Session a = open(locks, "host-a");
            LockResult r = locks.submit(new LockCommand.Acquire(a.id(), "nope", LockMode.EXCLUSIVE));
            assertEquals("vdisk: nope (expected: an existing vdisk)", ((LockResult.Refused) r).message());
        }
    }

    /**
     * The zombie, without iSCSI (two host sessions of one process): A holds the lock and writes
     * numbered blocks, stops heartbeating past its lease, B takes the lock and writes, A goes on
     * with its old token. None of A's writes after B's fence lands.
     */
    @Test
    void aZombieHostsWritesAfterTheTakeoverAreRefusedByTheEngine() throws Exception {
        Result r = zombie();
        assertTrue(r.refused() >= 1, "A was told it was fenced: " + r);
        assertEquals(0, r.landedAfterTakeover(), "no write of A after B's fence landed: " + r);
    }

    /** With the engine's fences never raised (the test switch), the same run lets A's writes land: the test above can fail. */
    @Test
    void withoutTheEnginesFencesTheZombiesWritesLand() throws Exception {
        System.setProperty(EmbeddedLocks.SKIP_ENGINE_FENCES_PROPERTY, "true");
        Result r;
        try {
            r = zombie();
        } finally {
            System.clearProperty(EmbeddedLocks.SKIP_ENGINE_FENCES_PROPERTY);
        }
        assertEquals(0, r.refused(), r.toString());
        assertTrue(r.landedAfterTakeover() > 0, r.toString());
    }

    /**
     * 1,000 exclusive hand-offs back and forth between two sessions under a writer: the giver's
     * token is refused by the engine right after each hand-off, and every write of a holder is
     * there at the end. Prints the hand-off latency (the table's synced write, then the engine's
     * fence raised).
     */
    @Test
    void aThousandHandoffsUnderAWriterLoseNoWriteAndShutOutEachGiver() {
        try (VdiskStore s = store(); EmbeddedLocks locks = EmbeddedLocks.open(s);
             Vdisk handle = s.open(s.create("web1", BLOCK_COUNT * BLOCK, 512, BLOCK).name())) {
            HostSessionClient[] hosts = {HostSessionClient.open(locks, "host-a"), HostSessionClient.open(locks, "host-b")};
            try {
                BlockDevice[] devs = {handle.withToken(hosts[0].acquire("web1", LockMode.EXCLUSIVE).token()), null};
                int handoffs = 1_000;
                long[] written = new long[BLOCK_COUNT];
                long[] nanos = new long[handoffs];
                int holder = 0;
                for (int i = 0; i < handoffs; i++) {
                    int blk = i % BLOCK_COUNT;
                    devs[holder].write(lba(blk), block(i + 1), false).join();
                    written[blk] = i + 1;
                    int next = 1 - holder;
                    long start = System.nanoTime();
                    Grant g = hosts[holder].handoff("web1", hosts[next].sessionId());
                    nanos[i] = System.nanoTime() - start;
                    devs[next] = handle.withToken(g.token());
                    CompletionException e = assertThrows(CompletionException.class,
                            () -> devs[1 - next].write(lba((blk + 1) % BLOCK_COUNT), block(-1), false).join(), "hand-off " + i);
                    assertEquals(g.fence(), assertInstanceOf(FencedException.class, e.getCause()).fence());
                    holder = next;
                }
                for (int blk = 0; blk < BLOCK_COUNT; blk++) {
                    assertArrayEquals(block(written[blk]).array(), bytes(handle.read(lba(blk), BLOCK / 512).join()), "block " + blk);
                }
                Arrays.sort(nanos);
                System.out.printf("embedded hand-off latency over %d hand-offs (synced table write, engine fence raised): p50 %.2f ms, p99 %.2f ms%n",
                        handoffs, nanos[handoffs / 2] / 1e6, nanos[handoffs * 99 / 100] / 1e6);
            } finally {
                hosts[0].close();
                hosts[1].close();
            }
        }
    }

    record Result(int refused, int landedAfterTakeover) {}

    private Result zombie() throws Exception {
        try (VdiskStore s = store(); EmbeddedLocks locks = EmbeddedLocks.open(s).startLeaseMonitor();
             Vdisk handle = s.open(s.create("web1", BLOCK_COUNT * BLOCK, 512, BLOCK).name())) {
            HostSessionClient a = HostSessionClient.open(locks, "host-a", LEASE_MS, System::nanoTime);
            HostSessionClient b = HostSessionClient.open(locks, "host-b", LEASE_MS, System::nanoTime);
            try {
                BlockDevice devA = handle.withToken(a.acquire("web1", LockMode.EXCLUSIVE).token());
                int half = BLOCK_COUNT / 2;
                for (int i = 0; i < half; i++) {
                    devA.write(lba(i), block(1000 + i), false).join();
                }
                a.stopHeartbeatingForTests();            // A freezes
                long deadline = System.nanoTime() + 10_000_000_000L;
                while (locks.sessions().stream().anyMatch(x -> x.id() == a.sessionId()) && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                BlockDevice devB = handle.withToken(b.acquire("web1", LockMode.EXCLUSIVE).token());
                for (int i = 0; i < half / 2; i++) {
                    devB.write(lba(i), block(2000 + i), false).join();
                }
                int refused = 0;
                for (int i = half; i < BLOCK_COUNT; i++) {       // A resumes with its old token
                    try {
                        devA.write(lba(i), block(1000 + i), false).join();
                    } catch (CompletionException e) {
                        assertInstanceOf(FencedException.class, e.getCause());
                        refused++;
                    }
                }
                int landed = 0;
                for (int i = 0; i < BLOCK_COUNT; i++) {
                    byte[] got = bytes(handle.read(lba(i), BLOCK / 512).join());
                    if (i < half / 2) {
                        assertArrayEquals(block(2000 + i).array(), got, "block " + i + " holds B's data");
                    } else if (i < half) {
                        assertArrayEquals(block(1000 + i).array(), got, "block " + i + " holds A's data from before the takeover");
                    } else if (!Arrays.equals(new byte[BLOCK], got)) {
                        assertArrayEquals(block(1000 + i).array(), got, "block " + i);
                        landed++;
                    }
                }
                return new Result(refused, landed);
            } finally {
                a.close();
                b.close();
            }
        }
    }

    private static long lba(int block) {
        return (long) block * BLOCK / 512;
    }

    /** A block numbered {@code n}: its number in every 8 bytes. */
    static ByteBuffer block(long n) {
        ByteBuffer b = ByteBuffer.allocate(BLOCK);
        while (b.hasRemaining()) {
            b.putLong(n);
        }
        return b.flip();
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }
}
