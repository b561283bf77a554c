package io.basalt.vdisk.store;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

import io.basalt.vdisk.BlockDeviceException;

/**
 * Group commit: one thread takes the prepared writes that queued up while the previous batch
 * was being written and commits them as one RocksDB batch, so 32 concurrent 4 KiB writes cost
 * one WAL append (and one fsync if any of them is FUA) instead of 32. Each write keeps its grain
 * and vdisk locks until its batch is in the WAL; {@link Pending#release} gives them back, then
 * its future completes. Futures complete on this thread: callers must not block in callbacks.
 */
final class GroupCommitter implements AutoCloseable {
    static final int QUEUE_DEPTH_MAX = 1024;
    static final int BATCH_WRITES_MAX = 64;
    static final long BATCH_BYTES_MAX = 8L << 20;

    /** One key-value change; {@code value == null} deletes. */
    record Op(ColumnFamilyHandle cf, byte[] key, byte[] value) {}

    /** A prepared write waiting for its commit. */
    record Pending(List<Op> ops, boolean sync, Runnable release, CompletableFuture<Void> done) {
        long bytes() {
            long sum = 0;
            for (Op op : ops) {
                sum += op.key().length + (op.value() == null ? 0 : op.value().length);
            }
            return sum;
        }
    }

    private final StoreDb db;
    private final ArrayBlockingQueue<Pending> queue = new ArrayBlockingQueue<>(QUEUE_DEPTH_MAX);
    private final Thread thread;
    private volatile boolean running = true;
    /** True from taking a group off the queue until its futures are completed. */
    private volatile boolean committing;

    GroupCommitter(StoreDb db, String name) {
        this.db = db;
        this.thread = Thread.ofPlatform().daemon().name(name).start(this::loop);
    }

    /** Queues a prepared write; blocks while the queue is full (back-pressure on the I/O threads). */
    void submit(Pending p) {
        if (!running) {
            p.release().run();
            p.done().completeExceptionally(new BlockDeviceException(BlockDeviceException.Kind.UNAVAILABLE, "store is closed"));
            return;
        }
        try {
            queue.put(p);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.release().run();
            p.done().completeExceptionally(new BlockDeviceException(BlockDeviceException.Kind.UNAVAILABLE, "interrupted queueing a write"));
        }
    }

    /**
     * True when nothing is queued and no batch is being written: a write made now on another
     * thread will not wait behind one of ours (a fsync, say) inside RocksDB. A hint only: a batch
     * may start right after, and then that write waits for at most that one batch.
     */
    boolean idle() {
        return !committing && queue.isEmpty();
    }

    private void loop() {
        List<Pending> group = new ArrayList<>(BATCH_WRITES_MAX);
        while (running || !queue.isEmpty()) {
            try {
                Pending first = queue.poll(50, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                committing = true;
                group.add(first);
                long bytes = first.bytes();
                Pending next;
                while (group.size() < BATCH_WRITES_MAX && bytes < BATCH_BYTES_MAX && (next = queue.poll()) != null) {
                    group.add(next);
                    bytes += next.bytes();
                }
                commit(group);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } finally {
                group.clear();
                committing = false;
            }
        }
    }

    private void commit(List<Pending> group) {
        boolean sync = false;
        Exception failure = null;
        try (WriteBatch batch = new WriteBatch()) {
            for (Pending p : group) {
                sync |= p.sync();
                addTo(batch, p.ops());
            }
            db.db.write(sync ? db.syncWriteOptions() : db.writeOptions, batch);
        } catch (RocksDBException | RuntimeException e) {
            failure = e;
        }
        for (Pending p : group) {
            p.release().run();
            if (failure == null) {
                p.done().complete(null);
            } else {
                p.done().completeExceptionally(StoreErrors.blockDevice("write failed", failure));
            }
        }
    }

    static void addTo(WriteBatch batch, List<Op> ops) throws RocksDBException {
        for (Op op : ops) {
            if (op.value() == null) {
                batch.delete(op.cf(), op.key());
            } else {
                batch.put(op.cf(), op.key(), op.value());
            }
        }
    }

    @Override
    public void close() {
        running = false;
        try {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            throw new IllegalStateException("commit thread still running 30 s after close");
        }
    }
}
