package io.basalt.vdisk.store;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import io.basalt.vdisk.BlockDeviceException;

/**
 * Where one {@link Vdisk} handle's operations run, and how many are in flight: on the store's
 * I/O pool ({@link #submit}), or on the caller's thread when that costs no waiting
 * ({@link #tryInline}). Every operation counts as in flight until its future completes, so
 * {@link #close} can wait for them; once closed, new operations are refused.
 */
final class InflightOps {
    /** What an operation tried on the caller's thread returns when it would have to wait. */
    static final Object DECLINED = new Object();
    /** close() waits at most this long for operations in flight. */
    static final long CLOSE_WAIT_NANOS_MAX = TimeUnit.SECONDS.toNanos(30);

    private final String name;
    private final Executor executor;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicInteger inflight = new AtomicInteger();

    /** @param name the vdisk's name, for messages */
    InflightOps(String name, Executor executor) {
        this.name = name;
        this.executor = executor;
    }

    boolean closed() {
        return closed.get();
    }

    /** Runs {@code task} on the I/O pool; a failed future (UNAVAILABLE) once closed or when the queue is full. */
    <T> CompletableFuture<T> submit(Supplier<T> task) {
        if (closed.get()) {
            return CompletableFuture.failedFuture(new BlockDeviceException(BlockDeviceException.Kind.UNAVAILABLE,
                    "vdisk " + name + " is closed"));
        }
        try {
            return tracked(CompletableFuture.supplyAsync(task, executor));
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(new BlockDeviceException(BlockDeviceException.Kind.UNAVAILABLE,
                    "vdisk " + name + ": I/O queue full or store closed", e));
        }
    }

    /** Counts {@code f} as in flight until it completes, so {@link #close} can wait for it. */
    <T> CompletableFuture<T> tracked(CompletableFuture<T> f) {
        inflight.incrementAndGet();
        f.whenComplete((ok, err) -> done());
        return f;
    }

    /**
     * Runs {@code op} on the caller's thread if that costs no waiting, and returns its completed
     * (or failed) future; returns null when it declined, and the caller submits the operation to
     * the pool as usual. Tried only when nothing else of this vdisk is in flight, so it never
     * overtakes a queued operation. That is queue depth 1, and also any depth from one caller
     * thread (an iSCSI connection's event loop): each inline operation is over before the caller
     * issues the next, so its small non-FUA I/O never leaves that thread and non-FUA writes are
     * not group-committed (they are not synced, so a group saves little). FUA writes and flushes
     * always take the pool and the committer. {@code op} returns {@link #DECLINED} rather than
     * wait for a lock, reads memtables and block cache only and writes with no_slowdown, so
     * RocksDB's {@code Incomplete} (a file read or a write stall ahead) declines too. The future
     * fails the way {@code supplyAsync}'s would (a {@link CompletionException} around the error).
     */
    @SuppressWarnings("unchecked")
    <T> CompletableFuture<T> tryInline(Supplier<Object> op) {
        if (inflight.get() != 0 || closed.get()) {
            return null;
        }
        inflight.incrementAndGet();   // before the second look at closed: close() then waits for us
        try {
            if (closed.get()) {
                return null;          // the pool path refuses it
            }
            Object result = op.get();
            return result == DECLINED ? null : CompletableFuture.completedFuture((T) result);
        } catch (RuntimeException e) {
            return StoreDb.incomplete(e) ? null : CompletableFuture.failedFuture(new CompletionException(e));
        } finally {
            done();
        }
    }

    /**
     * Refuses new operations and waits, at most {@link #CLOSE_WAIT_NANOS_MAX}, for those in
     * flight. Returns true for the call that closed, false if already closed.
     */
    boolean close() {
        if (!closed.compareAndSet(false, true)) {
            return false;
        }
        long deadline = System.nanoTime() + CLOSE_WAIT_NANOS_MAX;
        synchronized (inflight) {
            while (inflight.get() > 0 && System.nanoTime() < deadline) {
                try {
                    inflight.wait(10);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        return true;
    }

    private void done() {
        if (inflight.decrementAndGet() == 0) {
            synchronized (inflight) {
                inflight.notifyAll();
            }
        }
    }
}
