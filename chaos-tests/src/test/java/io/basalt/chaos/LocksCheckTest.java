package io.basalt.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.basalt.chaos.LocksCheck.Fence;
import io.basalt.chaos.LocksCheck.Grant;
import io.basalt.chaos.LocksCheck.Read;
import io.basalt.chaos.LocksCheck.Seen;
import io.basalt.chaos.LocksCheck.Stamp;
import io.basalt.chaos.LocksCheck.Write;

/**
 * The locks checker on hand-made histories: it must flag every stale write that took effect after
 * a completed fence and every block that does not hold a legitimate holder's data, and pass what
 * fencing allows (a write in flight when the lock moved may land or not).
 *
 * <p>The base history: host 0 holds vdisk 0 with token 5 (fence 5 done at 20) and writes slot 0;
 * host 1 takes over with token 9, its fence completing at 120.
 */
class LocksCheckTest {
    private final List<Grant> grants = new ArrayList<>(List.of(new Grant(0, 0, 5, 10), new Grant(1, 0, 9, 100)));
    private final List<Fence> fences = new ArrayList<>(List.of(new Fence(0, 0, 5, 20), new Fence(1, 0, 9, 120)));
    private final List<Write> writes = new ArrayList<>();
    private final List<Read> reads = new ArrayList<>();

    private static Write write(int host, long token, long seq, long from, long to, History.Type outcome) {
        return new Write(0, 0, new Stamp(host, token, seq), from, outcome == History.Type.info ? Long.MAX_VALUE : to, outcome);
    }

    private static Read read(Stamp s, long from, long to) {
        return new Read(0, 0, Seen.of(s), from, to);
    }

    private LocksCheck.Result check() {
        return LocksCheck.check(grants, fences, writes, reads);
    }

    private void assertValid() {
        LocksCheck.Result r = check();
        assertTrue(r.valid(), r.violations().toString());
    }

    private void assertViolation(String expected) {
        LocksCheck.Result r = check();
        assertFalse(r.valid(), "no violation found");
        assertTrue(r.violations().stream().anyMatch(v -> v.contains(expected)), "expected '" + expected + "' in " + r.violations());
    }

    @Test
    void aHoldersAcknowledgedWriteReadBackPasses() {
        writes.add(write(0, 5, 1, 30, 40, History.Type.ok));
        reads.add(read(new Stamp(0, 5, 1), 50, 60));
        reads.add(new Read(0, 1, Seen.ZERO, 50, 60)); // a slot never written
        assertValid();
        assertEquals(2, check().readsChecked());
    }

    @Test
    void aWriteInFlightWhenTheLockMovedMayLandOrNot() {
        // invoked at 110, before host 1's fence completed at 120: it may have been applied before the fence
        writes.add(write(0, 5, 1, 110, 0, History.Type.info));
        reads.add(read(new Stamp(0, 5, 1), 200, 210));
        assertValid();
        // ... or acknowledged, even after the fence completed: the PG applied it before the fence in its log
        writes.set(0, write(0, 5, 1, 110, 130, History.Type.ok));
        assertValid();
    }

    @Test
    void aStaleWriteRefusedOrUnseenAndTheNewHoldersDataPass() {
        writes.add(write(0, 5, 1, 130, 140, History.Type.fail));  // refused by the fence
        writes.add(write(0, 5, 2, 150, 0, History.Type.info));    // timed out, never seen
        writes.add(write(1, 9, 1, 160, 170, History.Type.ok));
        reads.add(read(new Stamp(1, 9, 1), 180, 190));
        reads.add(read(new Stamp(1, 9, 1), 165, 175));            // concurrent with the write: may see it
        assertValid();
    }

    @Test
    void aFenceOfAnotherVdiskDoesNotFenceThisOne() {
        fences.add(new Fence(1, 1, 50, 30));
        writes.add(write(0, 5, 1, 40, 50, History.Type.ok));
        reads.add(read(new Stamp(0, 5, 1), 60, 70));
        assertValid();
    }

