package io.basalt.lock;

/**
 * A host's session: the unit that leases expire. One heartbeat ({@link LockCommand.RenewSession})
 * renews every lock the session holds.
 *
 * <p>{@code id} is the index of the command that opened it, so ids are unique and grow.
 * {@code openedAtMs} and {@code renewedAtMs} are wall-clock times stamped by the proposer and kept
 * for display only: expiry is decided on a monotonic clock by {@link LeaseTimers}, never from these.
 * {@code renewedAtIndex} is the index of the last renewal (or of the opening), so that an expiry
 * decided before a renewal was applied is recognised as stale and ignored.
 */
public record Session(long id, String host, long leaseMs, long openedAtMs, long renewedAtMs, long renewedAtIndex) {
    public Session {
        if (id <= 0) {
            throw new IllegalArgumentException("session id: " + id + " (expected: > 0)");
        }
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException("host: '" + host + "' (expected: a non-blank name) session=" + id);
        }
        if (leaseMs <= 0) {
            throw new IllegalArgumentException("leaseMs: " + leaseMs + " (expected: > 0) host=" + host);
        }
    }

    Session renewedAt(long index, long nowMs) {
        return new Session(id, host, leaseMs, openedAtMs, nowMs, index);
    }
}
