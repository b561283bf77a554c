package io.basalt.cluster.pg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.store.VdiskStore;

class PgStoreTest {
    private static final VdiskStore.Options SMALL = new VdiskStore.Options(8L << 20, 2);
    private static final int BLOCK = 512;
    @TempDir
    Path dir;

    private static ByteBuffer filled(int blocks, int value) {
        byte[] b = new byte[blocks * BLOCK];
        Arrays.fill(b, (byte) value);
        return ByteBuffer.wrap(b);
    }

    private static byte[] read(PgStore s, long lba, int blocks) {
        PgResult.Data d = (PgResult.Data) s.query(List.of(new PgOp.Read(1, lba, blocks))).join().get(0);
        byte[] out = new byte[d.data().remaining()];
        d.data().get(out);
        return out;
    }

    private static PgOp.CreateVdisk create() {
        return new PgOp.CreateVdisk(1, 1 << 20, BLOCK, 4096, 0, "");
    }

    @Test
    void opsOfOneEntryTakeEffectInOrderEvenWhenTheyOverlap() {
        try (PgStore s = PgStore.open(dir.resolve("pg"), 0, SMALL)) {
            s.apply(1, List.of(create()));
            List<PgResult> r = s.apply(2, List.of(
                    new PgOp.Write(1, 0, filled(8, 1)),
                    new PgOp.Write(1, 4, filled(8, 2)),           // overlaps the first: must land after it
                    new PgOp.CompareAndWrite(1, 4, filled(1, 2), filled(1, 3)), // sees the second write
                    new PgOp.Unmap(1, 0, 2),
                    new PgOp.Write(1, 100, filled(1, 9))));        // independent
            assertEquals(List.of(new PgResult.Done(), new PgResult.Done(), new PgResult.Compared(io.basalt.vdisk.CompareResult.MATCHED),
                    new PgResult.Done(), new PgResult.Done()), r);
            byte[] got = read(s, 0, 12);
            assertArrayEquals(new byte[2 * BLOCK], Arrays.copyOfRange(got, 0, 2 * BLOCK));
            assertArrayEquals(filled(2, 1).array(), Arrays.copyOfRange(got, 2 * BLOCK, 4 * BLOCK));
            assertArrayEquals(filled(1, 3).array(), Arrays.copyOfRange(got, 4 * BLOCK, 5 * BLOCK));
            assertArrayEquals(filled(7, 2).array(), Arrays.copyOfRange(got, 5 * BLOCK, 12 * BLOCK));
            assertEquals(2, s.appliedIndex());
        }
    }

    @Test
    void deterministicRefusalsAreResultsAndNothingChanges() {
        try (PgStore s = PgStore.open(dir.resolve("pg"), 0, SMALL)) {
            s.apply(1, List.of(create()));
            List<PgResult> r = s.apply(2, List.of(
                    new PgOp.Write(1, 2048, filled(1, 1)),  // past the end of a 1 MiB vdisk
                    new PgOp.Write(7, 0, filled(1, 1))));   // no such vdisk on this PG
            PgResult.Failed range = assertInstanceOf(PgResult.Failed.class, r.get(0));
            assertEquals(null, range.kind());
            assertTrue(range.message().contains("lba: 2048"), range.message());
            PgResult.Failed missing = assertInstanceOf(PgResult.Failed.class, r.get(1));
            assertEquals(BlockDeviceException.Kind.UNAVAILABLE, missing.kind());
            assertTrue(missing.message().contains("vdisk id 7 does not exist on pg-0"), missing.message());
            assertEquals(2, s.appliedIndex(), "a refused op still advances the applied index");
        }
    }

    @Test
    void appliedIndexSurvivesReopenAndStaleEntriesAreRefused() {
        try (PgStore s = PgStore.open(dir.resolve("pg"), 3, SMALL)) {
            s.apply(5, List.of(create()));
            s.apply(9, List.of(new PgOp.Write(1, 0, filled(1, 4))));
        }
        try (PgStore s = PgStore.open(dir.resolve("pg"), 3, SMALL)) {
            assertEquals(9, s.appliedIndex());
            var e = assertThrows(IllegalStateException.class, () -> s.apply(9, List.of(new PgOp.Write(1, 0, filled(1, 5)))));
            assertTrue(e.getMessage().contains("pg-3 apply at index 9 (expected: > applied 9)"), e.getMessage());
            assertArrayEquals(filled(1, 4).array(), read(s, 0, 1));
            // Creating again is a no-op; a different geometry is refused.
            assertEquals(List.of(new PgResult.Done()), s.apply(10, List.of(create())));
            assertInstanceOf(PgResult.Failed.class, s.apply(11, List.of(new PgOp.CreateVdisk(1, 1 << 20, 4096, 4096, 0, ""))).get(0));
        }
    }

    @Test
    void checkpointIsAReplicaAtItsIndex() {
        try (PgStore s = PgStore.open(dir.resolve("pg"), 0, SMALL)) {
            s.apply(1, List.of(create(), new PgOp.Write(1, 0, filled(1, 6))));
            s.checkpoint(dir.resolve("cp"));
            s.apply(2, List.of(new PgOp.Write(1, 0, filled(1, 7))));
        }
        try (PgStore copy = PgStore.open(dir.resolve("cp"), 0, SMALL)) {
            assertEquals(1, copy.appliedIndex());
            assertArrayEquals(filled(1, 6).array(), read(copy, 0, 1));
        }
    }
}