    @Test
    void flagsAStaleWriteAcknowledgedAfterTheFenceCompleted() {
        writes.add(write(0, 5, 1, 130, 140, History.Type.ok));
        assertViolation("was acknowledged, yet fence 9 (host 1) completed at 120, before it was invoked");
    }

    @Test
    void flagsAStaleWriteOfUnknownOutcomeThatAReadSaw() {
        writes.add(write(0, 5, 1, 130, 0, History.Type.info));
        reads.add(read(new Stamp(0, 5, 1), 150, 160));
        assertViolation("below fence 9 (host 1), which completed at 120: a fenced write was applied");
    }

    @Test
    void flagsAStaleWriteFoundInTheFinalContentsAfterTheNewHolderWrote() {
        writes.add(write(1, 9, 1, 130, 140, History.Type.ok));
        writes.add(write(0, 5, 1, 150, 0, History.Type.info));
        reads.add(read(new Stamp(1, 9, 1), 145, 148));
        reads.add(read(new Stamp(0, 5, 1), 1000, 1010)); // the final read
        assertViolation("a fenced write was applied");
        assertEquals(1, check().violations().size(), check().violations().toString());
    }

    @Test
    void flagsARefusedWriteThatIsPresent() {
        writes.add(write(0, 5, 1, 110, 115, History.Type.fail)); // invoked before the fence completed, but reported refused
        reads.add(read(new Stamp(0, 5, 1), 150, 160));
        assertViolation("a write that was refused");
    }

    @Test
    void flagsDataOfAHostThatWasNeverGrantedItsToken() {
        writes.add(write(2, 7, 1, 30, 40, History.Type.ok)); // host 2 never held vdisk 0
        assertViolation("carries a token never granted to that host");
        writes.clear();
        writes.add(write(0, 9, 1, 130, 140, History.Type.ok)); // token 9 is host 1's
        reads.add(read(new Stamp(0, 9, 1), 150, 160));
        assertViolation("token never granted to that host");
    }

    @Test
    void flagsABlockNoWriteWroteATornBlockAndZerosAfterAnAcknowledgedWrite() {
        reads.add(read(new Stamp(1, 9, 42), 150, 160));
        assertViolation("which no write of this block wrote");
        reads.clear();
        reads.add(new Read(0, 0, Seen.TORN, 150, 160));
        assertViolation("a torn block");
        reads.clear();
        writes.add(write(1, 9, 1, 130, 140, History.Type.ok));
        reads.add(new Read(0, 0, Seen.ZERO, 150, 160));
        assertViolation("zeros after write host 1 token 9 seq 1 was acknowledged at 140");
    }

    @Test
    void flagsAReadThatSawAWriteBeforeItWasInvoked() {
        writes.add(write(1, 9, 1, 300, 310, History.Type.ok));
        reads.add(read(new Stamp(1, 9, 1), 150, 160));
        assertViolation("before that write was invoked at 300");
    }

    @Test
    void blocksRoundTripAndAnyDamageIsTorn() {
        Stamp s = new Stamp(2, 123456789L, 77);
        ByteBuffer b = LocksCheck.encode(s, 4096);
        assertEquals(Seen.of(s), LocksCheck.decode(b.duplicate()));
        assertEquals(Seen.ZERO, LocksCheck.decode(ByteBuffer.allocate(4096)));
        for (int at : new int[] {0, 8, 16, 24, 2048, 4095}) {
            ByteBuffer damaged = LocksCheck.encode(s, 4096);
            damaged.put(at, (byte) (damaged.get(at) ^ 1));
            assertEquals(Seen.TORN, LocksCheck.decode(damaged), "a byte flipped at " + at);
        }
        ByteBuffer half = LocksCheck.encode(s, 4096);
        half.put(2048, LocksCheck.encode(new Stamp(2, 123456789L, 78), 2048), 0, 2048);
        assertEquals(Seen.TORN, LocksCheck.decode(half), "two writes' halves");
    }
}
