package io.basalt.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

import io.basalt.chaos.RegisterHistory.Op;
import io.basalt.chaos.RegisterHistory.Outcome;

/** The checker itself: it must find the anomalies a store could show, and pass what is allowed. */
class RegisterHistoryTest {
    private static Op w(long value, long from, long to) {
        return new Op(0, true, value, from, to, Outcome.OK);
    }

    private static Op wUnknown(long value, long from) {
        return new Op(0, true, value, from, Long.MAX_VALUE, Outcome.UNKNOWN);
    }

    private static Op r(long value, long from, long to) {
        return new Op(0, false, value, from, to, Outcome.OK);
    }

    private static List<String> check(Op... ops) {
        RegisterHistory h = new RegisterHistory();
        for (Op op : ops) {
            h.add(op);
        }
        return h.check();
    }

    @Test
    void sequentialAndConcurrentHistoriesPass() {
        assertEquals(List.of(), check(w(1, 0, 10), r(1, 20, 30), w(2, 40, 50), r(2, 60, 70)));
        // a read concurrent with a write may return either value
        assertEquals(List.of(), check(w(1, 0, 10), w(2, 20, 50), r(1, 30, 40), r(2, 45, 60)));
        // the initial value before any write completed
        assertEquals(List.of(), check(r(0, 0, 5), w(1, 3, 10), r(1, 20, 30)));
        // an unknown write nobody saw may not have happened
        assertEquals(List.of(), check(w(1, 0, 10), wUnknown(2, 20), r(1, 30, 40)));
        // an unknown write somebody saw happened
        assertEquals(List.of(), check(w(1, 0, 10), wUnknown(2, 20), r(2, 30, 40), r(2, 50, 60)));
    }

    @Test
    void aStaleReadIsFound() {
        List<String> v = check(w(1, 0, 10), w(2, 20, 30), r(1, 40, 50));
        assertEquals(1, v.size(), v.toString());
        assertTrue(v.get(0).contains("stale or lost"), v.toString());
    }

    @Test
    void aLostAcknowledgedWriteIsFound() {
        // write 2 was acknowledged; afterwards every read sees the older value 1
        assertEquals(1, check(w(1, 0, 10), r(1, 12, 14), w(2, 20, 30), r(1, 40, 50), r(1, 60, 70)).size());
        // ... or the initial zeros
        assertEquals(1, check(w(1, 0, 10), r(0, 20, 30)).size());
    }

    @Test
    void readsGoingBackInTimeAreFound() {
        // one reader sees 2, a later reader sees 1 again
        List<String> v = check(w(1, 0, 10), w(2, 20, 50), r(2, 30, 35), r(1, 40, 45));
        assertTrue(!v.isEmpty(), "new-old inversion");
    }

    @Test
    void readsOfValuesNeverWrittenOrFromTheFutureAreFound() {
        assertTrue(check(w(1, 0, 10), r(7, 20, 30)).get(0).contains("no write wrote"));
        assertTrue(check(r(1, 0, 5), w(1, 10, 20)).get(0).contains("before its write was invoked"));
    }

    @Test
    void aLinearizableHistoryHasNoSmallestViolation() {
        RegisterHistory h = history(w(1, 0, 10), r(1, 20, 30), w(2, 40, 50), r(2, 60, 70));
        assertTrue(h.smallestViolation().isEmpty());
    }

    @Test
    void theSmallestViolationIsTheNarrowestWitness() {
        // register 0: a stale read long after (window 0..1000); register 1: a stale read right after (window 2000..2050)
        RegisterHistory h = history(w(1, 0, 10), w(2, 20, 30), r(1, 990, 1000),
                new Op(1, true, 5, 2000, 2010, Outcome.OK), new Op(1, true, 6, 2020, 2030, Outcome.OK), new Op(1, false, 5, 2040, 2050, Outcome.OK));
        assertEquals(2, h.violations().size(), h.check().toString());
        RegisterHistory.Violation v = h.smallestViolation().orElseThrow();
        assertEquals(1, v.register());
        assertEquals(2000, v.fromNs());
        assertEquals(2050, v.toNs());
        // the witness is the two writes and the stale read: alone they cannot be linearized
        assertEquals(java.util.Set.of(new Op(1, true, 5, 2000, 2010, Outcome.OK), new Op(1, true, 6, 2020, 2030, Outcome.OK),
                new Op(1, false, 5, 2040, 2050, Outcome.OK)), java.util.Set.copyOf(v.witness()));
        RegisterHistory alone = history(v.witness().toArray(Op[]::new));
        assertEquals(1, alone.violations().size(), "the witness alone is not linearizable");
    }

    @Test
    void theWitnessOfALostWriteIsNotLinearizableAlone() {
        RegisterHistory h = history(w(1, 0, 10), r(1, 12, 14), w(2, 20, 30), r(1, 40, 50), r(1, 60, 70), r(1, 500, 600));
        RegisterHistory.Violation v = h.smallestViolation().orElseThrow();
        assertTrue(v.witness().contains(w(2, 20, 30)), v.toString());
        assertEquals(1, history(v.witness().toArray(Op[]::new)).violations().size(), v.toString());
    }

    private static RegisterHistory history(Op... ops) {
        RegisterHistory h = new RegisterHistory();
        for (Op op : ops) {
            h.add(op);
        }
        return h;
    }
}
