package io.basalt.vdisk.store;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The store's one background thread collecting removed snapshots: it takes the pending
 * collections ({@link SnapshotGc#pending}) one bounded {@link SnapshotGc#step} at a time, each
 * under the catalog's lock, and sleeps when none is left until {@link #wake} (a removal) calls.
 * Writes and reads never wait for it (they take no catalog lock); a namespace change waits for
 * at most one step. A step that fails stops the thread for good (a broken invariant must not be
 * stepped over): {@link #awaitIdle} then throws with that cause, and the next open retries.
 */
final class GcWorker implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(GcWorker.class.getName());
    /** Pause between steps, so a thread waiting for the catalog's lock gets it (a monitor is not fair). */
    static final Duration STEP_PAUSE = Duration.ofMillis(1);
    static final Duration CLOSE_WAIT_MAX = Duration.ofSeconds(30);
    private static final Duration AWAIT_POLL = Duration.ofMillis(100);

    private final Catalog catalog;
    private final SnapshotGc gc;
    /** Gives back blob-file space after a drain; null for none (tests). */
    private final BlobReclaim reclaim;
    /** Vdisks collected since the last drain ended: touched by this thread only. */
    private final java.util.Set<Long> collected = new java.util.HashSet<>();
    private final Object monitor = new Object();
    /** Why no thread runs (the store is read-only), or null. */
    private final String readOnlyReason;
    private final Thread thread;
    private boolean wakeup = true; // resume what a previous run left pending
    private boolean stopping;
    private RuntimeException failure;

    /**
     * Starts the thread unless {@code readOnlyReason} says why the store takes no writes; when
     * the queue is empty, {@code reclaim} (or null) gives back the space of the collected vdisks.
     */
    GcWorker(Catalog catalog, SnapshotGc gc, String storeName, String readOnlyReason, BlobReclaim reclaim) {
        this.catalog = catalog;
        this.gc = gc;
        this.reclaim = reclaim;
        this.readOnlyReason = readOnlyReason;
        this.thread = new Thread(this::run, "vdisk-gc " + storeName);
        thread.setDaemon(true);
        if (readOnlyReason == null) {
            thread.start();
        }
    }

    SnapshotGc gc() {
        return gc;
    }

    /** A collection was queued: start on it. */
    void wake() {
        synchronized (monitor) {
            wakeup = true;
            monitor.notifyAll();
        }
    }

    /**
     * Waits until no collection of vdisk {@code vdiskId} (of any when < 0; {@code what} names it)
     * is pending; throws naming what is left when {@code timeout} passes first, or the failure
     * that stopped the thread.
     */
    void await(long vdiskId, String what, Duration timeout) {
        if (readOnlyReason != null && !gc.pending(vdiskId).isEmpty()) {
            throw new StoreException("snapshot garbage collection of " + what + " waits for a writable open: " + readOnlyReason);
        }
        try {
            if (!awaitIdle(vdiskId, timeout)) {
                throw new StoreException("snapshot garbage collection of " + what + " not done after " + timeout.toMillis() + " ms ("
                        + gc.pending(vdiskId).size() + " removed snapshots left)");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException("interrupted waiting for snapshot garbage collection of " + what, e);
        }
    }

    private boolean awaitIdle(long vdiskId, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (monitor) {
            while (true) {
                if (failure != null) {
                    throw new StoreException("snapshot garbage collection stopped: " + failure.getMessage(), failure);
                }
                if (gc.pending(vdiskId).isEmpty()) {
                    return true;
                }
                long leftNanos = deadline - System.nanoTime();
                if (leftNanos <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(monitor, Math.min(leftNanos, AWAIT_POLL.toNanos()));
            }
        }
    }

    private void run() {
        try {
            while (awaitWork()) {
                drain();
            }
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "snapshot garbage collection stopped; the store keeps serving I/O, the next open retries", e);
            synchronized (monitor) {
                failure = e;
                monitor.notifyAll();
            }
        }
    }

    private boolean awaitWork() {
        synchronized (monitor) {
            while (!wakeup && !stopping) {
                try {
                    monitor.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
            wakeup = false;
            return !stopping;
        }
    }

    /**
     * Runs steps until nothing is pending or the store closes; then, with nothing pending, has
     * {@link BlobReclaim} flush the store and give back the blob space of each large-grain vdisk
     * collected. A failure
     * there is logged and leaves the space to RocksDB's own compactions: it does not stop the
     * collector (nothing about the data depends on it).
     */
    private void drain() {
        while (!isStopping() && stepOnce()) {
            LockSupport.parkNanos(STEP_PAUSE.toNanos());
        }
        if (reclaim == null || isStopping() || collected.isEmpty()) {
            return;
        }
        try {
            reclaim.flushAll();
        } catch (org.rocksdb.RocksDBException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "flushing the store after a snapshot collection failed; its memtables flush when full", e);
        }
        for (long vdiskId : java.util.List.copyOf(collected)) {
            collected.remove(vdiskId);
            if (!reclaim.appliesTo(vdiskId)) {
                continue;
            }
            try {
                reclaim.reclaim(vdiskId);
            } catch (org.rocksdb.RocksDBException | RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "giving back the blob space of vdisk id " + vdiskId + " after its snapshot collection failed;"
                        + " RocksDB's own compactions are left to do it", e);
            }
            if (isStopping()) {
                return;
            }
        }
    }

    /**
     * One step of the first pending collection, on the calling thread; false when none is
     * pending. The thread's loop, and a test's (with the thread {@link #close closed}) to
     * interleave steps with other operations at will.
     */
    boolean stepOnce() {
        synchronized (catalog.lock) {
            List<SnapshotGc.Task> pending = gc.pending(-1);
            if (pending.isEmpty()) {
                return false;
            }
            gc.step(pending.get(0));
            if (Thread.currentThread() == thread) {
                collected.add(pending.get(0).vdiskId());
            }
        }
        synchronized (monitor) {
            monitor.notifyAll(); // awaitIdle looks again
        }
        return true;
    }

    private boolean isStopping() {
        synchronized (monitor) {
            return stopping;
        }
    }

    /** Stops after the step under way (what is left stays queued for the next open). */
    @Override
    public void close() {
        synchronized (monitor) {
            stopping = true;
            monitor.notifyAll();
        }
        if (reclaim != null) {
            reclaim.cancel();
        }
        if (!thread.isAlive()) {
            return;
        }
        try {
            thread.join(CLOSE_WAIT_MAX.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for snapshot garbage collection to stop", e);
        }
        if (thread.isAlive()) {
            throw new IllegalStateException("snapshot garbage collection still running " + CLOSE_WAIT_MAX.toSeconds() + " s after close");
        }
    }
}
