package io.basalt.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.basalt.chaos.DurabilityCheck.Write;

/** The durability checker: it must flag every lost acknowledged write and corruption, and pass what a correct store may show. */
class DurabilityCheckTest {
    private static Write ack(int key, long value, long from, long to) {
        return new Write(key, value, from, to, true);
    }

    private static Write unknown(int key, long value, long from) {
        return new Write(key, value, from, Long.MAX_VALUE, false);
    }

    @Test
    void theLastAcknowledgedWriteReadBackPasses() {
        var r = DurabilityCheck.check(List.of(ack(0, 1, 0, 10), ack(0, 2, 20, 30), ack(1, 3, 0, 10)), Map.of(0, 2L, 1, 3L));
        assertTrue(r.valid(), r.toString());
        assertEquals(3, r.acknowledgedWrites());
        assertEquals(2, r.keysChecked());
    }

    @Test
    void aWriteSupersededByAConcurrentOrUnknownWritePasses() {
        // 1 and 2 overlap: either may be last
        assertTrue(DurabilityCheck.check(List.of(ack(0, 1, 0, 30), ack(0, 2, 10, 20)), Map.of(0, 1L)).valid());
        // an unknown write invoked after 1 may have landed after it
        assertTrue(DurabilityCheck.check(List.of(ack(0, 1, 0, 10), unknown(0, 2, 20)), Map.of(0, 2L)).valid());
        // ... or not: 1 is still there
        assertTrue(DurabilityCheck.check(List.of(ack(0, 1, 0, 10), unknown(0, 2, 20)), Map.of(0, 1L)).valid());
        // an unknown write invoked even before 1 may still land after it
        assertTrue(DurabilityCheck.check(List.of(unknown(0, 2, 0), ack(0, 1, 5, 10)), Map.of(0, 2L)).valid());
        // only unknown writes, none landed
        assertTrue(DurabilityCheck.check(List.of(unknown(0, 2, 0)), Map.of(0, 0L)).valid());
    }

    @Test
    void anAcknowledgedWriteRolledBackToAnOlderValueIsLost() {
        var r = DurabilityCheck.check(List.of(ack(0, 1, 0, 10), ack(0, 2, 20, 30)), Map.of(0, 1L));
        assertFalse(r.valid());
        assertEquals(1, r.losses().size(), r.toString());
        assertEquals(2, r.losses().get(0).write().value());
        assertEquals(1, r.losses().get(0).found());
    }

    @Test
    void anAcknowledgedWriteGoneToZerosIsLost() {
        var r = DurabilityCheck.check(List.of(ack(0, 1, 0, 10), ack(3, 7, 0, 10)), Map.of(0, 0L, 3, 7L));
        assertEquals(1, r.losses().size(), r.toString());
        assertEquals(0, r.losses().get(0).key());
    }

    @Test
    void everyAcknowledgedWriteBeforeAnOlderSurvivorIsCountedLost() {
        // 3 acknowledged writes in sequence; the key holds the first: the later two are lost
        var r = DurabilityCheck.check(List.of(ack(0, 1, 0, 10), ack(0, 2, 20, 30), ack(0, 3, 40, 50)), Map.of(0, 1L));
        assertEquals(List.of(2L, 3L), r.losses().stream().map(l -> l.write().value()).toList());
    }

    @Test
    void anUnknownWriteDoesNotExcuseALossWhenItEndedBeforeTheAcknowledgedWrite() {
        // unknown 9 was invoked at 0; its value can only be last if it landed after 2 was invoked; it could
        // have (unknown outcome), so this passes, unlike an acknowledged write that ended before 2 began:
        assertTrue(DurabilityCheck.check(List.of(unknown(0, 9, 0), ack(0, 2, 20, 30)), Map.of(0, 9L)).valid());
        assertFalse(DurabilityCheck.check(List.of(ack(0, 9, 0, 10), ack(0, 2, 20, 30)), Map.of(0, 9L)).valid());
    }

    @Test
    void aValueNoWriteWroteIsACorruption() {
        var r = DurabilityCheck.check(List.of(ack(0, 1, 0, 10)), Map.of(0, 77L));
        assertFalse(r.valid());
        assertEquals(1, r.corruptions().size());
        assertTrue(r.corruptions().get(0).contains("no write wrote"), r.corruptions().toString());
    }

    @Test
    void aWrittenKeyNotReadBackIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> DurabilityCheck.check(List.of(ack(4, 1, 0, 10)), Map.of(0, 0L)));
    }
}
