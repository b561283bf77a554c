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

    /**
     * Applying a snapshot's removal is a metadata change: the entry after it applies at once, and
     * the store collects the snapshot's versions afterwards in the background, outside the log
     * (docs/decisions/background-snapshot-gc.md): the PG's space falls to one version per grain.
     */
    @Test
    void aSnapshotRemovalIsAppliedAsMetadataAndItsVersionsAreCollectedAfter() throws InterruptedException {
        try (PgStore s = PgStore.open(dir.resolve("pg"), 0, SMALL)) {
            s.apply(1, List.of(create()));
            s.apply(2, List.of(new PgOp.Write(1, 0, filled(2048, 1))));
            s.apply(3, List.of(new PgOp.Snapshot(1, "s1")));
            s.apply(4, List.of(new PgOp.Write(1, 0, filled(2048, 2))));
            assertEquals(List.of(new PgResult.Done()), s.apply(5, List.of(new PgOp.RemoveSnapshot(1, "s1"))));
            assertEquals(List.of(new PgResult.Done()), s.apply(6, List.of(new PgOp.Write(1, 0, filled(1, 3)))));
            PgResult gone = s.query(List.of(new PgOp.ReadSnapshot(1, "s1", 0, 1))).join().get(0);
            assertInstanceOf(PgResult.Failed.class, gone, "the snapshot is gone once its entry is applied");
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
            long versions;
            while ((versions = ((PgResult.Space) s.query(List.of(new PgOp.Space(1))).join().get(0)).versionCount()) > 256
                    && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(256, versions, "one version per 4 KiB grain of the 1 MiB vdisk once collected");
            assertArrayEquals(filled(1, 3).array(), read(s, 0, 1));
            assertArrayEquals(filled(1, 2).array(), read(s, 1, 1));
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

    // ---- client sessions ----

    private static final java.util.UUID CLIENT = new java.util.UUID(7, 9);

    @Test
    void aResentEntryOfASessionIsNotAppliedAgainAndGetsItsFirstReply() {
        try (PgStore s = PgStore.open(dir.resolve("pg"), 0, SMALL)) {
            s.apply(1, List.of(create()));
            // Client A's compare-and-write of zeros -> 1s, then someone else writes 2s, then A's
            // entry arrives again (resent by a new Ratis client after the first was appended).
            PgOp.CompareAndWrite caw = new PgOp.CompareAndWrite(1, 0, filled(1, 0), filled(1, 1));
            PgOp.Write w = new PgOp.Write(1, 8, filled(1, 3));
            List<PgResult> first = s.apply(2, new ClientTag(CLIENT, 1, 0), List.of(caw, w));
            assertEquals(List.of(new PgResult.Compared(io.basalt.vdisk.CompareResult.MATCHED), new PgResult.Done()), first);
            s.apply(3, List.of(new PgOp.Write(1, 0, filled(1, 2)), new PgOp.Write(1, 8, filled(1, 4))));

            List<PgResult> again = s.apply(4, new ClientTag(CLIENT, 1, 0), List.of(caw, w));

            assertEquals(first, again, "the kept reply, not a MISCOMPARE of a second compare");
            assertArrayEquals(filled(1, 2).array(), read(s, 0, 1), "the later write stays");
            assertArrayEquals(filled(1, 4).array(), read(s, 8, 1), "the later write stays");
            assertEquals(4, s.appliedIndex());
        }
    }

    @Test
    void sessionsSurviveAReopenAndACheckpoint() {
        try (PgStore s = PgStore.open(dir.resolve("pg"), 0, SMALL)) {
            s.apply(1, List.of(create()));
            s.apply(2, new ClientTag(CLIENT, 1, 0), List.of(new PgOp.Write(1, 0, filled(1, 1))));
            s.apply(3, List.of(new PgOp.Write(1, 0, filled(1, 2))));
            s.checkpoint(dir.resolve("cp"));
        }
        for (String d : List.of("pg", "cp")) {
            try (PgStore s = PgStore.open(dir.resolve(d), 0, SMALL)) {
                assertEquals(1, s.sessionCount());
                assertEquals(List.of(new PgResult.Done()), s.apply(4, new ClientTag(CLIENT, 1, 0), List.of(new PgOp.Write(1, 0, filled(1, 1)))));
                assertArrayEquals(filled(1, 2).array(), read(s, 0, 1), d + ": the resent write was not applied again");
            }
        }
    }

    @Test
    void anEntryTheClientGaveUpIsNotAppliedAndItsReplyIsForgotten() {
        try (PgStore s = PgStore.open(dir.resolve("pg"), 0, SMALL)) {
            s.apply(1, List.of(create()));
            s.apply(2, new ClientTag(CLIENT, 1, 0), List.of(new PgOp.Write(1, 0, filled(1, 1))));
            // Entry 2 says entry 1 was answered: its reply is dropped.
            s.apply(3, new ClientTag(CLIENT, 2, 1), List.of(new PgOp.Write(1, 0, filled(1, 2))));
            // Entry 3 never arrives before entry 4, which says the client gave it up ...
            s.apply(4, new ClientTag(CLIENT, 4, 3), List.of(new PgOp.Write(1, 8, filled(1, 4))));
            // ... so when it does arrive, late, it does not overwrite newer data.
            List<PgResult> late = s.apply(5, new ClientTag(CLIENT, 3, 2), List.of(new PgOp.Write(1, 8, filled(1, 3))));

            assertInstanceOf(PgResult.Failed.class, late.get(0));
            assertArrayEquals(filled(1, 4).array(), read(s, 8, 1));
            List<PgResult> resentFirst = s.apply(6, new ClientTag(CLIENT, 1, 0), List.of(new PgOp.Write(1, 0, filled(1, 1))));
            assertInstanceOf(PgResult.Failed.class, resentFirst.get(0));
            assertArrayEquals(filled(1, 2).array(), read(s, 0, 1));
        }
    }

    @Test
    void theSessionIdleLongestIsForgottenBeyondTheLimit() {
        try (PgStore s = PgStore.open(dir.resolve("pg"), 0, SMALL)) {
            s.apply(1, List.of(create()));
            long index = 2;
            for (int i = 0; i <= PgStore.SESSIONS_MAX; i++) {
                s.apply(index++, new ClientTag(new java.util.UUID(1, i), 1, 0), List.of(new PgOp.Write(1, i % 64, filled(1, 1))));
            }
            assertEquals(PgStore.SESSIONS_MAX, s.sessionCount());
            // Session 1 is still known: its resend is not applied ...
            s.apply(index++, List.of(new PgOp.Write(1, 1, filled(1, 9))));
            s.apply(index++, new ClientTag(new java.util.UUID(1, 1), 1, 0), List.of(new PgOp.Write(1, 1, filled(1, 1))));
            assertArrayEquals(filled(1, 9).array(), read(s, 1, 1));
            // ... while session 0, the idlest, is gone: its resend is applied again (the documented limit).
            s.apply(index++, List.of(new PgOp.Write(1, 0, filled(1, 9))));
            s.apply(index++, new ClientTag(new java.util.UUID(1, 0), 1, 0), List.of(new PgOp.Write(1, 0, filled(1, 1))));
            assertArrayEquals(filled(1, 1).array(), read(s, 0, 1));
        }
        try (PgStore s = PgStore.open(dir.resolve("pg"), 0, SMALL)) {
            assertEquals(PgStore.SESSIONS_MAX, s.sessionCount(), "evictions are persisted too");
        }
    }
    @Test
    void aReplyKeptBeforeRepliesHadAVersionStillAnswersARetry() {
        try (PgStore s = PgStore.open(dir.resolve("pg"), 0, SMALL)) {
            s.apply(1, List.of(create()));
        }
        // A session as the code before versions kept it: last index 2, acked 0, and the reply to
        // its entry 1 (one Done), unversioned. Written beside the store the way PgStore writes it.
        byte[] reply = java.util.HexFormat.of().parseHex("0000000101");
        byte[] session = ByteBuffer.allocate(32 + reply.length).putLong(2).putLong(0).putInt(1).putLong(1).putInt(reply.length).put(reply).array();
        byte[] key = ByteBuffer.allocate(17).put((byte) 'S').putLong(CLIENT.getMostSignificantBits()).putLong(CLIENT.getLeastSignificantBits()).array();
        putRecord(key, session, 2);
        try (PgStore s = PgStore.open(dir.resolve("pg"), 0, SMALL)) {
            assertEquals(java.util.Optional.of(ByteBuffer.wrap(reply)), s.keptReply(new ClientTag(CLIENT, 1, 0)));
            assertEquals(List.of(new PgResult.Done()), s.apply(3, new ClientTag(CLIENT, 1, 0), List.of(new PgOp.Write(1, 0, filled(1, 1)))));
            assertArrayEquals(new byte[BLOCK], read(s, 0, 1), "the resent write was answered from the kept reply, not applied");
        }
    }

    @Test
    void refusesStateMachineRecordsOfAFutureFormatVersionNamingBoth() {
        try (PgStore s = PgStore.open(dir.resolve("pg"), 0, SMALL)) {
            s.apply(1, List.of(create()));
            s.apply(2, new ClientTag(CLIENT, 1, 0), List.of(new PgOp.Write(1, 0, filled(1, 1))));
        }
        try (VdiskStore engine = VdiskStore.open(dir.resolve("pg"), SMALL.withReserveBytes(0))) {
            java.util.Map<String, String> records = new java.util.TreeMap<>();
            engine.forEachLogRecord("pg-0", (k, v) -> records.put(new String(k, 0, 1, java.nio.charset.StandardCharsets.US_ASCII),
                    java.util.HexFormat.of().formatHex(v).substring(0, 2)));
            assertEquals("01", records.get("F"), "recorded with the first session");
        }
        putRecord(new byte[] {'F'}, new byte[] {2}, 3);
        var e = assertThrows(IllegalStateException.class, () -> PgStore.open(dir.resolve("pg"), 0, SMALL));
        assertEquals("pg-0 state-machine records: format version 2 (this node reads: 1)", e.getMessage());
        putRecord(new byte[] {'F'}, new byte[] {1}, 4); // finds the engine locked unless the refused open closed it
        try (PgStore s = PgStore.open(dir.resolve("pg"), 0, SMALL)) {
            assertEquals(1, s.sessionCount());
            assertEquals(4, s.appliedIndex());
        }
    }

    @Test
    void aStaleTokenIsRefusedAsFencedInLogOrderAndChangesNothing() {
        try (PgStore s = PgStore.open(dir.resolve("pg"), 0, SMALL)) {
            s.apply(1, List.of(create(), new PgOp.Write(1, 0, filled(1, 1))));   // token 0: never fenced yet
            List<PgResult> r = s.apply(2, List.of(
                    new PgOp.Write(1, 8, filled(1, 2), 4),                        // before the raise: accepted
                    new PgOp.RaiseFence(1, 5),
                    new PgOp.Write(1, 0, filled(1, 3), 4),
                    new PgOp.Unmap(1, 8, 1, 3),
                    new PgOp.CompareAndWrite(1, 0, filled(1, 1), filled(1, 4), 0),
                    new PgOp.Snapshot(1, "s", 4),
                    new PgOp.Write(1, 16, filled(1, 5), 5),
                    new PgOp.RaiseFence(1, 2)));                                  // lower: changes nothing
            assertEquals(List.of(new PgResult.Done(), new PgResult.Done(), new PgResult.Fenced(1, 4, 5), new PgResult.Fenced(1, 3, 5),
                    new PgResult.Fenced(1, 0, 5), new PgResult.Fenced(1, 4, 5), new PgResult.Done(), new PgResult.Done()), r);
            assertArrayEquals(filled(1, 1).array(), read(s, 0, 1));
            assertArrayEquals(filled(1, 2).array(), read(s, 8, 1));
            assertArrayEquals(filled(1, 5).array(), read(s, 16, 1));
            assertTrue(s.engine().snapshots("v1").isEmpty(), "the fenced snapshot was not taken");
        }
        try (PgStore s = PgStore.open(dir.resolve("pg"), 0, SMALL)) {
            assertEquals(List.of(new PgResult.Fenced(1, 4, 5)), s.apply(3, List.of(new PgOp.Write(1, 0, filled(1, 6), 4))),
                    "the fence was stored with the applied index");
            assertEquals(List.of(new PgResult.Done()), s.apply(4, List.of(new PgOp.Snapshot(1, "s", 5))));
        }
    }

    /** What the test switch does (the cluster's fencing test relies on it to show it can fail). */
    @Test
    void withTheTestSwitchOnAStaleWriteLands() {
        System.setProperty(PgFences.SKIP_PROPERTY, "true");
        try (PgStore s = PgStore.open(dir.resolve("pg"), 0, SMALL)) {
            s.apply(1, List.of(create(), new PgOp.RaiseFence(1, 5)));
            assertEquals(List.of(new PgResult.Done()), s.apply(2, List.of(new PgOp.Write(1, 0, filled(1, 7), 4))));
            assertArrayEquals(filled(1, 7).array(), read(s, 0, 1));
        } finally {
            System.clearProperty(PgFences.SKIP_PROPERTY);
        }
    }

    /** Commits state-machine record {@code key} of pg-0 at {@code index}, as PgStore does, with the store closed. */
    private void putRecord(byte[] key, byte[] value, long index) {
        try (VdiskStore engine = VdiskStore.open(dir.resolve("pg"), SMALL.withReserveBytes(0));
             io.basalt.vdisk.store.EntryBatch batch = engine.entryBatch("pg-0")) {
            batch.putLogRecord(key, value);
            batch.commit(index);
        }
    }
}
