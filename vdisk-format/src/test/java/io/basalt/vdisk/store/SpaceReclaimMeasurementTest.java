package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A measurement, not a check of speed: does disk space come back by itself after random
 * overwrites, an unmap and the removal of the snapshots between them? Skipped unless the
 * property {@code basalt.measure.spaceMiB} gives the vdisk's size, e.g.
 * <pre>mvn -pl vdisk-format -am verify -Dtest=SpaceReclaimMeasurementTest -Dbasalt.measure.spaceMiB=512 -DskipITs</pre>
 * A vdisk of that size is written three times over in 64 KiB writes at random offsets (each
 * pass a random permutation of the disk's 64 KiB slots, fresh random data for every write; a
 * snapshot between passes, as backups and mirrors take them), then a random half of the slots
 * is unmapped, the snapshots are purged and the background collection awaited; then, without
 * any manual flush or compaction, the store directory's bytes (blob files, table files, the
 * rest) are printed every 5 s for up to 60 s against the live data (half the disk). What the
 * head reads is checked at the end, so the run fails if the data is wrong.
 */
class SpaceReclaimMeasurementTest {
    private static final String SIZE_PROPERTY = "basalt.measure.spaceMiB";
    private static final int IO_BYTES = 64 * 1024;
    private static final int INFLIGHT = 16;
    private static final Duration SETTLE_MAX = Duration.ofSeconds(Long.getLong("basalt.measure.settleSeconds", 60));

    @TempDir
    Path dir;

    @Test
    void grains64K() throws Exception {
        measure(64 * 1024);
    }

    @Test
    void grains4K() throws Exception {
        measure(4096);
    }

    private void measure(int grainBytes) throws Exception {
        Long mib = Long.getLong(SIZE_PROPERTY);
        assumeTrue(mib != null, "a measurement: set -D" + SIZE_PROPERTY + "=MiB to run it");
        long diskBytes = mib << 20;
        int slots = Math.toIntExact(diskBytes / IO_BYTES);
        long[] seedOfSlot = new long[slots];
        String tag = String.format(Locale.ROOT, "[%d MiB, %d KiB grains]", mib, grainBytes / 1024);
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("d", diskBytes, 512, grainBytes);
            long t0 = System.nanoTime();
            try (Vdisk disk = store.open("d")) {
                for (int pass = 0; pass < 3; pass++) {
                    if (pass > 0) {
                        store.createSnapshot("d", "s" + pass);
                    }
                    int[] order = permutation(slots, 100 + pass);
                    Semaphore inflight = new Semaphore(INFLIGHT);
                    List<CompletableFuture<Void>> writes = new ArrayList<>();
                    for (int slot : order) {
                        long seed = (long) pass * slots + slot + 1;
                        seedOfSlot[slot] = seed;
                        inflight.acquire();
                        CompletableFuture<Void> w = disk.write((long) slot * IO_BYTES / 512, ByteBuffer.wrap(data(seed)), false);
                        w.whenComplete((ok, err) -> inflight.release());
                        writes.add(w);
                    }
                    CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).join();
                    report(tag, "pass " + (pass + 1) + " written", t0, diskBytes);
                }
                int[] order = permutation(slots, 7);
                for (int i = 0; i < slots / 2; i++) {
                    disk.unmap((long) order[i] * IO_BYTES / 512, IO_BYTES / 512).join();
                    seedOfSlot[order[i]] = 0;
                }
                report(tag, "half unmapped", t0, diskBytes);
                store.purgeSnapshots("d");
                store.awaitGc("d", Duration.ofMinutes(30));
                long settled = System.nanoTime();
                report(tag, "snapshots purged, collection done", t0, diskBytes);
                long deadline = settled + SETTLE_MAX.toNanos();
                while (System.nanoTime() < deadline) {
                    Thread.sleep(5_000);
                    report(tag, String.format(Locale.ROOT, "%.0f s after the collection", (System.nanoTime() - settled) / 1e9), t0, diskBytes);
                }
                byte[] zeros = new byte[IO_BYTES];
                byte[] read = new byte[IO_BYTES];
                for (int slot = 0; slot < slots; slot++) {
                    disk.read((long) slot * IO_BYTES / 512, IO_BYTES / 512).join().get(read);
                    assertArrayEquals(seedOfSlot[slot] == 0 ? zeros : data(seedOfSlot[slot]), read, "slot " + slot);
                }
            }
        }
    }

    private void report(String tag, String when, long t0, long diskBytes) throws IOException {
        long blob = 0;
        long sst = 0;
        long other = 0;
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                long len = Files.isRegularFile(p) ? Files.size(p) : 0;
                String name = p.getFileName().toString();
                if (name.endsWith(".blob")) {
                    blob += len;
                } else if (name.endsWith(".sst")) {
                    sst += len;
                } else {
                    other += len;
                }
            }
        }
        long live = diskBytes / 2;
        System.out.printf(Locale.ROOT, "%s t=%6.1f s %-38s store %7.1f MiB (blob %7.1f, sst %7.1f, other %6.1f) = %.2fx the live %d MiB%n",
                tag, (System.nanoTime() - t0) / 1e9, when, (blob + sst + other) / 1048576.0, blob / 1048576.0, sst / 1048576.0,
                other / 1048576.0, (double) (blob + sst + other) / live, live >> 20);
        System.out.flush();
    }

    private static int[] permutation(int n, long seed) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }

    /** Random, never all zeros, incompressible: 64 KiB from {@code seed}. */
    private static byte[] data(long seed) {
        byte[] b = new byte[IO_BYTES];
        new SplittableRandom(seed).nextBytes(b);
        b[0] = 1;
        return b;
    }
}
