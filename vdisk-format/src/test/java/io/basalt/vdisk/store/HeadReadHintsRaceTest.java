package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;

import org.junit.jupiter.api.Test;

/**
 * Head reads racing writes and snapshots: a read that starts after a write was acknowledged
 * returns that write or a newer one, never the older version a {@link BelowHeadHints} hint
 * points at (the put marks the grain before it lands; see its class comment).
 */
class HeadReadHintsRaceTest {
    static final int GRAINS = 64;
    static final int GRAIN_BYTES = 4096;
    static final int BLOCKS_PER_GRAIN = GRAIN_BYTES / 512;
    static final int WRITES = 6_000;
    static final int WRITES_PER_SNAPSHOT = 500;

    @Test
    void readAfterAcknowledgedWriteNeverSeesTheHintedOlderVersion() throws Exception {
        Path dir = Files.createTempDirectory("basalt-hints-race-");
        ExecutorService readers = Executors.newFixedThreadPool(2);
        try (VdiskStore store = VdiskStore.open(dir, new VdiskStore.Options(8L << 20, 2))) {
            store.create("d", (long) GRAINS * GRAIN_BYTES, 512, GRAIN_BYTES);
            try (Vdisk d = store.open("d")) {
                for (int g = 0; g < GRAINS; g++) {
                    write(d, g, 0);
                }
                AtomicLongArray acked = new AtomicLongArray(GRAINS);
                AtomicBoolean stop = new AtomicBoolean();
                List<Future<Long>> reads = new ArrayList<>();
                for (int r = 0; r < 2; r++) {
                    long seed = r;
                    reads.add(readers.submit(() -> readUntilStopped(d, acked, stop, new SplittableRandom(seed))));
                }
                try {
                    for (long i = 1; i <= WRITES; i++) {
                        int g = (int) (i % GRAINS);
                        write(d, g, i);
                        acked.set(g, i);
                        if (i % WRITES_PER_SNAPSHOT == 0) {
                            store.createSnapshot("d", "s" + i); // a new head epoch: every grain below it, hints learnt again
                        }
                    }
                } finally {
                    stop.set(true);
                }
                for (Future<Long> f : reads) {
                    assertTrue(f.get(60, TimeUnit.SECONDS) > 0, "reads done");
                }
            }
        } finally {
            readers.shutdownNow();
            VdiskStoreModelProperties.deleteTree(dir);
        }
    }

    /** Reads random grains; each must hold the value acknowledged before the read began, or a later one. */
    private static long readUntilStopped(Vdisk d, AtomicLongArray acked, AtomicBoolean stop, SplittableRandom rnd) {
        long count = 0;
        while (!stop.get()) {
            int g = rnd.nextInt(GRAINS);
            long before = acked.get(g);
            long got = d.read((long) g * BLOCKS_PER_GRAIN, BLOCKS_PER_GRAIN).join().getLong(0);
            assertTrue(got >= before, "grain " + g + ": read " + got + " after write " + before + " was acknowledged");
            assertTrue(got == 0 || got % GRAINS == g, "grain " + g + " holds another grain's value " + got);
            count++;
        }
        return count;
    }

    private static void write(Vdisk d, int g, long value) {
        ByteBuffer data = ByteBuffer.allocate(GRAIN_BYTES);
        data.putLong(0, value);
        d.write((long) g * BLOCKS_PER_GRAIN, data, false).join();
    }
}
