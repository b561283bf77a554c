package io.basalt.node.metrics;

import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import io.basalt.lock.LockEvents;
import io.micrometer.core.instrument.FunctionCounter;

/**
 * Lock and lease events as {@code basalt_lock_events_total{event}}: grants, releases, hand-offs,
 * breaks, sessions opened and closed, lease renewals and expiries, fences raised, and refusals by
 * reason. On a cluster node they are what this node's meta replica applied (every replica applies
 * the same commands, so any node's figures serve); on {@code basalt serve}, the embedded table's.
 */
public final class LockMeters {
    /** The table the counters read: one per process, the last one registered (a registry keeps a meter's first function). */
    private static final AtomicReference<Supplier<LockEvents>> SOURCE = new AtomicReference<>(() -> null);

    private LockMeters() {}

    /** {@code events} may answer null (the table is not open yet): the counters then read 0. */
    public static void register(NodeMetrics metrics, Supplier<LockEvents> events) {
        SOURCE.set(events);
        for (LockEvents.Event e : LockEvents.Event.values()) {
            FunctionCounter.builder("basalt.lock.events", SOURCE, s -> {
                        LockEvents now = s.get().get();
                        return now == null ? 0 : now.get(e);
                    })
                    .tag("event", e.metricName())
                    .description("Lock table events applied: grants, releases, hand-offs, lease renewals and expiries, fences raised, refusals")
                    .register(metrics.registry());
        }
    }
}
