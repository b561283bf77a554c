package io.basalt.lock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.basalt.lock.LockCommand.ExpireSession;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class LeaseTimersTest {
    private static final long MS = 1_000_000L;

    private final LeaseTimers timers = new LeaseTimers();
    private final Session a = new Session(1, "a", 8_000, 0, 0, 1);
    private final Session b = new Session(2, "b", 4_000, 0, 0, 2);

    @Test
    void aLeaseRunsOutAtItsDeadlineAndNotBefore() {
        timers.renewed(a, 100 * MS);
        assertEquals(List.of(), timers.expired(8_100 * MS - 1));
        assertEquals(List.of(new ExpireSession(1, 1)), timers.expired(8_100 * MS));
    }

    @Test
    void aRenewalMovesTheDeadlineAndTheIndexTheExpiryNames() {
        timers.renewed(a, 0);
        timers.renewed(a.renewedAt(7, 0), 5_000 * MS);
        assertEquals(List.of(), timers.expired(12_000 * MS));
        assertEquals(List.of(new ExpireSession(1, 7)), timers.expired(13_000 * MS));
    }

    @Test
    void newLeaderRestartsEveryLease() {
        // The old leader's timers said both ran out long ago; the new one gives each a full lease from now.
        timers.renewed(a, 0);
        timers.renewed(b, 0);
        timers.restartAll(List.of(a, b), 50_000 * MS);
        assertEquals(List.of(), timers.expired(50_000 * MS));
        assertEquals(List.of(new ExpireSession(2, 2)), timers.expired(54_000 * MS));
        assertEquals(List.of(new ExpireSession(1, 1), new ExpireSession(2, 2)), timers.expired(58_000 * MS));
    }

    @Test
    void restartAllForgetsSessionsTheTableNoLongerHas() {
        timers.renewed(a, 0);
        timers.renewed(b, 0);
        timers.restartAll(List.of(b), 0);
        assertEquals(List.of(new ExpireSession(2, 2)), timers.expired(100_000 * MS));
    }

    @Test
    void anEndedSessionIsNotExpired() {
        timers.renewed(a, 0);
        timers.ended(1);
        assertEquals(List.of(), timers.expired(100_000 * MS));
        assertEquals(OptionalLong.empty(), timers.nextDeadlineNanos());
    }

    @Test
    void nextDeadlineIsTheEarliestAcrossTheNanoTimeWrap() {
        long nearWrap = Long.MAX_VALUE - 5_000 * MS;
        timers.renewed(a, nearWrap);                // deadline wraps past Long.MAX_VALUE
        timers.renewed(b, nearWrap);                // 4 s: still below it
        assertEquals(OptionalLong.of(nearWrap + 4_000 * MS), timers.nextDeadlineNanos());
        assertEquals(List.of(), timers.expired(nearWrap + 3_999 * MS));
        assertTrue(timers.expired(nearWrap + 8_000 * MS).contains(new ExpireSession(1, 1)), "compared as a difference, not as values");
    }
}
