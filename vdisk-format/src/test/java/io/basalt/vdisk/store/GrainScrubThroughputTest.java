package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.vdisk.store.GrainScrub.GrainKey;

/**
 * A measurement, not a check (run with {@code -Dbasalt.measure=true}): how fast one thread scans
 * and verifies a store's grains with no rate limit, the ceiling of a node's scrub rate
 * (docs/decisions/scrub-and-repair.md). Prints MiB/s; asserts only that every grain was checked.
 */
@EnabledIfSystemProperty(named = "basalt.measure", matches = "true")
class GrainScrubThroughputTest {
    private static final int GRAIN = 4096;
    private static final long SIZE_BYTES = Long.getLong("basalt.measure.bytes", 1L << 30);
    private static final int WRITE_BYTES = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void measureUnlimitedScanRate() throws Exception {
        try (VdiskStore store = VdiskStore.open(dir)) {
            VdiskInfo info = store.create("m", SIZE_BYTES, 512, GRAIN);
            byte[] chunk = new byte[WRITE_BYTES];
            Random r = new Random(1);
            try (Vdisk v = store.open("m")) {
                for (long off = 0; off < SIZE_BYTES; off += WRITE_BYTES) {
                    r.nextBytes(chunk);
                    v.write(off / 512, ByteBuffer.wrap(chunk), false).join();
                }
            }
            store.flush();
            for (int round = 1; round <= 2; round++) {
                long start = System.nanoTime();
                long grains = 0;
                long bytes = 0;
                Optional<GrainKey> at = Optional.of(GrainKey.first(info.id()));
                while (at.isPresent()) {
                    GrainScrub.Step s = GrainScrub.scan(store, at.get(), 1 << 20, -1);
                    grains += s.grainsChecked();
                    bytes += s.bytesRead();
                    at = s.next();
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                System.out.printf("scrub scan round %d: %d grains, %d MiB of frames in %.2f s: %.0f MiB/s%n", round, grains, bytes >> 20,
                        seconds, (bytes / 1048576.0) / seconds);
                assertEquals(SIZE_BYTES / GRAIN, grains);
            }
        }
    }
}
