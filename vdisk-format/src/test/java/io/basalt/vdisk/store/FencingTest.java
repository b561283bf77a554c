package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.CompareResult;
import io.basalt.vdisk.FencedException;

/** Fencing in the engine: the fence of a vdisk, its storage, and the mutations it refuses or waits for. */
class FencingTest {
    private static final int BLOCK = 512;
    private static final int GRAIN = 4096;
    private static final long SIZE = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void rejectsWriteWithStaleFencingToken() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("web1", SIZE);
            try (Vdisk v = store.open("web1")) {
                v.write(0, filled(2 * GRAIN, 1), false).join();
                v.raiseFence(12);
                List<String> versions = store.versions("web1");
                byte[] before = read(v, 0, 2 * GRAIN / BLOCK);
                BlockDevice zombie = v.withToken(10);

                List<Supplier<CompletableFuture<?>>> mutations = List.of(
                        () -> zombie.write(0, filled(GRAIN, 2), false),
                        () -> zombie.write(0, filled(GRAIN, 2), true),
                        () -> zombie.writeAtomic(0, filled(GRAIN, 2), false),
                        () -> zombie.unmap(0, GRAIN / BLOCK),
                        () -> zombie.writeZeroes(0, GRAIN / BLOCK, false),
                        () -> zombie.writeZeroes(0, GRAIN / BLOCK, true),
                        () -> zombie.compareAndWrite(0, filled(BLOCK, 1), filled(BLOCK, 2)),
                        () -> zombie.resize(2 * SIZE));
                for (Supplier<CompletableFuture<?>> m : mutations) {
                    FencedException e = fenced(m.get());
                    assertEquals("web1", e.vdisk());
                    assertEquals(10, e.token());
                    assertEquals(12, e.fence());
                }

                assertEquals(versions, store.versions("web1"), "nothing stored");
                assertArrayEquals(before, read(v, 0, 2 * GRAIN / BLOCK));
                assertEquals(SIZE, v.sizeBytes());
                // reads, flush and GET LBA STATUS are not fenced
                assertArrayEquals(before, read(zombie, 0, 2 * GRAIN / BLOCK));
                zombie.flush().join();
                assertFalse(zombie.getLbaStatus(0, 8).join().isEmpty());
            }
        }
    }

    @Test
    void theHolderOfTheFencesTokenWritesEveryKindOfMutation() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("web1", SIZE);
            try (Vdisk v = store.open("web1")) {
                v.raiseFence(12);
                BlockDevice holder = v.withToken(12);
                holder.write(0, filled(GRAIN, 3), true).join();
                holder.writeAtomic(8, filled(GRAIN, 4), false).join();
                assertEquals(CompareResult.MATCHED, holder.compareAndWrite(0, filled(BLOCK, 3), filled(BLOCK, 5)).join());
                holder.writeZeroes(16, 8, false).join();
                holder.unmap(8, 8).join();
                holder.resize(2 * SIZE).join();
                assertArrayEquals(concat(filled(BLOCK, 5), filled(GRAIN - BLOCK, 3)), read(v, 0, 8));
                assertArrayEquals(new byte[GRAIN], read(v, 8, 8));
                assertEquals(2 * SIZE, v.sizeBytes());
                v.withToken(13).write(0, filled(GRAIN, 6), false).join(); // a later token passes too
            }
        }
    }

    @Test
    void tokenZeroWritesUntilTheFirstFence() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("web1", SIZE);
            try (Vdisk v = store.open("web1")) {
                assertEquals(0, v.fence());
                v.write(0, filled(GRAIN, 1), false).join();          // the plain handle: token 0
                v.withToken(0).write(8, filled(GRAIN, 2), false).join();
                v.unmap(16, 8).join();
                v.raiseFence(1);
                FencedException e = fenced(v.write(0, filled(GRAIN, 3), false));
                assertEquals(0, e.token());
                assertEquals(1, e.fence());
                fenced(v.unmap(0, 8));
                fenced(v.withToken(0).write(0, filled(GRAIN, 3), false));
                v.withToken(1).write(0, filled(GRAIN, 4), false).join();
                assertArrayEquals(filled(GRAIN, 4).array(), read(v, 0, 8));
            }
        }
    }

    @Test
    void fenceSurvivesReopen() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("web1", SIZE);
            store.create("other", SIZE);
            try (Vdisk v = store.open("web1")) {
                v.raiseFence(12);
            }
        }
        try (VdiskStore store = VdiskStore.open(dir); Vdisk v = store.open("web1"); Vdisk other = store.open("other")) {
            assertEquals(12, v.fence());
            assertEquals(0, other.fence(), "fences are per vdisk");
            fenced(v.withToken(11).write(0, filled(GRAIN, 1), false));
            v.withToken(12).write(0, filled(GRAIN, 1), false).join();
            other.write(0, filled(GRAIN, 1), false).join();
        }
    }

    @Test
    void lowerFenceIsANoOp() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("web1", SIZE);
            try (Vdisk v = store.open("web1")) {
                v.raiseFence(12);
                v.raiseFence(5);
                assertEquals(12, v.fence());
                v.raiseFence(12);
                assertEquals(12, v.fence());
                fenced(v.withToken(11).write(0, filled(GRAIN, 1), false));
            }
        }
        try (VdiskStore store = VdiskStore.open(dir); Vdisk v = store.open("web1")) {
            assertEquals(12, v.fence(), "the lower value was not stored");
        }
    }

    @Test
    void aFenceIsSharedByEveryHandleOfTheVdisk() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("web1", SIZE);
            try (Vdisk a = store.open("web1"); Vdisk b = store.open("web1")) {
                a.raiseFence(12);
                assertEquals(12, b.fence());
                fenced(b.withToken(10).write(0, filled(GRAIN, 1), false));
            }
        }
    }

    /**
     * The seam: the test holds the vdisk's state lock exclusively (as a snapshot does), so a
     * write admitted under the old holder's token waits on an I/O thread, in flight. The raise
     * must not return before that write has finished; without the wait it would return at once.
     */
    @Test
    void raiseFenceWaitsForAdmittedWritesWithOlderTokens() throws Exception {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("web1", SIZE);
            try (Vdisk v = store.open("web1")) {
                BlockDevice oldHolder = v.withToken(10);
                VdiskState st = v.state();
                CompletableFuture<Void> inFlight;
                CompletableFuture<Boolean> raise = new CompletableFuture<>();
                Thread raiser;
                long stamp = st.lock.writeLock();
                try {
                    inFlight = oldHolder.write(0, filled(GRAIN, 7), true);   // admitted; blocked on the state lock
                    raiser = new Thread(() -> {
                        try {
                            v.raiseFence(12);
                            raise.complete(inFlight.isDone());   // was the old holder's write over when the raise returned?
                        } catch (Throwable e) {
                            raise.completeExceptionally(e);
                        }
                    }, "raise");
                    raiser.setDaemon(true);
                    raiser.start();
                    awaitTimedWaiting(raiser, raise);
                    assertEquals(12, v.fence(), "raised while it waits");
                    assertEquals(1, st.fences.staleInflight());
                    fenced(oldHolder.write(8, filled(GRAIN, 8), false));    // new stale writes are refused at once
                    assertFalse(raise.isDone());
                    assertFalse(inFlight.isDone());
                } finally {
                    st.lock.unlockWrite(stamp);
                }
                assertTrue(raise.get(10, TimeUnit.SECONDS), "raiseFence returned before the admitted write finished");
                inFlight.join();
                assertArrayEquals(filled(GRAIN, 7).array(), read(v, 0, 8), "admitted before the raise: applied");
                assertArrayEquals(new byte[GRAIN], read(v, 8, 8), "refused after it: not applied");
            }
        }
    }

    @Test
    void raiseFenceIsRefusedOnASnapshotAndWhenClosed() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("web1", SIZE);
            store.createSnapshot("web1", "s1");
            try (Vdisk snap = store.open("web1@s1")) {
                BlockDeviceException e = assertThrows(BlockDeviceException.class, () -> snap.raiseFence(12));
                assertEquals(BlockDeviceException.Kind.READ_ONLY, e.kind());
            }
            Vdisk v = store.open("web1");
            v.close();
            BlockDeviceException e = assertThrows(BlockDeviceException.class, () -> v.raiseFence(12));
            assertEquals(BlockDeviceException.Kind.UNAVAILABLE, e.kind());
            try (Vdisk head = store.open("web1")) {
                assertThrows(IllegalArgumentException.class, () -> head.withToken(-1));
            }
        }
    }

    @Test
    void entryBatchSeesAFenceRaisedEarlierInTheSameBatch() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("web1", SIZE);
            try (Vdisk v = store.open("web1")) {
                try (EntryBatch b = store.entryBatch("pg-0")) {
                    b.checkFence(v, 0);
                    b.raiseFence(v, 12);
                    FencedException e = assertThrows(FencedException.class, () -> b.checkFence(v, 10));
                    assertEquals(12, e.fence());
                    b.checkFence(v, 12);
                    b.write(v, 0, filled(GRAIN, 1));
                    b.raiseFence(v, 5);                      // lower: no-op
                    assertThrows(FencedException.class, () -> b.checkFence(v, 11));
                    assertEquals(0, v.fence(), "not the vdisk's before the commit");
                    b.commit(1);
                }
                assertEquals(12, v.fence());
                assertEquals(1, store.appliedIndex("pg-0"));
                fenced(v.withToken(11).write(0, filled(GRAIN, 2), false));
                try (EntryBatch b = store.entryBatch("pg-0")) {
                    assertThrows(FencedException.class, () -> b.checkFence(v, 11));
                    b.raiseFence(v, 20);
                    // closed without a commit (the apply failed): the raise is dropped
                }
                assertEquals(12, v.fence());
            }
        }
        try (VdiskStore store = VdiskStore.open(dir); Vdisk v = store.open("web1")) {
            assertEquals(12, v.fence(), "stored with the applied index");
            assertArrayEquals(filled(GRAIN, 1).array(), read(v, 0, 8));
        }
    }

    @Test
    void anEntryBatchNeverStoresAFenceBelowOneRaisedSinceItsOpWasAdded() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("web1", SIZE);
            try (Vdisk v = store.open("web1")) {
                try (EntryBatch b = store.entryBatch("pg-0")) {
                    b.raiseFence(v, 12);
                    v.raiseFence(15);
                    b.commit(1);
                }
                assertEquals(15, v.fence());
            }
        }
        try (VdiskStore store = VdiskStore.open(dir); Vdisk v = store.open("web1")) {
            assertEquals(15, v.fence());
        }
    }

    @Test
    void removeVdiskDropsItsFence() throws Exception {
        long id;
        try (VdiskStore store = VdiskStore.open(dir)) {
            id = store.create("web1", SIZE).id();
            try (Vdisk v = store.open("web1")) {
                v.raiseFence(12);
            }
            assertTrue(store.db().db.get(store.db().meta, Fences.key(id)) != null);
            store.remove("web1");
            assertNull(store.db().db.get(store.db().meta, Fences.key(id)));
            store.create("web1", SIZE);
            try (Vdisk v = store.open("web1")) {
                assertEquals(0, v.fence(), "a new vdisk of the same name starts unfenced");
                v.write(0, filled(GRAIN, 1), false).join();
            }
        }
    }

    @Test
    void aCloneStartsAtFenceZero() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("web1", SIZE);
            try (Vdisk v = store.open("web1")) {
                v.raiseFence(12);
            }
            store.createSnapshot("web1", "s1", 12);
            store.clone("web1", "s1", "web2");
            try (Vdisk clone = store.open("web2")) {
                assertEquals(0, clone.fence());
                clone.write(0, filled(GRAIN, 1), false).join();
            }
        }
    }

    @Test
    void staleSnapshotIsRefused() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("web1", SIZE);
            store.createSnapshot("web1", "before", 0);
            try (Vdisk v = store.open("web1")) {
                v.raiseFence(12);
            }
            FencedException e = assertThrows(FencedException.class, () -> store.createSnapshot("web1", "zombie", 10));
            assertEquals(10, e.token());
            assertThrows(FencedException.class, () -> store.createSnapshot("web1", "lockless"));
            assertEquals(List.of("before"), store.snapshots("web1").stream().map(SnapshotInfo::name).toList());
            store.createSnapshot("web1", "holder", 12);
            assertEquals(List.of("before", "holder"), store.snapshots("web1").stream().map(SnapshotInfo::name).toList());
            assertEquals(3, store.info("web1").headEpoch(), "one epoch per snapshot taken, none for the refused ones");
        }
    }

    @Test
    void aLargeStaleUnmapStopsAtTheNextChunkOnceFenced() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            // 3 chunks of 1024 grains
            long chunkBytes = (long) Vdisk.RANGE_CHUNK_GRAINS_MAX * GRAIN;
            store.create("web1", 3 * chunkBytes);
            try (Vdisk v = store.open("web1")) {
                long blocks = 3 * chunkBytes / BLOCK;
                v.write(0, filled(GRAIN, 1), false).join();
                v.write(blocks - 8, filled(GRAIN, 1), false).join();
                VdiskState st = v.state();
                CompletableFuture<Void> unmap;
                long stamp = st.lock.writeLock();
                try {
                    unmap = v.withToken(10).unmap(0, blocks);          // admitted, waits for the lock
                    // not waiting for the raise: it would wait for the unmap we hold up
                    st.fences.advance(12);
                } finally {
                    st.lock.unlockWrite(stamp);
                }
                FencedException e = fenced(unmap);
                assertEquals(12, e.fence());
                assertArrayEquals(new byte[GRAIN], read(v, 0, 8), "the first chunk was applied");
                assertArrayEquals(filled(GRAIN, 1).array(), read(v, blocks - 8, 8), "the last was not");
            }
        }
    }

    // ---- helpers ----

    /** Until {@code thread} waits with a timeout: the raise is in its wait loop. Fails if the raise returned instead. */
    private static void awaitTimedWaiting(Thread thread, CompletableFuture<?> raise) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (thread.getState() != Thread.State.TIMED_WAITING) {
            assertFalse(raise.isDone(), "the raise returned instead of waiting");
            assertTrue(System.nanoTime() < deadline, "the raise did not start waiting: " + thread.getState());
            Thread.onSpinWait();
        }
    }

    private static FencedException fenced(CompletableFuture<?> f) {
        CompletionException e = assertThrows(CompletionException.class, f::join);
        return assertInstanceOf(FencedException.class, e.getCause());
    }

    private static ByteBuffer filled(int bytes, int value) {
        byte[] b = new byte[bytes];
        Arrays.fill(b, (byte) value);
        return ByteBuffer.wrap(b);
    }

    private static byte[] concat(ByteBuffer a, ByteBuffer b) {
        byte[] out = new byte[a.remaining() + b.remaining()];
        a.duplicate().get(out, 0, a.remaining());
        b.duplicate().get(out, a.remaining(), b.remaining());
        return out;
    }

    private static byte[] read(BlockDevice v, long lba, int blocks) {
        ByteBuffer got = v.read(lba, blocks).join();
        byte[] b = new byte[got.remaining()];
        got.get(b);
        return b;
    }
}
