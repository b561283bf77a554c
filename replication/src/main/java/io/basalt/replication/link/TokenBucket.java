package io.basalt.replication.link;

import java.util.function.LongSupplier;

/**
 * A bandwidth limit: bytes may be sent at {@code rateBytesPerSecond} on average, with bursts of
 * at most {@code burstBytes}. {@link #acquire} takes what it needs at once, going into debt,
 * and returns how long the caller must wait before sending, so a frame larger than the burst
 * still goes out whole, and concurrent senders queue behind each other's debt. Thread-safe.
 *
 * <p>Kept as a time, not a count of tokens: {@code paidUntilNanos} is when every byte taken so far
 * is paid for at the rate. The bucket is full when that lies {@code burstBytes}' worth of time or
 * more in the past, and in debt while it lies in the future. (A count of tokens refilled with a cap
 * on the elapsed time loses the debt: that made a 1 MB/s limit send at 0.43 MB/s with 1 MiB frames.)
 */
final class TokenBucket {
    private static final long NANOS_PER_SECOND = 1_000_000_000L;
    /** 8 GiB(/s): so that bytes times a second's nanoseconds stays in a long. */
    static final long BURST_BYTES_MAX = 1L << 33;

    private final long rateBytesPerSecond;
    private final long burstNanos;
    private final LongSupplier nanoTime;
    private long paidUntilNanos;

    /** @param nanoTime a monotonic clock ({@code System::nanoTime}; a seam for tests) */
    TokenBucket(long rateBytesPerSecond, long burstBytes, LongSupplier nanoTime) {
        if (rateBytesPerSecond <= 0 || burstBytes <= 0 || burstBytes > BURST_BYTES_MAX || rateBytesPerSecond > BURST_BYTES_MAX) {
            throw new IllegalArgumentException("token bucket: rate " + rateBytesPerSecond + " bytes/s, burst " + burstBytes
                    + " bytes (expected: both 1.." + BURST_BYTES_MAX + ")");
        }
        this.rateBytesPerSecond = rateBytesPerSecond;
        this.burstNanos = nanosFor(burstBytes);
        this.nanoTime = nanoTime;
        this.paidUntilNanos = nanoTime.getAsLong() - burstNanos; // full
    }

    /** Takes {@code bytes}; returns the nanoseconds to wait before sending them (0: at once). */
    synchronized long acquire(long bytes) {
        if (bytes < 0 || bytes > BURST_BYTES_MAX) {
            throw new IllegalArgumentException("bytes: " + bytes + " (expected: 0.." + BURST_BYTES_MAX + ")");
        }
        long now = nanoTime.getAsLong();
        // Idle time earns at most a full bucket; debt (paidUntil in the future) is kept whole.
        long from = now - paidUntilNanos > burstNanos ? now - burstNanos : paidUntilNanos;
        paidUntilNanos = from + nanosFor(bytes);
        return Math.max(0, paidUntilNanos - now);
    }

    private long nanosFor(long bytes) {
        return Math.ceilDiv(Math.multiplyExact(bytes, NANOS_PER_SECOND), rateBytesPerSecond);
    }
}
