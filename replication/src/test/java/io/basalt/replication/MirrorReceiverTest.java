package io.basalt.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletionException;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.replication.stream.MirrorException;
import io.basalt.replication.stream.MirrorException.Reason;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.store.Vdisk;

/**
 * Streams the replica must refuse, and what it must look like afterwards: still at its last
 * complete snapshot, with no snapshot showing what a refused stream wrote, and ready to take the
 * right stream.
 */
class MirrorReceiverTest {
    private static final String VDISK = "web1";
    private static final long SIZE_BYTES = 4L << 20;

    @TempDir
    Path dir;
    private Sites sites;
    private final Random random = new Random(22);
    /** The full sync (mirror-1, applied in setUp) and the next round's stream (mirror-2, not applied). */
    private byte[] first;
    private byte[] second;

    @BeforeEach
    void setUp() {
        sites = new Sites(dir);
        sites.a.create(VDISK, SIZE_BYTES);
        Sites.writeRandomGrains(sites.a, VDISK, random, 300);
        sites.a.createSnapshot(VDISK, "mirror-1");
        first = sites.stream(VDISK, null, "mirror-1", 1);
        sites.apply(first, VDISK);
        // Enough change for several data frames, so a refusal can come after some were applied.
        Sites.writeRandomGrains(sites.a, VDISK, random, 700);
        sites.a.createSnapshot(VDISK, "mirror-2");
        second = sites.stream(VDISK, "mirror-1", "mirror-2", 2);
        assertTrue(Sites.frames(second).size() >= 4, "frames: " + Sites.frames(second).size());
    }

    @AfterEach
    void tearDown() {
        sites.close();
    }

    /** The replica holds mirror-1 only, equal to A's, and the right stream still applies. */
    private void assertAtFirstSnapshotAndRecovers() {
        assertEquals(List.of("mirror-1"), Sites.snapshotNames(sites.b, VDISK));
        sites.assertSameBytes(VDISK + "@mirror-1", VDISK + "@mirror-1");
        sites.apply(second, VDISK);
        assertEquals(List.of("mirror-1", "mirror-2"), Sites.snapshotNames(sites.b, VDISK));
        sites.assertSameBytes(VDISK + "@mirror-2", VDISK + "@mirror-2");
        sites.assertSameBytes(VDISK + "@mirror-2", VDISK);
    }

    private MirrorException refused(Reason reason, byte[] stream) {
        MirrorException e = assertThrows(MirrorException.class, () -> sites.apply(stream, VDISK));
        assertEquals(reason, e.reason(), e.getMessage());
        return e;
    }

    @Test
    void aFrameWithAWrongCrcIsRefusedAfterEarlierFramesWereAppliedAndTheReplicaKeepsItsSnapshot() {
        List<byte[]> frames = Sites.frames(second);
        byte[] bad = frames.get(3);
        bad[bad.length / 2] ^= 0x10;
        MirrorException e = refused(Reason.BAD_FRAME, Sites.join(frames));
        assertTrue(e.getMessage().contains("CRC32C"), e.getMessage());
        assertAtFirstSnapshotAndRecovers();
    }

    @Test
    void aStreamCutAnywhereIsRefusedAsTruncatedAndTheReplicaKeepsItsSnapshot() {
        List<byte[]> frames = Sites.frames(second);
        int endFrameAt = second.length - frames.get(frames.size() - 1).length;
        for (int cut : new int[] {0, 3, frames.get(0).length, frames.get(0).length + 100, second.length / 2, endFrameAt, second.length - 1}) {
            MirrorException e = refused(Reason.TRUNCATED, Arrays.copyOf(second, cut));
            assertTrue(e.getMessage().contains("expected: an end frame"), e.getMessage());
            assertEquals(List.of("mirror-1"), Sites.snapshotNames(sites.b, VDISK), "cut at " + cut);
        }
        assertAtFirstSnapshotAndRecovers();
    }

    @Test
    void aReplayedStreamIsRefusedAsAlreadyAppliedAndAnOlderOneAsStale() {
        sites.apply(second, VDISK);
        MirrorException replay = refused(Reason.ALREADY_APPLIED, second);
        assertTrue(replay.getMessage().contains("already holds snapshot mirror-2"), replay.getMessage());
        MirrorException stale = refused(Reason.STALE, first);
        assertTrue(stale.getMessage().contains("round: 1 (mirror-1) (expected: > 2"), stale.getMessage());
        assertEquals(List.of("mirror-1", "mirror-2"), Sites.snapshotNames(sites.b, VDISK));
        sites.assertSameBytes(VDISK + "@mirror-2", VDISK);
    }

