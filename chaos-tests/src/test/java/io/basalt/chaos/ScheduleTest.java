package io.basalt.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.EnumSet;
import java.util.Set;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

import io.basalt.chaos.Schedule.Kind;
import io.basalt.chaos.Schedule.Nemesis;

class ScheduleTest {
    private static final Set<Nemesis> ALL = EnumSet.allOf(Nemesis.class);

    @Test
    void theSameSeedGivesTheSameScheduleAndAnotherSeedAnother() {
        assertEquals(Schedule.plan(42, ALL, Duration.ofMinutes(5), 5), Schedule.plan(42, ALL, Duration.ofMinutes(5), 5));
        assertNotEquals(Schedule.plan(42, ALL, Duration.ofMinutes(5), 5).faults(), Schedule.plan(43, ALL, Duration.ofMinutes(5), 5).faults());
    }

    @Test
    void onlyTheChosenNemesesStrikeAndEveryKindOfThemDoesInALongRun() {
        Schedule kills = Schedule.plan(1, EnumSet.of(Nemesis.kill), Duration.ofMinutes(2), 3);
        assertEquals(EnumSet.of(Kind.KILL_ONE, Kind.KILL_MAJORITY, Kind.KILL_ALL),
                kills.faults().stream().map(Schedule.Fault::kind).collect(Collectors.toCollection(() -> EnumSet.noneOf(Kind.class))));
        Schedule all = Schedule.plan(1, ALL, Duration.ofMinutes(2), 3);
        assertEquals(EnumSet.allOf(Kind.class), all.faults().stream().map(Schedule.Fault::kind).collect(Collectors.toCollection(() -> EnumSet.noneOf(Kind.class))));
        assertTrue(Schedule.plan(1, EnumSet.noneOf(Nemesis.class), Duration.ofMinutes(2), 3).faults().isEmpty());
    }

    @Test
    void faultsTakeTheirShareOfNodesOneAtATimeWithinTheRun() {
        Schedule s = Schedule.plan(7, ALL, Duration.ofMinutes(10), 5);
        long endOfPreviousMs = 0;
        for (Schedule.Fault f : s.faults()) {
            int expected = switch (f.kind()) {
                case KILL_ONE, PAUSE_ONE -> 1;
                case KILL_MAJORITY, PAUSE_MAJORITY -> 3;
                case KILL_ALL -> 5;
            };
            assertEquals(expected, f.victims().size(), f.toString());
            assertEquals(expected, Set.copyOf(f.victims()).size(), "distinct victims: " + f);
            assertTrue(f.victims().stream().allMatch(id -> id >= 1 && id <= 5), f.toString());
            assertTrue(f.atMs() >= endOfPreviousMs + Schedule.GAP_MIN.toMillis() || f.index() == 1, "one fault at a time: " + f);
            assertTrue(f.atMs() < Duration.ofMinutes(10).toMillis(), f.toString());
            if (f.kind().nemesis == Nemesis.pause) {
                assertTrue(f.holdMs() >= Schedule.PAUSE_MIN.toMillis(), "a pause outlasts the election timeout and the lease: " + f);
            }
            endOfPreviousMs = f.atMs() + f.holdMs();
        }
    }

    @Test
    void anUnknownNemesisIsRefusedByName() {
        var e = assertThrows(IllegalArgumentException.class, () -> Nemesis.parse("kill,partition"));
        assertTrue(e.getMessage().contains("partition"), e.getMessage());
        assertEquals(EnumSet.of(Nemesis.kill, Nemesis.pause), Nemesis.parse(" kill , pause"));
    }
}
