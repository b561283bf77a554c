package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import io.basalt.vdisk.FencedException;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * Fencing against a model: random interleavings of fence raises (on the vdisk and through an
 * entry batch), writes with random tokens (inline, through the committer, left in flight) and
 * store reopens. Model: a write is applied iff its token was at least the fence when it was
 * called; when a raise returns, every write admitted with a token below the new fence is over;
 * the fence is the largest value raised, also after a reopen. Each write has a grain of its own,
 * so writes in flight at once never race for the same grain. The seed is printed first; a failing
 * one is replayed by adding it to {@link #regressionSeeds()}.
 */
class FencingModelProperties {
    static final int STEPS_PER_TRY = 120;
    static final int GRAIN = 4096;
    static final int BLOCKS_PER_GRAIN = GRAIN / 512;

    @Property(tries = 15, shrinking = net.jqwik.api.ShrinkingMode.OFF)
    void aWriteIsAppliedIffItsTokenWasAtLeastTheFenceWhenItWasCalled(@ForAll long seed) throws IOException {
        run(seed);
    }

    @Example
    void regressionSeeds() throws IOException {
        for (long seed : new long[] {1L, 42L}) {
            run(seed);
        }
    }

    /** One write: where it went, what it wrote, whether the model admits it, and its future. */
    private record Write(int slot, long token, boolean admitted, CompletableFuture<Void> done) {}

    private static void run(long seed) throws IOException {
        System.out.println("FencingModelProperties seed " + seed);
        Random random = new Random(seed);
        Path dir = Files.createTempDirectory("fencing-model");
        List<Write> writes = new ArrayList<>();
        long fence = 0;
        long index = 0;
        VdiskStore store = VdiskStore.open(dir);
        store.create("web1", (long) (STEPS_PER_TRY + 1) * GRAIN);
        Vdisk v = store.open("web1");
        try {
            for (int step = 0; step < STEPS_PER_TRY; step++) {
                int dice = random.nextInt(100);
                if (dice < 70) {
                    long token = random.nextInt((int) fence + 3);
                    boolean fua = random.nextBoolean();
                    int slot = writes.size();
                    CompletableFuture<Void> f = (token == 0 && random.nextBoolean() ? v : v.withToken(token))
                            .write((long) slot * BLOCKS_PER_GRAIN, filled(slot), fua);
                    writes.add(new Write(slot, token, token >= fence, f));
                } else if (dice < 88) {
                    long raised = random.nextInt((int) fence + 4);
                    v.raiseFence(raised);
                    fence = Math.max(fence, raised);
                    for (Write w : writes) {
                        assertTrue(w.token() >= fence || w.done().isDone(),
                                "seed " + seed + ": write " + w + " still in flight after raise to " + fence);
                    }
                    assertEquals(fence, v.fence(), "seed " + seed);
                } else if (dice < 96) {
                    joinAll(writes);  // the batch's contract: its caller is the vdisk's only writer
                    fence = applyEntry(random, store, v, ++index, writes, fence);
                } else {
                    joinAll(writes);
                    v.close();
                    store.close();
                    store = VdiskStore.open(dir);
                    v = store.open("web1");
                    assertEquals(fence, v.fence(), "seed " + seed + ": fence after reopen");
                }
            }
            joinAll(writes);
            for (Write w : writes) {
                check(seed, v, w);
            }
        } finally {
            v.close();
            store.close();
            deleteTree(dir);
        }
    }

    /** A log entry that may raise the fence, then writes with a token if the batch's check lets it. */
    private static long applyEntry(Random random, VdiskStore store, Vdisk v, long index, List<Write> writes, long fence) {
        long seen = fence;
        int slot = writes.size();
        long token = random.nextInt((int) fence + 4);
        try (EntryBatch b = store.entryBatch("pg-0")) {
            if (random.nextBoolean()) {
                long raised = random.nextInt((int) fence + 4);
                b.raiseFence(v, raised);
                seen = Math.max(seen, raised);
            }
            boolean admitted;
            try {
                b.checkFence(v, token);
                b.write(v, (long) slot * BLOCKS_PER_GRAIN, filled(slot));
                admitted = true;
            } catch (FencedException e) {
                assertEquals(seen, e.fence());
                admitted = false;
            }
            assertEquals(token >= seen, admitted, "entry " + index + ": token " + token + " against fence " + seen);
            b.commit(index);
            CompletableFuture<Void> done = admitted ? CompletableFuture.completedFuture(null)
                    : CompletableFuture.failedFuture(new CompletionException(new FencedException("web1", token, seen)));
            writes.add(new Write(slot, token, admitted, done));
        }
        assertEquals(seen, v.fence());
        return seen;
    }

    private static void check(long seed, Vdisk v, Write w) {
        String what = "seed " + seed + ": write " + w.slot() + " token " + w.token();
        if (w.admitted()) {
            w.done().join();
        } else {
            CompletionException e = org.junit.jupiter.api.Assertions.assertThrows(CompletionException.class, w.done()::join, what);
            assertInstanceOf(FencedException.class, e.getCause(), what);
        }
        ByteBuffer got = v.read((long) w.slot() * BLOCKS_PER_GRAIN, BLOCKS_PER_GRAIN).join();
        byte[] bytes = new byte[got.remaining()];
        got.get(bytes);
        assertArrayEquals(w.admitted() ? filled(w.slot()).array() : new byte[GRAIN], bytes, what);
    }

    private static void joinAll(List<Write> writes) {
        for (Write w : writes) {
            w.done().handle((ok, err) -> null).join();
        }
    }

    private static ByteBuffer filled(int slot) {
        byte[] b = new byte[GRAIN];
        Arrays.fill(b, (byte) (slot % 250 + 1));
        return ByteBuffer.wrap(b);
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
