package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.FencedException;

/**
 * The gate alone: admission, the wait of a raise, and the two phases that keep a raise from
 * waiting for mutations admitted after it. A raise that must wait runs on its own thread; the
 * test sees it waiting through {@link FenceGate#staleInflight} and the thread's state, never
 * through a sleep.
 */
class FenceGateTest {
    private static final long SHORT_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private final List<Long> stored = new ArrayList<>();

    @Test
    void raiseStoresTheNewFenceBeforeRaisingItAndRefusesLowerTokensAfter() {
        FenceGate gate = new FenceGate("web1", 0);
        gate.raise(12, f -> {
            assertEquals(0, gate.fence(), "stored before it is raised in memory");
            stored.add(f);
        }, SHORT_WAIT_NANOS);
        assertEquals(List.of(12L), stored);
        assertEquals(12, gate.fence());
        FencedException e = assertThrows(FencedException.class, () -> gate.admit(11));
        assertEquals(11, e.token());
        gate.done(gate.admit(12));
    }

    @Test
    void aLowerOrEqualRaiseStoresNothing() {
        FenceGate gate = new FenceGate("web1", 12);
        gate.raise(12, stored::add, SHORT_WAIT_NANOS);
        gate.raise(5, stored::add, SHORT_WAIT_NANOS);
        assertEquals(List.of(), stored);
        assertEquals(12, gate.fence());
    }

    @Test
    void aRaiseThatWaitedTooLongSaysSoAndARetryWaitsAgain() throws Exception {
        FenceGate gate = new FenceGate("web1", 0);
        int stale = gate.admit(5);
        BlockDeviceException e = assertThrows(BlockDeviceException.class, () -> gate.raise(7, stored::add, SHORT_WAIT_NANOS));
        assertEquals(BlockDeviceException.Kind.TRANSIENT, e.kind());
        assertTrue(e.getMessage().contains("1 mutations admitted under a lower fence are still in flight"), e.getMessage());
        assertEquals(7, gate.fence(), "raised and stored all the same");
        assertEquals(List.of(7L), stored);

        Raise retry = raiseOnAnotherThread(gate, 7);
        awaitWaiting(retry);
        assertFalse(retry.isDone(), "the retry returns only once the stale mutation is over");
        gate.done(stale);
        retry.get(10, TimeUnit.SECONDS);
        assertEquals(List.of(7L), stored, "the equal retry stored nothing");
    }

    @Test
    void aRaiseDoesNotWaitForMutationsAdmittedAfterIt() throws Exception {
        FenceGate gate = new FenceGate("web1", 0);
        int oldHolder = gate.admit(5);
        Raise raise = raiseOnAnotherThread(gate, 7);
        awaitWaiting(raise);
        int newHolder = gate.admit(7);       // keeps going while the raise waits
        assertEquals(1, gate.staleInflight());
        gate.done(oldHolder);
        raise.get(10, TimeUnit.SECONDS);     // returns with the new holder's mutation still in flight
        gate.done(newHolder);
    }

    @Test
    void afterATimedOutRaiseALaterOneWaitsForBothOlderGenerationsOnly() throws Exception {
        FenceGate gate = new FenceGate("web1", 0);
        int first = gate.admit(5);
        assertThrows(BlockDeviceException.class, () -> gate.raise(7, stored::add, SHORT_WAIT_NANOS));
        int second = gate.admit(7);          // counted in the fresh phase of fence 7
        Raise raise = raiseOnAnotherThread(gate, 9);
        awaitWaiting(raise);
        assertEquals(2, gate.staleInflight());
        gate.done(first);
        int third = gate.admit(9);           // admitted under fence 9: not waited for
        assertFalse(raise.isDone());
        gate.done(second);
        raise.get(10, TimeUnit.SECONDS);
        assertEquals(0, gate.staleInflight());
        gate.done(third);
    }

    @Test
    void aMutationDoneTwiceIsABug() {
        FenceGate gate = new FenceGate("web1", 0);
        int ticket = gate.admit(0);
        gate.done(ticket);
        assertThrows(IllegalStateException.class, () -> gate.done(ticket));
    }

    /** A raise running on a thread of its own. */
    private record Raise(Thread thread, CompletableFuture<Void> done) {
        boolean isDone() {
            return done.isDone();
        }

        void get(long timeout, TimeUnit unit) throws Exception {
            done.get(timeout, unit);
        }
    }

    private Raise raiseOnAnotherThread(FenceGate gate, long fence) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                gate.raise(fence, stored::add, TimeUnit.SECONDS.toNanos(30));
                done.complete(null);
            } catch (Throwable e) {
                done.completeExceptionally(e);
            }
        }, "raise-" + fence);
        t.setDaemon(true);
        t.start();
        return new Raise(t, done);
    }

    /**
     * Until the raise's thread waits on the gate's monitor: it is in its wait loop (nothing else
     * in a raise waits with a timeout). Fails if the raise returned instead.
     */
    private static void awaitWaiting(Raise raise) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (raise.thread().getState() != Thread.State.TIMED_WAITING) {
            assertFalse(raise.isDone(), "the raise returned instead of waiting");
            assertTrue(System.nanoTime() < deadline, "the raise did not start waiting: " + raise.thread().getState());
            Thread.onSpinWait();
        }
    }
}
