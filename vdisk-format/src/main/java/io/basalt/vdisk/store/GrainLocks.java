package io.basalt.vdisk.store;

import java.util.Arrays;
import java.util.concurrent.Semaphore;

/**
 * Striped locks over (vdisk, grain), as binary semaphores: a write's locks are released by the
 * commit thread, which is not the thread that took them. Every write holds the locks of the grains it touches from
 * the read of a partial grain to the commit of its batch, which makes read-modify-write of a
 * partial grain and COMPARE AND WRITE atomic against every other write. Stripes are always
 * taken in ascending index order, so two writers can never deadlock.
 */
final class GrainLocks {
    static final int STRIPE_COUNT = 4096;
    /** Requests spanning more grains than this lock every stripe (cheaper than sorting). */
    static final int GRAINS_LOCKED_INDIVIDUALLY_MAX = 256;

    private final Semaphore[] stripes = new Semaphore[STRIPE_COUNT];

    GrainLocks() {
        for (int i = 0; i < STRIPE_COUNT; i++) {
            stripes[i] = new Semaphore(1);
        }
    }

    /** Locks the stripes of grains {@code [first, last]} of {@code vdiskId}; returns what to unlock. */
    int[] lock(long vdiskId, long firstGrain, long lastGrain) {
        int[] indices = indices(vdiskId, firstGrain, lastGrain);
        for (int index : indices) {
            stripes[index].acquireUninterruptibly();
        }
        return indices;
    }

    /** The stripes of grains {@code [first, last]} of {@code vdiskId}, ascending, each once. */
    private static int[] indices(long vdiskId, long firstGrain, long lastGrain) {
        long count = lastGrain - firstGrain + 1;
        int[] indices;
        if (count > GRAINS_LOCKED_INDIVIDUALLY_MAX) {
            indices = new int[STRIPE_COUNT];
            for (int i = 0; i < STRIPE_COUNT; i++) {
                indices[i] = i;
            }
        } else {
            int[] raw = new int[(int) count];
            for (int i = 0; i < count; i++) {
                raw[i] = stripe(vdiskId, firstGrain + i);
            }
            Arrays.sort(raw);
            indices = distinct(raw);
        }
        return indices;
    }

    /**
     * Like {@link #lock} but never waits: returns null (holding nothing) when a stripe is taken.
     * For callers that must not block (a write tried on its caller's thread).
     */
    int[] tryLock(long vdiskId, long firstGrain, long lastGrain) {
        int[] indices = indices(vdiskId, firstGrain, lastGrain);
        for (int i = 0; i < indices.length; i++) {
            if (!stripes[indices[i]].tryAcquire()) {
                for (int j = i - 1; j >= 0; j--) {
                    stripes[indices[j]].release();
                }
                return null;
            }
        }
        return indices;
    }

    void unlock(int[] indices) {
        for (int i = indices.length - 1; i >= 0; i--) {
            stripes[indices[i]].release();
        }
    }

    private static int stripe(long vdiskId, long grain) {
        long h = vdiskId * 0x9E3779B97F4A7C15L + grain;
        h ^= h >>> 29;
        h *= 0xBF58476D1CE4E5B9L;
        h ^= h >>> 32;
        return (int) (h & (STRIPE_COUNT - 1));
    }

    private static int[] distinct(int[] sorted) {
        int n = 0;
        for (int i = 0; i < sorted.length; i++) {
            if (i == 0 || sorted[i] != sorted[i - 1]) {
                sorted[n++] = sorted[i];
            }
        }
        return n == sorted.length ? sorted : Arrays.copyOf(sorted, n);
    }
}
