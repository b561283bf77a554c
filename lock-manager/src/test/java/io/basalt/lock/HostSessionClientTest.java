package io.basalt.lock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class HostSessionClientTest {
    /** A lock table applied in-process at growing indexes; {@code intercept} may hold back or fail a command. */
    private static final class LocalLocks implements LockService {
        final LockTable table = new LockTable();
        long index;
        volatile UnaryOperator<LockCommand> intercept = c -> c;
        /** Runs after a command was applied, before its answer is returned (outside the table's lock). */
        volatile java.util.function.Consumer<LockResult> afterApply = r -> { };

        @Override
        public LockResult submit(LockCommand command) {
            LockCommand c = intercept.apply(command);
            LockResult r;
            synchronized (this) {
                r = table.apply(++index, c);
            }
            afterApply.accept(r);
            return r;
        }

        @Override
        public synchronized Collection<Session> sessions() {
            return table.sessions();
        }

        @Override
        public synchronized Collection<VdiskLock> locks() {
            return table.locks();
        }

        @Override
        public synchronized Optional<VdiskLock> lock(String vdisk) {
            return table.lock(vdisk);
        }
    }

    private final LocalLocks locks = new LocalLocks();
    private final AtomicLong clock = new AtomicLong(1_000_000_000L);
    private final List<HostSessionClient> opened = new ArrayList<>();

    @AfterEach
    void close() {
        locks.intercept = c -> c;
        opened.forEach(HostSessionClient::close);
    }

    private HostSessionClient open(String host, long leaseMs) {
        HostSessionClient s = HostSessionClient.open(locks, host, leaseMs, clock::get);
        s.stopHeartbeatingForTests(); // the test renews by hand: the heartbeat's timing is not under test
        opened.add(s);
        return s;
    }

    @Test
    void theLeaseCountsFromWhenARenewalWasSentLessTheDriftMargin() {
        HostSessionClient s = open("h", 10_000);
        s.acquire("web", LockMode.EXCLUSIVE);
        clock.addAndGet(8_999_000_000L);
        assertTrue(s.valid());
        assertTrue(s.token("web").isPresent());
        clock.addAndGet(1_000_000L);
        assertFalse(s.valid(), "9 s of a 10 s lease: the last tenth is left to clock drift");
        assertEquals(OptionalLong.empty(), s.token("web"));

        // A renewal sent now, acknowledged later, counts from when it was sent.
        long sentAt = clock.get();
        locks.intercept = c -> {
            clock.addAndGet(5_000_000_000L);
            return c;
        };
        s.renewNow();
        assertTrue(s.valid());
        clock.set(sentAt + 9_000_000_000L);
        assertFalse(s.valid());
    }

    @Test
    void aHolderIsHeldThenUnconfirmedWhenItsLeaseRunsOutThenLostWhenTheTableSaysSo() {
        HostSessionClient a = open("a", 5_000);
        assertEquals(HoldState.LOST, a.hold("web"), "not taken");
        a.acquire("web", LockMode.EXCLUSIVE);
        assertEquals(HoldState.HELD, a.hold("web"));
        clock.addAndGet(4_500_000_000L);
        assertEquals(HoldState.UNCONFIRMED, a.hold("web"), "the lease ran out on the host's clock; the table has not said");
        a.renewNow();
        assertEquals(HoldState.HELD, a.hold("web"), "a renewal that gets through confirms it again");

        clock.addAndGet(4_500_000_000L);
        Session sa = locks.table.session(a.sessionId()).orElseThrow();
        locks.submit(new LockCommand.ExpireSession(sa.id(), sa.renewedAtIndex()));
        assertEquals(HoldState.UNCONFIRMED, a.hold("web"));
        assertThrows(LockRefusedException.class, a::renewNow);
        assertEquals(HoldState.LOST, a.hold("web"), "the table said the session is gone");
    }

    @Test
    void aRefusalThrowsWithTheTablesMessageAndAnExpiredSessionStaysInvalid() {
        HostSessionClient a = open("a", 5_000);
        HostSessionClient b = open("b", 5_000);
        a.acquire("web", LockMode.EXCLUSIVE);
        LockRefusedException e = assertThrows(LockRefusedException.class, () -> b.acquire("web", LockMode.EXCLUSIVE));
        assertEquals(LockResult.Reason.CONFLICT, e.reason());
        assertTrue(e.getMessage().contains("vdisk web is held exclusive by session " + a.sessionId()), e.getMessage());

        Session sa = locks.table.session(a.sessionId()).orElseThrow();
        locks.submit(new LockCommand.ExpireSession(sa.id(), sa.renewedAtIndex()));
        assertThrows(LockRefusedException.class, a::renewNow);
        assertFalse(a.valid(), "the service said the session is gone");
        assertThrows(IllegalStateException.class, () -> a.acquire("web", LockMode.EXCLUSIVE));
        assertEquals(b.acquire("web", LockMode.EXCLUSIVE).token(), b.token("web").orElseThrow());
    }

    @Test
    void aHandoffsReceiverLearnsItsTokenFromItsNextRenewal() {
        HostSessionClient a = open("a", 5_000);
        HostSessionClient b = open("b", 5_000);
        LockResult.Grant first = a.acquire("web", LockMode.EXCLUSIVE);
        LockResult.Grant handed = a.handoff("web", b.sessionId());
        assertTrue(handed.token() > first.token());
        assertEquals(OptionalLong.empty(), a.token("web"));
        assertEquals(OptionalLong.empty(), b.token("web"), "not learned yet");
        assertEquals(List.of(handed), b.renewNow());
        assertEquals(handed.token(), b.token("web").orElseThrow());
    }

    /** A renewal of {@code s}, applied by the table now and answered only when {@link #answer} is called. */
    private LateRenewal lateRenewal(HostSessionClient s) throws InterruptedException {
        java.util.concurrent.CountDownLatch applied = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        locks.afterApply = r -> {
            if (applied.getCount() > 0 && r instanceof LockResult.SessionRenewed) {
                applied.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        Thread renewal = new Thread(s::renewNow);
        renewal.start();
        applied.await();
        locks.afterApply = r -> { };
        return new LateRenewal(release, renewal);
    }

    private record LateRenewal(java.util.concurrent.CountDownLatch release, Thread renewal) {
        void answer() throws InterruptedException {
            release.countDown();
            renewal.join();
        }
    }

    @Test
    void aHandoffsReceiverWritesAtOnceWithTheGrantItIsGivenAndARenewalSentBeforeDoesNotUndoIt() throws Exception {
        HostSessionClient a = open("a", 5_000);
        HostSessionClient b = open("b", 5_000);
        a.acquire("web", LockMode.EXCLUSIVE);
        // b's renewal is applied before the hand-off (it holds nothing then) and answered after b received the grant.
        LateRenewal late = lateRenewal(b);
        LockResult.Grant handed = a.handoff("web", b.sessionId());
        b.received(handed);
        assertEquals(handed.token(), b.token("web").orElseThrow(), "no round trip needed");
        late.answer();
        assertEquals(handed.token(), b.token("web").orElseThrow(), "the renewal sent before the grant was passed on did not undo it");

        assertThrows(IllegalArgumentException.class, () -> a.received(handed), "a grant of another session is refused");
        assertEquals(OptionalLong.empty(), a.token("web"));
    }

    @Test
    void aRenewalAnsweredAfterANewerOneDoesNotUndoIt() throws Exception {
        HostSessionClient a = open("a", 5_000);
        HostSessionClient b = open("b", 5_000);
        a.acquire("web", LockMode.EXCLUSIVE);
        // b's first renewal is applied before the hand-off but answered after b's next renewal.
        LateRenewal late = lateRenewal(b);
        LockResult.Grant handed = a.handoff("web", b.sessionId());
        b.renewNow();
        assertEquals(handed.token(), b.token("web").orElseThrow());
        late.answer();
        assertEquals(handed.token(), b.token("web").orElseThrow(), "the late answer (no grant) did not undo the newer one");
    }

    @Test
    void closeReleasesEveryLockAndRaisesTheFence() {
        HostSessionClient a = open("a", 5_000);
        LockResult.Grant g = a.acquire("web", LockMode.EXCLUSIVE);
        a.close();
        opened.remove(a);
        assertFalse(a.valid());
        VdiskLock web = locks.lock("web").orElseThrow();
        assertEquals(List.of(), web.holders());
        assertTrue(web.fence() > g.token());
        assertTrue(locks.sessions().isEmpty());
    }
}
