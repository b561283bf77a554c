package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.vdisk.frame.BlockFrame;

/** Removing a snapshot is a metadata change; its versions are collected in the background, in steps. */
class SnapshotGcTest {
    private static final int GRAIN = VdiskStore.GRAIN_SIZE_DEFAULT_BYTES;
    private static final int BLOCKS_PER_GRAIN = GRAIN / 512;
    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    /** Writes {@code grains} whole grains from grain 0, grain g filled with (g + pass). */
    private static void fill(Vdisk v, int grains, int pass) {
        int perWrite = 64;
        for (int g = 0; g < grains; g += perWrite) {
            int n = Math.min(perWrite, grains - g);
            ByteBuffer buf = ByteBuffer.allocate(n * GRAIN);
            for (int i = 0; i < n; i++) {
                byte b = (byte) (g + i + pass);
                for (int k = 0; k < GRAIN; k++) {
                    buf.put(b);
                }
            }
            buf.flip();
            v.write((long) g * BLOCKS_PER_GRAIN, buf, false).join();
        }
    }

    private static void assertPass(Vdisk v, int grains, int pass, String what) {
        ByteBuffer read = v.read(0, grains * BLOCKS_PER_GRAIN).join();
        for (int g = 0; g < grains; g++) {
            byte want = (byte) (g + pass);
            for (int k = 0; k < GRAIN; k += 512) {
                assertEquals(want, read.get(g * GRAIN + k), what + ": grain " + g + " byte " + k);
            }
        }
    }

    @Test
    void removalReturnsBeforeTheCollectionAndTheSpaceComesBackAfterIt() {
        int grains = 4096;
        try (VdiskStore store = VdiskStore.open(dir); Vdisk v = store.open(store.create("v", (long) grains * GRAIN).name())) {
            store.gcWorker().close(); // the test runs the steps: nothing is collected behind its back
            fill(v, grains, 0);
            store.createSnapshot("v", "s1");
            fill(v, grains, 1);
            long versionsBefore = store.usage("v").versionCount();

            store.removeSnapshot("v", "s1");

            assertEquals(List.of(), store.snapshots("v"), "the snapshot is gone from the catalog at once");
            assertEquals(1, store.pendingGcCount("v"));
            assertEquals(versionsBefore, store.usage("v").versionCount(), "nothing collected yet");
            assertTrue(store.gcWorker().stepOnce());
            long afterOneStep = store.usage("v").versionCount();
            assertTrue(afterOneStep < versionsBefore && afterOneStep > grains,
                    "one step collects some grains, not all: " + afterOneStep + " of " + versionsBefore);
            assertPass(v, grains, 1, "head during the collection");
            while (store.gcWorker().stepOnce()) {
                assertPass(v, grains, 1, "head between steps");
            }
            assertEquals(0, store.pendingGcCount("v"));
            assertEquals(grains, store.usage("v").versionCount(), "one version per grain once collected");
        }
    }

