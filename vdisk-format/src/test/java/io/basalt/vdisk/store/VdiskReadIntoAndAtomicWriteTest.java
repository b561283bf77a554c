package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Vdisk#read(long, int, ByteBuffer)} (decode into a caller's buffer) and {@link Vdisk#writeAtomic}. */
class VdiskReadIntoAndAtomicWriteTest {
    private static final long SEED = 0x5eed_2026L;
    private static final int BLOCK = 512;
    private static final int GRAIN_BLOCKS = 8;

    @TempDir
    Path dir;

    @Test
    void readIntoDirectBufferMatchesReadForEveryShapeOfRange() {
        Random random = new Random(SEED);
        try (VdiskStore store = VdiskStore.open(dir); Vdisk v = store.open(store.create("v", 8 << 20).name())) {
            // Random and compressible data, a hole, a deallocated stretch, partial grains.
            v.write(3, randomBlocks(random, 45), false).join();
            v.write(100, ByteBuffer.allocate(20 * BLOCK).put(0, new byte[] {1, 2, 3}), false).join();
            v.write(200, randomBlocks(random, 300), false).join();
            v.unmap(240, 64).join();
            store.createSnapshot("v", "s1");
            store.clone("v", "s1", "c");
            try (Vdisk c = store.open("c")) {
                c.write(210, randomBlocks(random, 5), false).join();
                int[][] ranges = {{0, 1}, {3, 1}, {5, 6}, {0, 8}, {1, 16}, {7, 50}, {90, 40}, {0, 600}, {199, 301}, {2000, 64}};
                for (Vdisk d : List.of(v, c)) {
                    for (int[] r : ranges) {
                        byte[] expected = array(d.read(r[0], r[1]).join());
                        ByteBuffer dst = ByteBuffer.allocateDirect(r[1] * BLOCK + 10);
                        for (int i = 0; i < dst.capacity(); i++) {
                            dst.put(i, (byte) 0x5a);
                        }
                        dst.position(3);
                        d.read(r[0], r[1], dst).join();
                        assertEquals(3, dst.position(), "position moved");
                        byte[] got = new byte[r[1] * BLOCK];
                        dst.get(3, got);
                        assertArrayEquals(expected, got, d.name() + " lba " + r[0] + " + " + r[1]);
                        assertEquals(0x5a, dst.get(2), "byte before the range written");
                        assertEquals(0x5a, dst.get(3 + got.length), "byte after the range written");
                    }
                }
            }
        }
    }

    @Test
    void readIntoTooSmallBufferFailsAndWritesNothing() {
        try (VdiskStore store = VdiskStore.open(dir); Vdisk v = store.open(store.create("v", 1 << 20).name())) {
            ByteBuffer dst = ByteBuffer.allocateDirect(1000);
            CompletionException e = assertThrows(CompletionException.class, () -> v.read(0, 2, dst).join());
            IllegalArgumentException bad = assertInstanceOf(IllegalArgumentException.class, e.getCause());
            assertTrue(bad.getMessage().contains("2 blocks = 1024 bytes (expected: >= 0, <= 1000 remaining in dst)"), bad.getMessage());
        }
    }

    @Test
    void writeAtomicTakesOnlyWholeAlignedGrainsUpToTheMaximum() {
        try (VdiskStore store = VdiskStore.open(dir); Vdisk v = store.open(store.create("v", 8 << 20).name())) {
            assertEquals(4096, v.atomicWriteUnitBytes());
            assertEquals(1 << 20, v.atomicWriteBytesMax());
            v.writeAtomic(8, ByteBuffer.allocate(4096).put(0, (byte) 7), true).join();
            assertEquals(7, v.read(8, 1).join().get(0));
            for (Runnable bad : List.<Runnable>of(
                    () -> v.writeAtomic(1, ByteBuffer.allocate(4096), false).join(),
                    () -> v.writeAtomic(0, ByteBuffer.allocate(512), false).join(),
                    () -> v.writeAtomic(0, ByteBuffer.allocate((1 << 20) + 4096), false).join())) {
                CompletionException e = assertThrows(CompletionException.class, bad::run);
                assertInstanceOf(IllegalArgumentException.class, e.getCause());
            }
        }
    }

    /**
     * A writer alternates whole-range atomic writes of all-A and all-B over ranges read by point
     * lookups (3 grains) and by one scan (16 grains); readers must never see a mix. Bounded by
     * iteration count, not time.
     */
    @Test
    void concurrentReadsNeverSeeHalfOfAnAtomicWrite() throws Exception {
        try (VdiskStore store = VdiskStore.open(dir); Vdisk v = store.open(store.create("v", 8 << 20).name())) {
            for (int grains : new int[] {3, 16}) {
                long lba = 64L * GRAIN_BLOCKS;
                int bytes = grains * GRAIN_BLOCKS * BLOCK;
                v.writeAtomic(lba, filled(bytes, (byte) 'A'), false).join();
                AtomicBoolean stop = new AtomicBoolean();
                CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                    for (int i = 0; i < 400; i++) {
                        v.writeAtomic(lba, filled(bytes, (byte) (i % 2 == 0 ? 'B' : 'A')), false).join();
                    }
                    stop.set(true);
                });
                List<CompletableFuture<Void>> readers = new ArrayList<>();
                for (int r = 0; r < 2; r++) {
                    boolean direct = r == 1;
                    readers.add(CompletableFuture.runAsync(() -> {
                        ByteBuffer dst = ByteBuffer.allocateDirect(bytes);
                        while (!stop.get()) {
                            byte[] got;
                            if (direct) {
                                v.read(lba, bytes / BLOCK, dst).join();
                                got = new byte[bytes];
                                dst.get(0, got);
                            } else {
                                got = array(v.read(lba, bytes / BLOCK).join());
                            }
                            for (int i = 1; i < got.length; i++) {
                                if (got[i] != got[0]) {
                                    throw new AssertionError(grains + " grains: torn read at byte " + i + ": " + (char) got[0] + " then " + (char) got[i]);
                                }
                            }
                        }
                    }));
                }
                writer.get();
                for (CompletableFuture<Void> r : readers) {
                    r.get();
                }
            }
        }
    }

    private static ByteBuffer filled(int bytes, byte b) {
        byte[] a = new byte[bytes];
        java.util.Arrays.fill(a, b);
        return ByteBuffer.wrap(a);
    }

    private static ByteBuffer randomBlocks(Random random, int blocks) {
        byte[] a = new byte[blocks * BLOCK];
        random.nextBytes(a);
        return ByteBuffer.wrap(a);
    }

    private static byte[] array(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return a;
    }
}
