package io.basalt.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/**
 * The vdisk model check on hand-made histories: it passes what a correct cluster may show
 * (including both outcomes of a write of unknown outcome) and flags a lost write, a snapshot that
 * changed, a rollback not applied, a clone that sees its parent's later writes, a grown range
 * that is not zeros, and garbage. Blocks are 8 per volume; ids name writes, 0 is zeros.
 */
class ModelCheckTest {
    private static final String V = "v";
    private static final int BLOCKS = 8;

    /** A model of {@code v} with write 1 on blocks 0..3 and write 2 on 2..5, snapshot {@code s} taken after write 1. */
    private static VdiskModel base() {
        VdiskModel m = new VdiskModel();
        m.create(V, BLOCKS);
        m.write(V, 0, 4, 1, true);
        m.snapshot(V, "s");
        m.write(V, 2, 4, 2, true);
        return m;
    }

    /** What each volume holds if everything the model says took place as it says. */
    private static Map<String, long[]> right() {
        Map<String, long[]> content = new LinkedHashMap<>();
        content.put(V, new long[] {1, 1, 2, 2, 2, 2, 0, 0});
        content.put(V + "@s", new long[] {1, 1, 1, 1, 0, 0, 0, 0});
        return content;
    }

    private static ModelCheck.Result check(VdiskModel m, Map<String, long[]> content) {
        return ModelCheck.check(m, content, List.of(), true);
    }

    @Test
    void passesTheContentTheAcknowledgedOperationsLeft() {
        ModelCheck.Result r = check(base(), right());
        assertTrue(r.valid(), r.toString());
        assertEquals(2, r.volumesChecked());
        assertEquals(16, r.blocksChecked());
    }

    @Test
    void flagsAnAcknowledgedWriteLostToItsPredecessorOrToZeros() {
        Map<String, long[]> older = right();
        older.get(V)[2] = 1; // write 2 gone: write 1 is back
        ModelCheck.Result r = check(base(), older);
        assertEquals(1, r.lost().size(), r.toString());
        assertTrue(r.violations().isEmpty(), r.toString());
        assertTrue(r.lost().get(0).contains("v lba 2: expected write 2 (to v lba 2+4), found write 1 (to v lba 0+4)"), r.lost().get(0));

        Map<String, long[]> zeros = right();
        zeros.get(V)[5] = 0;
        ModelCheck.Result z = check(base(), zeros);
        assertEquals(List.of("after the heal: v lba 5: expected write 2 (to v lba 2+4), found zeros"), z.lost());
    }

    @Test
    void flagsASnapshotThatChanged() {
        Map<String, long[]> changed = right();
        changed.get(V + "@s")[3] = 2; // the head's later write shows in the snapshot
        ModelCheck.Result r = check(base(), changed);
        assertTrue(r.lost().isEmpty(), "a snapshot that changed is no lost write: " + r);
        assertEquals(1, r.violations().size(), r.toString());
        assertTrue(r.violations().get(0).contains("v@s lba 3: expected write 1"), r.violations().get(0));
    }

    @Test
    void flagsARollbackNotApplied() {
        VdiskModel m = base();
        m.rollback(V, "s");
        Map<String, long[]> notRolledBack = right(); // the head still holds write 2
        ModelCheck.Result r = check(m, notRolledBack);
        assertEquals(4, r.violations().size(), "blocks 2..5 must read as the snapshot: " + r);
        assertTrue(r.lost().isEmpty(), r.toString());

        Map<String, long[]> rolledBack = right();
        rolledBack.put(V, new long[] {1, 1, 1, 1, 0, 0, 0, 0});
        assertTrue(check(base(), right()).valid());
        VdiskModel again = base();
        again.rollback(V, "s");
        assertTrue(check(again, rolledBack).valid(), check(again, rolledBack).toString());
    }

    @Test
    void flagsACloneThatSeesItsParentsLaterWrites() {
        VdiskModel m = base();
        m.cloneOf(V, "s", "c");
        m.write(V, 0, 1, 3, true); // the parent's write after the clone was made
        m.write("c", 7, 1, 4, true);
        Map<String, long[]> content = right();
        content.get(V)[0] = 3;
        content.put("c", new long[] {1, 1, 1, 1, 0, 0, 0, 4});
        assertTrue(check(m, content).valid(), check(m, content).toString());

        VdiskModel leaky = base();
        leaky.cloneOf(V, "s", "c");
        leaky.write(V, 0, 1, 3, true);
        leaky.write("c", 7, 1, 4, true);
        content.put("c", new long[] {3, 1, 2, 1, 0, 0, 0, 4}); // the parent's write 3 and its head's write 2 show in the clone
        ModelCheck.Result r = check(leaky, content);
        assertEquals(2, r.violations().size(), r.toString());
        assertTrue(r.violations().get(0).contains("c lba 0: expected write 1"), r.violations().get(0));
        assertTrue(r.violations().get(0).contains("found write 3 (to v lba 0+1)"), r.violations().get(0));
    }