    @Test
    void aRestartInTheMiddleOfTheCollectionResumesItAndLosesNothing() {
        int grains = 3000;
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.gcWorker().close();
            try (Vdisk v = store.open(store.create("v", (long) grains * GRAIN).name())) {
                fill(v, grains, 0);
                store.createSnapshot("v", "s1");
                fill(v, grains, 1);
                store.createSnapshot("v", "s2");
                fill(v, grains, 2);
            }
            store.removeSnapshot("v", "s1");
            assertTrue(store.gcWorker().stepOnce());
            assertEquals(1, store.pendingGcCount("v"), "stopped after one step");
        }
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.awaitGc("v", WAIT);
            assertEquals(0, store.pendingGcCount("v"));
            try (Vdisk head = store.open("v"); Vdisk s2 = store.open("v@s2")) {
                assertPass(head, grains, 2, "head after the resumed collection");
                assertPass(s2, grains, 1, "v@s2 after the resumed collection");
            }
            assertEquals(2L * grains, store.usage("v").versionCount(), "s1's versions are gone, s2's and the head's kept");
        }
    }

    @Test
    void writesAndSnapshotsDuringALongCollectionDoNotWaitForIt() throws Exception {
        int grains = 16_384;
        try (VdiskStore store = VdiskStore.open(dir); Vdisk v = store.open(store.create("v", (long) grains * GRAIN).name())) {
            store.gcWorker().close();
            store.gcWorker().gc().stepGrains(16); // a long collection: 1,024 steps (at 256 it finished first in 3 of
            // 9 runs here once stores flushed at the end of their collections, BlobReclaim; 0 of 6 at 1,024)
            fill(v, grains, 0);
            store.createSnapshot("v", "s1");
            fill(v, grains, 1);
            store.removeSnapshot("v", "s1");
            AtomicBoolean stop = new AtomicBoolean();
            CompletableFuture<Integer> collector = CompletableFuture.supplyAsync(() -> {
                int steps = 0;
                while (!stop.get() && store.gcWorker().stepOnce()) {
                    steps++;
                }
                return steps;
            });
            ByteBuffer data = ByteBuffer.allocate(GRAIN);
            while (data.hasRemaining()) {
                data.put((byte) 77);
            }
            data.flip();
            v.write(0, data, false).get(10, TimeUnit.SECONDS);
            store.createSnapshot("v", "s2"); // waits for at most the step under way
            boolean stillCollecting = store.pendingGcCount("v") > 0;
            stop.set(true);
            int steps = collector.get(60, TimeUnit.SECONDS);
            assertTrue(stillCollecting, "the write and the snapshot finished while the collection still ran (" + steps + " steps by then)");
            assertEquals(77, v.read(0, 1).join().get(0));
            store.gcWorker().gc().stepGrains(SnapshotGc.STEP_GRAINS_MAX);
            while (store.gcWorker().stepOnce()) {
                // to the end
            }
            try (Vdisk s2 = store.open("v@s2")) {
                assertEquals(77, s2.read(0, 1).join().get(0));
                assertEquals((byte) 2, s2.read(BLOCKS_PER_GRAIN, 1).join().get(0), "grain 1 as the second pass wrote it");
            }
        }
    }

    @Test
    void theBackgroundThreadCollectsWithoutBeingAsked() {
        int grains = 2048;
        try (VdiskStore store = VdiskStore.open(dir); Vdisk v = store.open(store.create("v", (long) grains * GRAIN).name())) {
            fill(v, grains, 0);
            store.createSnapshot("v", "s1");
            fill(v, grains, 1);
            store.removeSnapshot("v", "s1");
            store.awaitGc("v", WAIT);
            assertEquals(grains, store.usage("v").versionCount());
            assertPass(v, grains, 1, "head");
        }
    }

    @Test
    void removingAVdiskDropsItsQueuedCollections() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.gcWorker().close();
            try (Vdisk v = store.open(store.create("v", 64L * GRAIN).name())) {
                fill(v, 64, 0);
                store.createSnapshot("v", "s1");
                fill(v, 64, 1);
            }
            store.removeSnapshot("v", "s1");
            store.remove("v");
            assertTrue(store.gcWorker().gc().pending(-1).isEmpty(), "the removed vdisk's collection is no longer queued");
            assertEquals(false, store.gcWorker().stepOnce());
        }
    }

    @Test
    void theInvariantRefusesToDeleteAVersionAnEpochStillSees() {
        byte[] data = BlockFrame.tombstone();
        byte[] mapped = BlockFrame.encode(new byte[] {1, 2, 3}, 0, 3);
        List<GcInvariant.Version> versions = List.of(new GcInvariant.Version(5, mapped), new GcInvariant.Version(2, data));
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> GcInvariant.check("v", 7, versions, Set.of(5L), null, new long[] {5, 9}, false));
        assertTrue(e.getMessage().contains("epoch 5 reads of grain 7 of vdisk v"), e.getMessage());
        // Moved up to the head with the same bytes: every retained epoch reads the same.
        GcInvariant.check("v", 7, versions, Set.of(5L), new GcInvariant.Put(9, mapped.clone()), new long[] {9}, false);
        // A tombstone over nothing reads as zeros, like no version at all; in a clone it hides the parent.
        GcInvariant.check("v", 7, List.of(new GcInvariant.Version(2, data)), Set.of(2L), null, new long[] {9}, false);
        assertThrows(IllegalStateException.class,
                () -> GcInvariant.check("v", 7, List.of(new GcInvariant.Version(2, data)), Set.of(2L), null, new long[] {9}, true));
    }
}
