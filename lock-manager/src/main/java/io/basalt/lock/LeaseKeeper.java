package io.basalt.lock;

/**
 * The client's view of its own lease, on its own monotonic clock, for self-fencing: a client stops
 * sending writes once {@link #valid} turns false, before the leader can expire it.
 *
 * <p>Why this is safe: a renewal's lease is counted from the moment the client <em>sent</em> it,
 * which is before the leader applied it (where the leader's timer starts), and it is shortened by
 * {@link #DRIFT_MARGIN_FRACTION} to cover clocks that run at slightly different rates. So the
 * client gives up before any leader may expire the session. The storage's fence check does not
 * depend on this; self-fencing only spares a partitioned host from writes that would be refused.
 * Not thread-safe; the session's heartbeat owns it.
 */
public final class LeaseKeeper {
    /** Share of the lease given up to clock-rate differences between client and leader. */
    public static final double DRIFT_MARGIN_FRACTION = 0.1;

    private final long leaseNanos;
    private long validUntilNanos;
    private boolean everRenewed;

    public LeaseKeeper(long leaseMs) {
        if (leaseMs <= 0) {
            throw new IllegalArgumentException("leaseMs: " + leaseMs + " (expected: > 0)");
        }
        this.leaseNanos = (long) (leaseMs * 1_000_000L * (1 - DRIFT_MARGIN_FRACTION));
    }

    /** A renewal (or the opening) sent at {@code sentNanos} was acknowledged. */
    public void renewed(long sentNanos) {
        long until = sentNanos + leaseNanos;
        if (!everRenewed || until - validUntilNanos > 0) {
            validUntilNanos = until;
        }
        everRenewed = true;
    }

    /** Whether the client may still send writes under its lease at {@code nowNanos}. */
    public boolean valid(long nowNanos) {
        return everRenewed && validUntilNanos - nowNanos > 0;
    }

    /** Nanos left before the lease must be considered lost (negative: already lost). */
    public long remainingNanos(long nowNanos) {
        return everRenewed ? validUntilNanos - nowNanos : -1;
    }
}
