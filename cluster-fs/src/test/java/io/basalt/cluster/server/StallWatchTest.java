package io.basalt.cluster.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class StallWatchTest {
    private static final long STALL_NANOS = StallWatch.STALL.toNanos();

    @Test
    void committedEntriesNotAppliedForTheStallTimeAreReportedOnceUntilTheGroupMoves() {
        StallWatch.Seen s = StallWatch.next(null, 10, 12, 12, false, 0);
        s = StallWatch.next(s, 10, 12, 12, false, STALL_NANOS - 1);
        assertFalse(s.reported(), "not yet: " + s);
        s = StallWatch.next(s, 10, 12, 12, false, STALL_NANOS);
        assertTrue(s.reported(), "stalled: " + s);
        StallWatch.Seen again = StallWatch.next(s, 10, 12, 12, false, 3 * STALL_NANOS);
        assertEquals(s, again, "still the same stall: nothing new to report");
        StallWatch.Seen moved = StallWatch.next(again, 11, 12, 12, false, 3 * STALL_NANOS + 1);
        assertFalse(moved.reported(), "moved: " + moved);
        assertEquals(3 * STALL_NANOS + 1, moved.movedNanos());
    }

    @Test
    void anIdleGroupIsNeverStalled() {
        StallWatch.Seen s = StallWatch.next(null, 7, 7, 7, true, 0);
        s = StallWatch.next(s, 7, 7, 7, true, 10 * STALL_NANOS);
        assertFalse(s.reported(), "nothing waiting: " + s);
    }

    @Test
    void aLeaderWhoseAppendedEntriesStayUncommittedIsStalledAndAFollowerWithThemIsNot() {
        StallWatch.Seen leader = StallWatch.next(null, 5, 5, 9, true, 0);
        assertTrue(StallWatch.next(leader, 5, 5, 9, true, STALL_NANOS).reported());
        StallWatch.Seen follower = StallWatch.next(null, 5, 5, 9, false, 0);
        assertFalse(StallWatch.next(follower, 5, 5, 9, false, STALL_NANOS).reported(),
                "a follower's uncommitted tail waits for a leader: not this node's stall");
    }

    @Test
    void theThreadDumpShowsTheCallersStack() {
        String dump = StallWatch.threadDump();
        assertTrue(dump.contains("\"" + Thread.currentThread().getName() + "\""), dump);
        assertTrue(dump.contains("theThreadDumpShowsTheCallersStack"), dump);
    }
}
