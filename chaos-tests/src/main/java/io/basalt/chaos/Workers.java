package io.basalt.chaos;

import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.client.ClusterVdisk;
import io.basalt.vdisk.BlockDeviceException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Closed-loop client workers of a workload, each a platform thread running {@code step} until
 * {@link #stop}; what is shared by the workloads: unique values, blocks that hold one value
 * repeated, and naming why an operation failed.
 */
final class Workers {
    /** Pause after a failed operation, so a worker does not spin while a group has no quorum. */
    static final Duration BACKOFF = Duration.ofMillis(100);
    /** How long {@link #stop} waits for each worker to finish its operation (bounded by the client's I/O timeout). */
    static final Duration JOIN_WAIT = Duration.ofSeconds(90);

    /** One worker's loop body; {@code process} is its number, {@code seq} counts its operations from 1. */
    interface Step {
        /** Runs one operation; returns false when it failed (the worker then backs off). */
        boolean run(int process, long seq) throws InterruptedException;
    }

    private final AtomicBoolean stopping = new AtomicBoolean();
    private final List<Thread> threads = new ArrayList<>();

    void start(String name, int process, Step step) {
        threads.add(Thread.ofPlatform().name(name + "-" + process).daemon().start(() -> {
            try {
                for (long seq = 1; !stopping.get(); seq++) {
                    if (!step.run(process, seq)) {
                        Thread.sleep(BACKOFF.toMillis());
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
    }

    boolean stopping() {
        return stopping.get();
    }

    /** Tells every worker to stop after its current operation, and waits for them. */
    void stop() throws InterruptedException {
        stopping.set(true);
        for (Thread t : threads) {
            t.join(JOIN_WAIT.toMillis());
            if (t.isAlive()) {
                throw new IllegalStateException(t.getName() + " did not finish its operation within " + JOIN_WAIT.toSeconds() + " s");
            }
        }
    }

    /** A value no other write of the run uses: the worker's process number above bit 40, its sequence below. */
    static long uniqueValue(int process, long seq) {
        if (seq >= (1L << 40) || process < 0 || process >= (1 << 22)) {
            throw new IllegalArgumentException("process " + process + " seq " + seq + " (expected: process < 2^22, seq < 2^40)");
        }
        return ((long) process << 40) | seq;
    }

    /** A block of {@code sizeBytes} holding {@code value} repeated. */
    static ByteBuffer encode(long value, int sizeBytes) {
        ByteBuffer b = ByteBuffer.allocate(sizeBytes);
        while (b.hasRemaining()) {
            b.putLong(value);
        }
        return b.flip();
    }

    /** The value a block holds, or null when it is not one value repeated (a torn write). */
    static Long decode(ByteBuffer b) {
        long first = b.getLong(b.position());
        for (int i = b.position(); i + 8 <= b.limit(); i += 8) {
            if (b.getLong(i) != first) {
                return null;
            }
        }
        return first;
    }

    /**
     * Opens {@code vdisk} for a workload's final reads, trying again while a placement group has
     * no leader yet (opening touches every group): after a kill of every node a group can answer
     * its leader probe and still be replaying its log for a while.
     */
    static ClusterVdisk openAfterFaults(ClusterClient client, String vdisk, Duration wait)
            throws InterruptedException, TimeoutException {
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            try {
                return client.open(vdisk);
            } catch (BlockDeviceException e) {
                if (System.nanoTime() > deadline) {
                    throw new TimeoutException("opening " + vdisk + " after the faults failed for " + wait.toSeconds() + " s: " + e.getMessage());
                }
                Thread.sleep(BACKOFF.toMillis());
            }
        }
    }

    /** Why an operation failed, in one short line for the history. */
    static String why(Throwable e) {
        Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
        String message = String.valueOf(cause.getMessage());
        return cause.getClass().getSimpleName() + ": " + (message.length() > 200 ? message.substring(0, 200) + "..." : message);
    }
}
