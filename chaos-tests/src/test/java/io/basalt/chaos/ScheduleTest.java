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
        Schedule all = Schedule.plan(1, ALL, Duration.ofMinutes(4), 3); // a round of every kind takes about 2.5 min of plan
        assertEquals(EnumSet.allOf(Kind.class), all.faults().stream().map(Schedule.Fault::kind).collect(Collectors.toCollection(() -> EnumSet.noneOf(Kind.class))));
        assertTrue(Schedule.plan(1, EnumSet.noneOf(Nemesis.class), Duration.ofMinutes(2), 3).faults().isEmpty());
    }

    @Test
    void faultsTakeTheirShareOfNodesOneAtATimeWithinTheRun() {
        Schedule s = Schedule.plan(7, ALL, Duration.ofMinutes(10), 5);
        long endOfPreviousMs = 0;
        for (Schedule.Fault f : s.faults()) {
            int expected = switch (f.kind()) {
                case KILL_ONE, PAUSE_ONE, PARTITION_LEADER, PARTITION_BRIDGE, PARTITION_ONE_WAY, POWER_CUT_ONE, FSYNC_FAIL_ONE, DISK_FULL_ONE,
                     READ_EIO_ONE, BITROT_ONE, PARTITION_FLAP -> 1;
                case REPLACE_ONE -> 1;
                case KILL_MAJORITY, PAUSE_MAJORITY -> 3;
                case PARTITION_MAJORITY -> 2; // the minority of 3 | 2
                case KILL_ALL, POWER_CUT_ALL -> 5;
            };
            assertEquals(expected, f.victims().size(), f.toString());
            assertEquals(expected, Set.copyOf(f.victims()).size(), "distinct victims: " + f);
            assertTrue(f.victims().stream().allMatch(id -> id >= 1 && id <= 5), f.toString());
            assertTrue(f.atMs() >= endOfPreviousMs + Schedule.GAP_MIN.toMillis() || f.index() == 1, "one fault at a time: " + f);
            assertTrue(f.atMs() < Duration.ofMinutes(10).toMillis(), f.toString());
            if (f.kind().nemesis == Nemesis.partition) {
                assertTrue(f.holdMs() >= Schedule.PARTITION_MIN.toMillis(), "a partition outlasts the election timeout and the lease: " + f);
            }
            if (f.kind().nemesis == Nemesis.pause) {
                assertTrue(f.holdMs() >= Schedule.PAUSE_MIN.toMillis(), "a pause outlasts the election timeout and the lease: " + f);
            }
            endOfPreviousMs = f.atMs() + f.holdMs();
        }
    }

    @Test
    void partitionsNeedTwoSidesAndABridgeThreeNodes() {
        Set<Kind> two = Schedule.plan(3, EnumSet.of(Nemesis.partition), Duration.ofMinutes(3), 2).faults().stream().map(Schedule.Fault::kind)
                .collect(Collectors.toCollection(() -> EnumSet.noneOf(Kind.class)));
        assertEquals(EnumSet.of(Kind.PARTITION_LEADER, Kind.PARTITION_ONE_WAY), two);
        assertTrue(Schedule.plan(3, EnumSet.of(Nemesis.partition), Duration.ofMinutes(3), 1).faults().isEmpty(), "one node has no one to be cut from");
    }

    @Test
    void aFlapCutsAndHealsInTurnWithinItsHoldEndingOnACutAndTheSameSeedFlapsTheSame() {
        Schedule s = Schedule.plan(5, EnumSet.of(Nemesis.flap), Duration.ofMinutes(2), 3);
        assertTrue(s.faults().size() >= 3, s.toString());
        for (Schedule.Fault f : s.faults()) {
            assertEquals(Kind.PARTITION_FLAP, f.kind());
            assertTrue(f.holdMs() >= Schedule.FLAP_MIN.toMillis(), f.toString());
            java.util.List<Long> flaps = Schedule.flaps(5, f);
            assertEquals(flaps, Schedule.flaps(5, f));
            assertEquals(1, flaps.size() % 2, "ends on a cut: " + flaps);
            assertTrue(flaps.size() >= 5, "several cuts in " + f.holdMs() + " ms: " + flaps);
            assertTrue(flaps.stream().mapToLong(Long::longValue).sum() <= f.holdMs(), flaps.toString());
            for (int i = 0; i < flaps.size() - 1; i++) {
                long min = i % 2 == 0 ? Schedule.FLAP_CUT_MIN_MS : Schedule.FLAP_HEAL_MIN_MS;
                long max = i % 2 == 0 ? Schedule.FLAP_CUT_MIN_MS + Schedule.FLAP_CUT_SPREAD_MS : Schedule.FLAP_HEAL_MIN_MS + Schedule.FLAP_HEAL_SPREAD_MS;
                assertTrue(flaps.get(i) >= min && flaps.get(i) < max, i + ": " + flaps);
            }
        }
        assertNotEquals(Schedule.flaps(5, s.faults().get(0)), Schedule.flaps(6, s.faults().get(0)));
    }

    /** A family added later leaves the plans of the earlier ones as they were (the process tests pick seeds by their plans). */
    @Test
    void partitionPlansOfASeedAreTheSameWithFlapAndBitRotAdded() {
        Schedule s = Schedule.plan(25, EnumSet.of(Nemesis.partition), Duration.ofSeconds(30), 3);
        assertEquals(java.util.List.of(Kind.PARTITION_BRIDGE, Kind.PARTITION_LEADER), s.faults().stream().map(Schedule.Fault::kind).limit(2).toList());
    }

    @Test
    void anUnknownNemesisIsRefusedByName() {
        var e = assertThrows(IllegalArgumentException.class, () -> Nemesis.parse("kill,clock"));
        assertTrue(e.getMessage().contains("clock"), e.getMessage());
        assertEquals(EnumSet.of(Nemesis.kill, Nemesis.pause), Nemesis.parse(" kill , pause"));
        assertEquals(EnumSet.of(Nemesis.kill, Nemesis.partition), Nemesis.parse("partition,kill"));
    }
}
