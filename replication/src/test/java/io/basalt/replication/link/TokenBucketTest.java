package io.basalt.replication.link;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

/** The bandwidth limit against a clock the test moves: the rate it keeps, its burst, its debt. */
class TokenBucketTest {
    private static final long SECOND_NANOS = 1_000_000_000L;
    private final AtomicLong clock = new AtomicLong(5 * SECOND_NANOS);

    @Test
    void aFullBucketLetsItsBurstThroughAtOnceAndMakesTheNextByteWait() {
        TokenBucket b = new TokenBucket(1_000_000, 100_000, clock::get);
        assertEquals(0, b.acquire(100_000));
        assertEquals(1_000, b.acquire(1)); // one byte at 1 MB/s: 1 µs
    }

    @Test
    void framesLargerThanTheBurstAreSentAtTheRateOverAnyNumberOfThem() {
        long rate = 1_000_000;
        long burst = 100_000;
        int frameBytes = 1 << 20;
        int frames = 50;
        TokenBucket b = new TokenBucket(rate, burst, clock::get);
        long start = clock.get();
        for (int i = 0; i < frames; i++) {
            clock.addAndGet(b.acquire(frameBytes)); // the sender sleeps as told, then sends
        }
        long elapsedNanos = clock.get() - start;
        // The last frame is sent once its wait is over: every byte but the first burst paid at the rate.
        long expectedNanos = ((long) frames * frameBytes - burst) * SECOND_NANOS / rate;
        assertEquals(expectedNanos, elapsedNanos);
    }

    @Test
    void idleTimeEarnsAtMostOneBurst() {
        TokenBucket b = new TokenBucket(1_000_000, 100_000, clock::get);
        assertEquals(0, b.acquire(100_000));
        clock.addAndGet(60 * SECOND_NANOS);
        assertEquals(0, b.acquire(100_000));
        assertEquals(50_000_000, b.acquire(50_000)); // 50 kB at 1 MB/s: 50 ms, nothing left over from the idle minute
    }

    @Test
    void debtIsKeptWhenTheCallerComesBackEarly() {
        TokenBucket b = new TokenBucket(1_000_000, 100_000, clock::get);
        long wait = b.acquire(1_100_000); // a full bucket and then a second's debt
        assertEquals(SECOND_NANOS, wait);
        clock.addAndGet(wait / 2);
        assertEquals(SECOND_NANOS / 2 + 1_000_000, b.acquire(1_000)); // half the debt left, plus the new 1 ms
    }

    @Test
    void refusesAnImpossibleLimit() {
        assertThrows(IllegalArgumentException.class, () -> new TokenBucket(0, 1, clock::get));
        assertThrows(IllegalArgumentException.class, () -> new TokenBucket(1, TokenBucket.BURST_BYTES_MAX + 1, clock::get));
        TokenBucket b = new TokenBucket(1, 1, clock::get);
        assertThrows(IllegalArgumentException.class, () -> b.acquire(-1));
    }
}
