package io.basalt.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;

/** The zombie test's checker on runs made up here: it passes the promise kept, and names each way of breaking it. */
class ZombieVerdictTest {
    private static final long TOKEN_A = 5;
    private static final long TOKEN_B = 6;
    private static final long TAKEOVER_MS = 10_000;
    private static final int SLOTS = 4;

    private static ZombieEvent.Outcome out(ZombieEvent.Kind kind, String w, long seq, long token, long issuedMs, long fence) {
        return new ZombieEvent.Outcome(kind, w, seq, (int) ((seq - 1) % SLOTS), token, issuedMs, issuedMs + 1, fence,
                kind == ZombieEvent.Kind.ERROR ? "boom" : "");
    }

    /** A wrote seq 1..4 before the takeover, then was refused by a PG (seq 5) and by itself (seq 6). */
    private static List<ZombieEvent> zombie() {
        return new ArrayList<>(List.of(new ZombieEvent.Locked("A", TOKEN_A, TOKEN_A, 1_000),
                out(ZombieEvent.Kind.OK, "A", 1, TOKEN_A, 2_000, 0), out(ZombieEvent.Kind.OK, "A", 2, TOKEN_A, 2_001, 0),
                out(ZombieEvent.Kind.OK, "A", 3, TOKEN_A, 2_002, 0), out(ZombieEvent.Kind.OK, "A", 4, TOKEN_A, 2_003, 0),
                out(ZombieEvent.Kind.FENCED_PG, "A", 5, TOKEN_A, 3_000, TOKEN_B), out(ZombieEvent.Kind.FENCED_SELF, "A", 6, TOKEN_A, 12_000, 0),
                new ZombieEvent.Done("A", 0)));
    }

    /** B wrote slots 0..2 (seq 1..3), not slot 3. */
    private static List<ZombieEvent> holder() {
        return List.of(new ZombieEvent.Locked("B", TOKEN_B, TOKEN_B, TAKEOVER_MS), out(ZombieEvent.Kind.OK, "B", 1, TOKEN_B, 10_001, 0),
                out(ZombieEvent.Kind.OK, "B", 2, TOKEN_B, 10_002, 0), out(ZombieEvent.Kind.OK, "B", 3, TOKEN_B, 10_003, 0),
                new ZombieEvent.Done("B", 0));
    }

    /** What the promise leaves: B's last writes, and A's pre-takeover write in slot 3. */
    private static SortedMap<Integer, ByteBuffer> kept() {
        SortedMap<Integer, ByteBuffer> slots = new TreeMap<>();
        for (int slot = 0; slot < 3; slot++) {
            slots.put(slot, new ZombieBlock("B", slot + 1, slot, TOKEN_B).encode(4096));
        }
        slots.put(3, new ZombieBlock("A", 4, 3, TOKEN_A).encode(4096));
        return slots;
    }

    @Test
    void passesARunThatKeptThePromise() {
        ZombieVerdict v = ZombieVerdict.check(zombie(), holder(), kept(), true);
        assertTrue(v.holds(), v.summary());
        assertEquals(new ZombieVerdict.Counts(4, 0, 1, 1, 0, 0), v.a());
        assertEquals(new ZombieVerdict.Counts(3, 0, 0, 0, 0, 0), v.b());
    }

    @Test
    void namesAStaleWriteOfTheZombieOverTheNewHolders() {
        SortedMap<Integer, ByteBuffer> slots = kept();
        slots.put(1, new ZombieBlock("A", 2, 1, TOKEN_A).encode(4096));
        ZombieVerdict v = ZombieVerdict.check(zombie(), holder(), slots, false);
        assertEquals(1, v.violations().size(), v.summary());
        assertTrue(v.violations().get(0).contains("slot 1") && v.violations().get(0).contains("A's stale write landed after B's fence"), v.summary());
    }

    @Test
    void namesAZombieWriteIssuedAfterTheFenceThatWasAcknowledged() {
        List<ZombieEvent> a = zombie();
        a.add(out(ZombieEvent.Kind.OK, "A", 7, TOKEN_A, TAKEOVER_MS + 500, 0));
        ZombieVerdict v = ZombieVerdict.check(a, holder(), kept(), false);
        assertFalse(v.holds());
        assertTrue(v.violations().get(0).contains("seq 7") && v.violations().get(0).contains("was acknowledged"), v.summary());
    }

    @Test
    void owesARefusalAtThePgAfterAPartitionButNotAfterAPause() {
        List<ZombieEvent> selfOnly = zombie().stream().filter(e -> !(e instanceof ZombieEvent.Outcome o && o.kind() == ZombieEvent.Kind.FENCED_PG)).toList();
        assertTrue(ZombieVerdict.check(selfOnly, holder(), kept(), false).holds());
        ZombieVerdict v = ZombieVerdict.check(selfOnly, holder(), kept(), true);
        assertEquals(1, v.violations().size(), v.summary());
        assertTrue(v.violations().get(0).contains("no FENCED refusal at a PG"), v.summary());
    }

    @Test
    void namesAZombieNeverToldItWasFencedAndWritesLeftUnresolved() {
        List<ZombieEvent> a = new ArrayList<>(zombie().subList(0, 5));
        a.add(new ZombieEvent.Done("A", 2));
        ZombieVerdict v = ZombieVerdict.check(a, holder(), kept(), false);
        assertEquals(2, v.violations().size(), v.summary());
        assertTrue(v.violations().get(0).contains("never told it was fenced"), v.summary());
        assertTrue(v.violations().get(1).contains("2 writes unresolved"), v.summary());
    }

    @Test
    void namesTornAndForeignBlocksAndALateZombieWriteWhereTheHolderNeverWrote() {
        SortedMap<Integer, ByteBuffer> slots = kept();
        ByteBuffer torn = new ZombieBlock("B", 1, 0, TOKEN_B).encode(4096);
        torn.put(4000, (byte) (torn.get(4000) + 1));
        slots.put(0, torn);
        slots.put(3, new ZombieBlock("A", 6, 3, TOKEN_A).encode(4096)); // seq 6 was issued after the takeover
        ZombieVerdict v = ZombieVerdict.check(zombie(), holder(), slots, false);
        assertEquals(2, v.violations().size(), v.summary());
        assertTrue(v.violations().get(0).contains("slot 0 holds neither writer's block") && v.violations().get(0).contains("torn"), v.summary());
        assertTrue(v.violations().get(1).contains("slot 3 holds A's write seq 6"), v.summary());
    }

    @Test
    void eventsReadBackAsPrinted() {
        List<ZombieEvent> all = new ArrayList<>(zombie());
        all.add(out(ZombieEvent.Kind.ERROR, "A", 8, TOKEN_A, 13_000, 0));
        for (ZombieEvent e : all) {
            assertEquals(Optional.of(e), ZombieEvent.parse(e.format()), e.format());
        }
        assertEquals(Optional.empty(), ZombieEvent.parse("03:55:21.123 [main] INFO io.basalt something"));
        assertEquals(Optional.empty(), ZombieEvent.parse(""));
    }

    @Test
    void aBlockReadsBackAsWrittenAndZeroesAsNeverWritten() {
        ZombieBlock b = new ZombieBlock("A", 123, 7, TOKEN_A);
        assertEquals(Optional.of(b), ZombieBlock.decode(b.encode(4096)));
        assertEquals(Optional.empty(), ZombieBlock.decode(ByteBuffer.allocate(4096)));
        ByteBuffer foreign = ByteBuffer.allocate(4096).put(0, (byte) 1);
        assertThrows(IllegalArgumentException.class, () -> ZombieBlock.decode(foreign));
    }
}