    @Test
    void aWriteOfUnknownOutcomeMayBeThereOrNotEvenAfterALaterAcknowledgedWrite() {
        for (long found : new long[] {2, 5}) {
            VdiskModel m = base();
            m.write(V, 4, 1, 5, false);
            m.write(V, 4, 1, 6, true); // write 5 may still land after it: it may be anywhere in a log
            Map<String, long[]> content = right();
            content.get(V)[4] = found == 2 ? 6 : 5;
            assertTrue(check(m, content).valid(), found + ": " + check(m, content));
        }
        VdiskModel m = base();
        m.write(V, 4, 1, 5, false);
        Map<String, long[]> content = right();
        content.get(V)[4] = 1; // neither write 2 nor write 5: write 2 was lost
        ModelCheck.Result r = check(m, content);
        assertEquals(1, r.lost().size(), r.toString());
        assertTrue(r.lost().get(0).contains("expected one of [write 2 (to v lba 2+4), write 5 (to v lba 4+1)]"), r.lost().get(0));
    }

    @Test
    void aSnapshotOfAnUnknownWriteHoldsOneOutcomeForGoodOnceRead() {
        VdiskModel m = base();
        m.write(V, 6, 1, 5, false);
        m.snapshot(V, "t");
        assertEquals(java.util.Set.of(0L, 5L), m.expected(V + "@t", 6));
        assertTrue(m.observe(V + "@t", 6, new long[] {0}).isEmpty(), "zeros: write 5 had not landed when t was taken");
        Map<String, long[]> content = right();
        content.get(V)[6] = 5; // landed in the head after the snapshot: allowed
        content.put(V + "@t", new long[] {1, 1, 2, 2, 2, 2, 5, 0}); // but t was read as zeros: it changed
        ModelCheck.Result r = check(m, content);
        assertEquals(List.of("after the heal: v@t lba 6: expected zeros, found write 5 (to v lba 6+1)"), r.violations());
    }

    @Test
    void aReadDuringTheRunIsJudgedAndItsMismatchReported() {
        VdiskModel m = base();
        List<ModelCheck.Mismatch> bad = m.observe(V + "@s", 0, new long[] {1, 1, 1, 2});
        assertEquals(1, bad.size());
        ModelCheck.Result r = ModelCheck.check(m, right(), bad, true);
        assertEquals(List.of("read during the run: v@s lba 3: expected write 1 (to v lba 0+4), found write 2 (to v lba 2+4)"), r.violations());
    }

    @Test
    void aGrowAfterARollbackToASmallerSnapshotReadsZerosNotTheOldBlocks() {
        VdiskModel m = new VdiskModel();
        m.create(V, 4);
        m.snapshot(V, "small");
        m.grow(V, 8);
        m.write(V, 4, 4, 1, true);
        m.rollback(V, "small");
        assertEquals(4, m.blocks(V));
        m.grow(V, 8);
        Map<String, long[]> content = new LinkedHashMap<>();
        content.put(V, new long[] {0, 0, 0, 0, 0, 1, 0, 0}); // write 1, undone by the rollback, is back after the grow
        content.put(V + "@small", new long[4]);
        ModelCheck.Result r = check(m, content);
        assertEquals(1, r.violations().size(), r.toString());
        assertFalse(r.valid());
    }

    @Test
    void garbageAndWritesTheModelNeverSentAreViolations() {
        Map<String, long[]> content = right();
        content.get(V)[0] = VdiskModel.GARBAGE;
        content.get(V)[7] = 99;
        ModelCheck.Result r = check(base(), content);
        assertEquals(2, r.violations().size(), r.toString());
        assertTrue(r.violations().get(0).contains("bytes of no write"), r.violations().get(0));
        assertTrue(r.violations().get(1).contains("write 99, which the model never sent"), r.violations().get(1));
    }

    @Test
    void everyVolumeMustBeReadBackWhole() {
        Map<String, long[]> missing = right();
        missing.remove(V + "@s");
        assertEquals(List.of("after the heal: v@s could not be read back"), check(base(), missing).violations());
        Map<String, long[]> unknown = right();
        unknown.put("w", new long[BLOCKS]);
        assertThrows(IllegalArgumentException.class, () -> check(base(), unknown), "a volume the model does not have");
        Map<String, long[]> shortRead = right();
        shortRead.put(V, new long[] {1, 1});
        assertFalse(check(base(), shortRead).valid());
    }

    @Test
    void blocksNameTheirWriteAndATornOrMisplacedBlockNamesNone() {
        ByteBuffer data = ModelData.encode(7, 100, 3);
        assertEquals(List.of(7L, 7L, 7L), java.util.Arrays.stream(ModelData.decode(data, 100)).boxed().toList());
        assertEquals(VdiskModel.GARBAGE, ModelData.decode(data, 101)[0], "a block at another LBA is misplaced");
        ByteBuffer torn = ModelData.encode(7, 100, 1);
        torn.put(300, (byte) (torn.get(300) ^ 1));
        assertEquals(VdiskModel.GARBAGE, ModelData.decode(torn, 100)[0]);
        assertEquals(0, ModelData.decode(ByteBuffer.allocate(512), 5)[0]);
        ByteBuffer almostZero = ByteBuffer.allocate(512).put(511, (byte) 1);
        assertEquals(VdiskModel.GARBAGE, ModelData.decode(almostZero, 5)[0]);
    }
}