    @Test
    void aStreamOfAnotherSiteOrAnotherVdiskIsRefusedNamingIt() {
        byte[] otherSite = Sites.stream(new MirrorSender(sites.a, "site-c"), VDISK, "mirror-1", "mirror-2", 2);
        MirrorException e = refused(Reason.WRONG_SOURCE, otherSite);
        assertTrue(e.getMessage().contains("of site site-c (expected: id") && e.getMessage().contains("of site site-a"), e.getMessage());

        sites.a.create("db1", SIZE_BYTES);
        sites.a.createSnapshot("db1", "mirror-1");
        byte[] otherVdisk = sites.stream("db1", null, "mirror-1", 1);
        e = refused(Reason.WRONG_SOURCE, otherVdisk);
        assertTrue(e.getMessage().contains("is for vdisk db1 of site site-a (expected: web1)"), e.getMessage());

        // The same name on A, but another vdisk (removed and created again): another id.
        sites.a.purgeSnapshots("db1");
        sites.a.remove("db1");
        sites.a.purgeSnapshots(VDISK);
        sites.a.remove(VDISK);
        sites.a.create(VDISK, SIZE_BYTES);
        sites.a.createSnapshot(VDISK, "mirror-1");
        sites.a.createSnapshot(VDISK, "mirror-2");
        byte[] recreated = sites.stream(VDISK, "mirror-1", "mirror-2", 2);
        e = refused(Reason.WRONG_SOURCE, recreated);
        assertTrue(e.getMessage().contains("is for vdisk web1 id " + sites.a.info(VDISK).id()), e.getMessage());

        // A vdisk of B that is no replica is never written by a stream.
        sites.b.create("db1", SIZE_BYTES);
        e = assertThrows(MirrorException.class, () -> sites.apply(otherVdisk, "db1"));
        assertEquals(Reason.WRONG_SOURCE, e.reason());
        assertTrue(e.getMessage().contains("vdisk db1 exists here and is not a replica"), e.getMessage());
        assertEquals(List.of("mirror-1"), Sites.snapshotNames(sites.b, VDISK));
    }

    @Test
    void aStreamFromAnotherSnapshotThanTheReplicasLastIsRefusedNamingBoth() {
        Sites.writeRandomGrains(sites.a, VDISK, random, 10);
        sites.a.createSnapshot(VDISK, "mirror-3");
        byte[] third = sites.stream(VDISK, "mirror-2", "mirror-3", 3);
        MirrorException e = refused(Reason.WRONG_BASE, third);
        assertTrue(e.getMessage().contains("from-snapshot: mirror-2 (expected: mirror-1"), e.getMessage());
        assertAtFirstSnapshotAndRecovers();
    }

    @Test
    void anIncrementalStreamToAReplicaThatHasNoneYetIsRefused() {
        sites.a.create("db1", SIZE_BYTES);
        sites.a.createSnapshot("db1", "mirror-1");
        sites.a.createSnapshot("db1", "mirror-2");
        MirrorException e = assertThrows(MirrorException.class, () -> sites.apply(sites.stream("db1", "mirror-1", "mirror-2", 2), "db1"));
        assertEquals(Reason.WRONG_BASE, e.reason());
        assertTrue(e.getMessage().contains("from-snapshot: mirror-1 (expected: (none: a full sync)"), e.getMessage());
        assertTrue(!sites.b.exists("db1"), "a refused stream creates no replica");
    }

    @Test
    void framesOfTwoAttemptsSplicedTogetherAreRefused() {
        byte[] again = sites.stream(VDISK, "mirror-1", "mirror-2", 2); // another attempt: another stream id
        List<byte[]> frames = new ArrayList<>(Sites.frames(second));
        List<byte[]> otherFrames = Sites.frames(again);
        frames.set(frames.size() - 1, otherFrames.get(otherFrames.size() - 1));
        MirrorException e = refused(Reason.BAD_STREAM, Sites.join(frames));
        assertTrue(e.getMessage().startsWith("end frame: "), e.getMessage());

        List<byte[]> dropped = new ArrayList<>(Sites.frames(second));
        dropped.remove(1); // the first data frame
        e = refused(Reason.BAD_STREAM, Sites.join(dropped));
        assertTrue(e.getMessage().contains("data frame index: 2 (expected: 1)"), e.getMessage());
        assertAtFirstSnapshotAndRecovers();
    }

    @Test
    void theReplicaRefusesOrdinaryWritesAndSnapshotChanges() {
        try (Vdisk v = sites.b.open(VDISK)) {
            CompletionException e = assertThrows(CompletionException.class, () -> v.write(0, ByteBuffer.allocate(512), false).join());
            assertEquals(BlockDeviceException.Kind.READ_ONLY, ((BlockDeviceException) e.getCause()).kind());
        }
        assertThrows(io.basalt.vdisk.store.StoreException.class, () -> sites.b.createSnapshot(VDISK, "mirror-2"));
        assertAtFirstSnapshotAndRecovers();
    }

    @Test
    void aFirstSyncCutShortIsReplacedWholeByTheNextFullSync() {
        sites.a.create("db1", SIZE_BYTES);
        Sites.writeRandomGrains(sites.a, "db1", random, 400);
        sites.a.createSnapshot("db1", "mirror-1");
        byte[] full = sites.stream("db1", null, "mirror-1", 1);
        assertThrows(MirrorException.class, () -> sites.apply(Arrays.copyOf(full, full.length - 10), "db1"));
        assertTrue(sites.b.snapshots("db1").isEmpty(), "no snapshot from a cut stream");
        // The primary drops that snapshot and unmaps everything: what the cut stream wrote is gone there.
        sites.a.removeSnapshot("db1", "mirror-1");
        try (Vdisk v = sites.a.open("db1")) {
            v.unmap(0, v.blockCount()).join();
        }
        Sites.writeRandomGrains(sites.a, "db1", random, 20);
        sites.a.createSnapshot("db1", "mirror-2");
        sites.apply(sites.stream("db1", null, "mirror-2", 2), "db1");
        sites.assertSameBytes("db1@mirror-2", "db1@mirror-2");
    }
}
