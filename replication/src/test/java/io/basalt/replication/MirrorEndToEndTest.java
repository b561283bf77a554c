package io.basalt.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.vdisk.store.Vdisk;

/**
 * Two sites in one process: a vdisk on A filled with random data, mirrored to B by a full sync
 * and then incremental rounds with random writes, unmaps and a resize in between, each stream
 * going through a byte array. After every round B's snapshot equals A's bit for bit, an
 * incremental round ships about the grains that changed, and old mirror snapshots are pruned on
 * both sides down to the last common one.
 */
class MirrorEndToEndTest {
    private static final String VDISK = "vm1";
    /** 64 MiB; {@code -Dbasalt.mirror.sizeMiB=256} for a larger figure. */
    private static final long SIZE_BYTES = Long.getLong("basalt.mirror.sizeMiB", 64) << 20;
    private static final int ROUNDS = 5;

    @TempDir
    Path dir;

    @Test
    void incrementalRoundsKeepTheReplicaEqualAndShipAboutTheChangedGrains() {
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        try (Sites sites = new Sites(dir)) {
            sites.a.create(VDISK, SIZE_BYTES);
            fillHalf(sites, random);

            MirrorReceiver.Result full = round(sites, null, 1);
            System.out.printf("mirror seed %d: full sync of a %d MiB vdisk: %d data bytes, %d stream bytes%n",
                    seed, SIZE_BYTES >> 20, full.end().dataBytes(), full.streamBytes());

            long grain = sites.a.info(VDISK).grainSizeBytes();
            for (long n = 2; n <= ROUNDS + 1; n++) {
                int writes = (int) (SIZE_BYTES / 100 / grain); // 1 % of the vdisk, in random grains
                Sites.writeRandomGrains(sites.a, VDISK, random, writes);
                if (n == 4) {
                    sites.a.resize(VDISK, SIZE_BYTES + (4 << 20)); // a grown vdisk: the replica grows with it
                }
                long changedBytes = sites.a.diff(VDISK, MirrorSnapshots.name(n - 1), null).stream()
                        .mapToLong(e -> e.lengthBytes()).sum();
                MirrorReceiver.Result r = round(sites, MirrorSnapshots.name(n - 1), n);
                System.out.printf("mirror round %d: %d grains written (1 %% of %d MiB), %d bytes changed, %d stream bytes shipped = %.2f %% of the vdisk%n",
                        n, writes, SIZE_BYTES >> 20, changedBytes, r.streamBytes(), 100.0 * r.streamBytes() / SIZE_BYTES);
                assertEquals(changedBytes, r.end().extentBytes(), "the stream carries exactly the changed extents");
                // Data bytes, a little framing, no more: random data does not compress.
                assertTrue(r.streamBytes() <= changedBytes + changedBytes / 50 + 4096, "shipped " + r.streamBytes() + " for " + changedBytes + " changed");
                assertTrue(r.streamBytes() < SIZE_BYTES / 50, "an incremental round ships far less than the vdisk: " + r.streamBytes());
            }
            assertEquals(SIZE_BYTES + (4 << 20), sites.b.info(VDISK).sizeBytes());
        }
    }

    /** Takes mirror snapshot {@code n} on A, ships it to B, checks B equals A there, and prunes both sides. */
    private static MirrorReceiver.Result round(Sites sites, String from, long n) {
        String to = MirrorSnapshots.name(n);
        sites.a.createSnapshot(VDISK, to);
        // The head keeps taking writes while the stream is read from the snapshot.
        CompletableFuture<Long> writer = CompletableFuture.supplyAsync(() -> Sites.writeRandomGrains(sites.a, VDISK, new SplittableRandom(n), 50));
        long sendStarted = System.nanoTime();
        byte[] stream = sites.stream(VDISK, from, to, n);
        long sendNanos = System.nanoTime() - sendStarted;
        writer.join();
        long applyStarted = System.nanoTime();
        MirrorReceiver.Result r = sites.apply(stream, VDISK);
        long applyNanos = System.nanoTime() - applyStarted;
        System.out.printf("mirror round %d: send %.1f ms (%.0f MiB/s), apply %.1f ms (%.0f MiB/s) of %d stream bytes%n", n,
                sendNanos / 1e6, stream.length / (sendNanos / 1e9) / (1 << 20), applyNanos / 1e6, stream.length / (applyNanos / 1e9) / (1 << 20), stream.length);
        assertEquals(to, r.snapshot().name());
        sites.assertSameBytes(VDISK + "@" + to, VDISK + "@" + to);
        sites.assertSameBytes(VDISK + "@" + to, VDISK); // the replica's head reads as its newest snapshot
        List<String> prunedA = MirrorSnapshots.prunePrimary(sites.a, VDISK, to);
        List<String> prunedB = MirrorSnapshots.pruneReplica(sites.b, VDISK);
        assertEquals(prunedA, prunedB);
        assertEquals(n == 1 ? List.of() : List.of(MirrorSnapshots.name(n - 1)), prunedA);
        assertEquals(List.of(to), Sites.snapshotNames(sites.a, VDISK));
        assertEquals(List.of(to), Sites.snapshotNames(sites.b, VDISK));
        return r;
    }

    /** Random data over half of the vdisk, in 1 MiB runs at random places. */
    private static void fillHalf(Sites sites, SplittableRandom random) {
        try (Vdisk v = sites.a.open(VDISK)) {
            long runs = SIZE_BYTES >> 20;
            int blocks = (1 << 20) / v.logicalBlockSizeBytes();
            for (long run = 0; run < runs; run++) {
                if (random.nextBoolean()) {
                    byte[] data = new byte[1 << 20];
                    random.nextBytes(data);
                    v.write(run * blocks, ByteBuffer.wrap(data), false).join();
                }
            }
        }
    }
}
