package io.basalt.vdisk.store;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongConsumer;

import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.FencedException;

/**
 * One vdisk's fence in memory, and the mutations admitted under it that are still in flight.
 * Shared by every handle of the vdisk (it lives in its {@link VdiskState}), so a raise waits for
 * the writes of all of them. The rule itself is {@link FencedException#check}.
 *
 * <p>Admission ({@link #admit}) checks the token and counts the mutation in one step under this
 * object's monitor; a raise changes the fence under the same monitor, so either the raise sees
 * the mutation counted or the mutation sees the new fence and is refused. The count goes down
 * without the monitor ({@link #done}), when the mutation's future completes.
 *
 * <p>Mutations are counted in one of two phases. Invariant: every mutation counted in phase
 * {@code p} was admitted with a token {@code >= phaseFences[p]}. A phase is <em>stale</em> when
 * {@code phaseFences[p] < fence}: its mutations may carry tokens below the fence. A raise moves
 * new admissions to the other phase, stamped with the new fence, and waits until no stale phase
 * has a mutation in flight; so the stale one only drains, and a raise waits for what was admitted
 * before it, never for the steady stream admitted after it. Only an empty phase can be stamped:
 * after a raise that timed out both may be stale for a while, and admissions then go to a fresh
 * phase as soon as the other one drains ({@link #admit} and {@link #done} move them).
 */
final class FenceGate {
    /** {@link Vdisk#raiseFence} waits at most this long for mutations admitted under a lower fence. */
    static final long RAISE_WAIT_NANOS_MAX = TimeUnit.SECONDS.toNanos(30);
    /** A waiting raise looks again at least this often, even without a notification. */
    private static final long WAIT_SLICE_MILLIS = 10;

    private final String vdisk;
    /** Written under this object's monitor, read anywhere. */
    private volatile long fence;
    /** The phase new admissions are counted in. Guarded by this object's monitor. */
    private int phase;
    /** The fence each phase was started at. Guarded by this object's monitor. */
    private final long[] phaseFences = new long[2];
    /** Mutations in flight per phase: counted up under this object's monitor, down without it. */
    private final AtomicIntegerArray inflight = new AtomicIntegerArray(2);
    /** Raises waiting on this object's monitor; changed under it. */
    private volatile int waiters;
    /** Serialises storing a new fence, so the stored value only grows. */
    private final ReentrantLock storing = new ReentrantLock();

    /** @param vdisk the vdisk's name, for messages; @param fence its stored fence */
    FenceGate(String vdisk, long fence) {
        if (fence < 0) {
            throw new IllegalArgumentException("fence: " + fence + " (expected: >= 0) vdisk=" + vdisk);
        }
        this.vdisk = vdisk;
        this.fence = fence;
        phaseFences[0] = fence;
        phaseFences[1] = fence;
    }

    long fence() {
        return fence;
    }

    /** Throws {@link FencedException} when {@code token} is below the fence now (between the steps of a long mutation). */
    void check(long token) {
        FencedException.check(vdisk, token, fence);
    }

    /**
     * Admits a mutation carrying {@code token}, or throws {@link FencedException} when it is below
     * the fence. An admitted mutation counts as in flight until {@link #done} is called with the
     * returned ticket, exactly once.
     */
    int admit(long token) {
        synchronized (this) {
            FencedException.check(vdisk, token, fence);
            moveToFreshPhase();           // one comparison unless a raise left the current phase stale
            int p = phase;
            inflight.incrementAndGet(p);
            return p;
        }
    }

    /** The mutation admitted with {@code ticket} has finished (applied or failed). */
    void done(int ticket) {
        int left = inflight.decrementAndGet(ticket);
        if (left < 0) {
            throw new IllegalStateException("fence gate of vdisk " + vdisk + ": phase " + ticket + " done more often than admitted");
        }
        if (left == 0 && waiters > 0) {
            synchronized (this) {
                moveToFreshPhase();       // before anything else is admitted into a stale phase
                notifyAll();
            }
        }
    }

    /** Calls {@link #done} when {@code f} completes (at once when it already has); returns {@code f}. */
    <T> CompletableFuture<T> doneWhenComplete(CompletableFuture<T> f, int ticket) {
        if (f.isDone()) {
            done(ticket);                 // the inline path: no callback to allocate
        } else {
            f.whenComplete((ok, err) -> done(ticket));
        }
        return f;
    }

    /**
     * Makes the fence {@code max(fence, newFence)}, calling {@code store} with the new value
     * first (it must be durable when {@code store} returns), then waits, at most
     * {@code waitNanosMax}, until no mutation admitted under a lower fence is in flight. An equal
     * or lower {@code newFence} stores nothing and only waits, so a raise retried after its wait
     * timed out still returns only once the old holder's mutations are over.
     *
     * @throws BlockDeviceException TRANSIENT when the wait timed out (the fence is raised and
     *         stored; raise again to wait again), UNAVAILABLE when interrupted
     */
    void raise(long newFence, LongConsumer store, long waitNanosMax) {
        if (newFence < 0) {
            throw new IllegalArgumentException("fence: " + newFence + " (expected: >= 0) vdisk=" + vdisk);
        }
        long deadline = System.nanoTime() + waitNanosMax;
        storing.lock();
        try {
            if (newFence > fence) {
                store.accept(newFence);   // durable before anything relies on it
                advance(newFence);
            }
        } finally {
            storing.unlock();
        }
        awaitStaleDrained(deadline, waitNanosMax);
    }

    /** Held while a new fence is stored by someone else (an {@link EntryBatch}), so stored fences only grow. */
    ReentrantLock storing() {
        return storing;
    }

    /** Raises the fence in memory to {@code newFence}, already stored by the caller; does not wait. */
    synchronized void advance(long newFence) {
        if (newFence > fence) {
            fence = newFence;
        }
        moveToFreshPhase();
    }

    /** Mutations in flight that were admitted under a fence lower than the current one. */
    synchronized int staleInflight() {
        int n = 0;
        for (int p = 0; p < 2; p++) {
            if (phaseFences[p] < fence) {
                n += inflight.get(p);
            }
        }
        return n;
    }

    /** Once the other phase is empty, new admissions go there, stamped with the current fence. Hold the monitor. */
    private void moveToFreshPhase() {
        int other = 1 - phase;
        if (phaseFences[phase] < fence && inflight.get(other) == 0) {
            phaseFences[other] = fence;
            phase = other;
        }
    }

    private synchronized void awaitStaleDrained(long deadline, long waitNanosMax) {
        waiters++;
        try {
            while (true) {
                moveToFreshPhase();
                int stale = staleInflight();
                if (stale == 0) {
                    return;
                }
                long leftNanos = deadline - System.nanoTime();
                if (leftNanos <= 0) {
                    throw new BlockDeviceException(BlockDeviceException.Kind.TRANSIENT, "fence of vdisk " + vdisk + " raised to "
                            + fence + " and stored, but " + stale + " mutations admitted under a lower fence are still in flight after "
                            + TimeUnit.NANOSECONDS.toMillis(waitNanosMax) + " ms; raise it again to wait again before writing");
                }
                wait(Math.max(1, Math.min(WAIT_SLICE_MILLIS, TimeUnit.NANOSECONDS.toMillis(leftNanos))));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockDeviceException(BlockDeviceException.Kind.UNAVAILABLE, "interrupted waiting for the mutations admitted "
                    + "under a fence below " + fence + " of vdisk " + vdisk + " (the fence is raised and stored)", e);
        } finally {
            waiters--;
        }
    }
}
