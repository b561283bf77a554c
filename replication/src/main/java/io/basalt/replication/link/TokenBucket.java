package io.basalt.replication.link;

import java.util.function.LongSupplier;

/**
 * A bandwidth limit: bytes may be sent at {@code rateBytesPerSecond} on average, with bursts of
 * at most {@code burstBytes}. {@link #acquire} takes what it needs at once, going into debt,
 * and returns how long the caller must wait before sending, so a frame larger than the burst
 * still goes out whole, and concurrent senders queue behind each other's debt. Thread-safe.
 */
final class TokenBucket {
    private static final long NANOS_PER_SECOND = 1_000_000_000L;
    /** 8 GiB(/s): so that a burst or rate times a second's nanoseconds stays in a long. */
    static final long BURST_BYTES_MAX = 1L << 33;

    private final long rateBytesPerSecond;
    private final long burstBytes;
    private final LongSupplier nanoTime;
    private final long fullAfterNanos;
    private long tokens;
    private long refilledAtNanos;

    /** @param nanoTime a monotonic clock ({@code System::nanoTime}; a seam for tests) */
    TokenBucket(long rateBytesPerSecond, long burstBytes, LongSupplier nanoTime) {
        if (rateBytesPerSecond <= 0 || burstBytes <= 0 || burstBytes > BURST_BYTES_MAX || rateBytesPerSecond > BURST_BYTES_MAX) {
            throw new IllegalArgumentException("token bucket: rate " + rateBytesPerSecond + " bytes/s, burst " + burstBytes
                    + " bytes (expected: both 1.." + BURST_BYTES_MAX + ")");
        }
        this.rateBytesPerSecond = rateBytesPerSecond;
        this.burstBytes = burstBytes;
        this.nanoTime = nanoTime;
        this.fullAfterNanos = Math.ceilDiv(burstBytes * NANOS_PER_SECOND, rateBytesPerSecond);
        this.tokens = burstBytes;
        this.refilledAtNanos = nanoTime.getAsLong();
    }

    /** Takes {@code bytes}; returns the nanoseconds to wait before sending them (0: at once). */
    synchronized long acquire(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("bytes: " + bytes + " (expected: >= 0)");
        }
        long now = nanoTime.getAsLong();
        // Past the time a refill from empty takes, the bucket is full anyway; capping keeps the product in a long.
        long elapsed = Math.min(now - refilledAtNanos, fullAfterNanos);
        long earned = elapsed * rateBytesPerSecond / NANOS_PER_SECOND;
        if (earned > 0) {
            tokens = Math.min(burstBytes, tokens + earned); // loses under one byte's time per refill: harmless
            refilledAtNanos = now;
        }
        tokens -= bytes;
        return tokens >= 0 ? 0 : Math.ceilDiv(-tokens * NANOS_PER_SECOND, rateBytesPerSecond);
    }
}
