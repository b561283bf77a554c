package io.basalt.lock;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counts of what a lock table applied, by kind, for metrics: grants, releases, hand-offs, breaks,
 * sessions opened and closed, lease renewals and expiries, refusals by reason, and the fences a
 * leaving or incoming writer raised. Each {@link LockTable} counts what it applies, from zero when it
 * is made: a process's count starts with the process, and a replica replaying its log or
 * reloading a snapshot counts afresh (Prometheus reads a fall as a counter reset). Thread-safe:
 * the table counts while a scrape reads.
 */
public final class LockEvents {
    /** One kind of event; {@link #metricName} is the {@code event} label operators see. */
    public enum Event {
        SESSION_OPENED("session-opened"),
        LEASE_RENEWED("lease-renewed"),
        SESSION_CLOSED("session-closed"),
        LEASE_EXPIRED("lease-expired"),
        GRANTED("granted"),
        RELEASED("released"),
        HANDED_OFF("handed-off"),
        BROKEN("broken"),
        FENCE_RAISED("fence-raised"),
        REFUSED_CONFLICT("refused-conflict"),
        REFUSED_NO_SESSION("refused-no-session"),
        REFUSED_NOT_HOLDER("refused-not-holder"),
        REFUSED_STALE("refused-stale"),
        REFUSED_INVALID("refused-invalid");

        private final String metricName;

        Event(String metricName) {
            this.metricName = metricName;
        }

        public String metricName() {
            return metricName;
        }

        static Event refused(LockResult.Reason reason) {
            return switch (reason) {
                case CONFLICT -> REFUSED_CONFLICT;
                case NO_SESSION -> REFUSED_NO_SESSION;
                case NOT_HOLDER -> REFUSED_NOT_HOLDER;
                case STALE -> REFUSED_STALE;
                case INVALID -> REFUSED_INVALID;
            };
        }
    }

    private final Map<Event, LongAdder> counts = new EnumMap<>(Event.class);

    public LockEvents() {
        for (Event e : Event.values()) {
            counts.put(e, new LongAdder());
        }
    }

    /** Counts what {@code result} did (a fence raised is counted by the table, {@link #fenceRaised}). */
    void count(LockResult result) {
        Event event = switch (result) {
            case LockResult.SessionOpened o -> Event.SESSION_OPENED;
            case LockResult.SessionRenewed r -> Event.LEASE_RENEWED;
            case LockResult.SessionEnded e -> e.expired() ? Event.LEASE_EXPIRED : Event.SESSION_CLOSED;
            case LockResult.Granted g -> Event.GRANTED;
            case LockResult.Released r -> Event.RELEASED;
            case LockResult.HandedOff h -> Event.HANDED_OFF;
            case LockResult.Broken b -> Event.BROKEN;
            case LockResult.Forgotten f -> null;
            case LockResult.Refused r -> Event.refused(r.reason());
        };
        if (event != null) {
            counts.get(event).increment();
        }
    }

    /** A vdisk's fence rose: a writer left, or came in alone and shut out every older one. */
    void fenceRaised() {
        counts.get(Event.FENCE_RAISED).increment();
    }

    public long get(Event event) {
        return counts.get(event).sum();
    }

}
