package io.basalt.lock;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;

/**
 * The leader's lease timers, on its own monotonic clock (explicit nanos, e.g. {@code System.nanoTime()}).
 * Not replicated and never trusted across leaders: a new leader calls {@link #restartAll}, which
 * gives every session a full lease from that moment, so a leader with a fast or skewed clock can
 * never expire a session early on the word of an older one.
 *
 * <p>A timer only proposes an expiry ({@link #expired}); the expiry happens when the
 * {@link LockCommand.ExpireSession} is applied, and is ignored when a renewal came in first.
 * Not thread-safe.
 */
public final class LeaseTimers {
    private record Timer(long renewedAtIndex, long deadlineNanos) {}

    private final Map<Long, Timer> timers = new TreeMap<>();

    /** Starts every session's lease afresh from {@code nowNanos} (on becoming leader, or after a restore). */
    public void restartAll(Collection<Session> sessions, long nowNanos) {
        timers.clear();
        sessions.forEach(s -> renewed(s, nowNanos));
    }

    /** A session was opened or renewed: its lease runs from {@code nowNanos} (the moment it was applied here). */
    public void renewed(Session s, long nowNanos) {
        timers.put(s.id(), new Timer(s.renewedAtIndex(), nowNanos + s.leaseMs() * 1_000_000L));
    }

    /** A session ended (closed, expired, or is unknown to the table): forget its timer. */
    public void ended(long sessionId) {
        timers.remove(sessionId);
    }

    /** The expiries to propose: sessions whose lease ran out at or before {@code nowNanos}. */
    public List<LockCommand.ExpireSession> expired(long nowNanos) {
        List<LockCommand.ExpireSession> out = new ArrayList<>();
        timers.forEach((id, t) -> {
            if (nowNanos - t.deadlineNanos() >= 0) {
                out.add(new LockCommand.ExpireSession(id, t.renewedAtIndex()));
            }
        });
        return out;
    }

    /** The earliest deadline, to know when to look again. */
    public OptionalLong nextDeadlineNanos() {
        return timers.values().stream().mapToLong(Timer::deadlineNanos).reduce((a, b) -> a - b <= 0 ? a : b);
    }
}
