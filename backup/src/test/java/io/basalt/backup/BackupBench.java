package io.basalt.backup;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.VdiskStore;

/**
 * Not a test (asserts nothing, and surefire's default includes skip it): the figures of
 * docs/performance.md for backups, run on demand through the exclusive wrapper:
 * {@code mvn -pl backup -am verify -Dtest=BackupBench -Dsurefire.failIfNoSpecifiedTests=false}.
 * A 1 GiB vdisk, every other MiB random (half full): a raw sequential read of the whole vdisk
 * against a full backup, then 1 % changed in chunk-sized writes and in 4 KiB writes, and a clone.
 */
class BackupBench {
    private static final int MIB = 1 << 20;
    private static final long SIZE = 1L << 30;

    @TempDir
    Path dir;

    @Test
    void figures() {
        Random random = new Random(1);
        try (VdiskStore store = VdiskStore.open(dir.resolve("store"))) {
            StoreAccess access = new StoreAccess(store);
            access.create("web1", SIZE, 512, 4096);
            byte[] mib = new byte[MIB];
            try (BlockDevice d = store.open("web1")) {
                for (long at = 0; at < SIZE; at += 2L * MIB) {
                    random.nextBytes(mib);
                    d.write(at / 512, ByteBuffer.wrap(mib), false).join();
                }
                d.flush().join();
                rawRead(d); // warm-up, not reported
                long t = System.nanoTime();
                long bytes = rawRead(d);
                report("raw sequential read of the vdisk (4 MiB reads)", bytes, System.nanoTime() - t);
            }
            try (Repository repo = Repository.open(dir.resolve("repo"), Repository.CHUNK_BYTES_DEFAULT)) {
                BackupCreate.Result full = BackupCreate.create(repo, access, "web1", Instant.parse("2026-12-07T10:00:00Z"), x -> {}, x -> {});
                report("full backup", full.readBytes(), full.elapsed().toNanos());
                System.out.printf("  full: read %d bytes, stored %d bytes in %d new chunks%n", full.readBytes(), full.newStoredBytes(), full.newChunkCount());
                try (BlockDevice snap = store.open("web1@" + full.manifest().snapshot())) {
                    long t0 = System.nanoTime();
                    ChunkRuns runs = ChunkRuns.ofMapped(snap, Repository.CHUNK_BYTES_DEFAULT);
                    System.out.printf("  (lba status scan: %d runs in %.2f s;", runs.runs().size(), (System.nanoTime() - t0) / 1e9);
                    t0 = System.nanoTime();
                    long[] hashed = {0};
                    ChunkReader.read(snap, runs, Repository.CHUNK_BYTES_DEFAULT, (o, data, n) -> hashed[0] += n);
                    System.out.printf(" chunk reads alone: %.2f s)%n", (System.nanoTime() - t0) / 1e9);
                    long t = System.nanoTime();
                    long bytes = rawRead(snap);
                    report("raw sequential read of the backup's snapshot, after the backup (4 MiB reads)", bytes, System.nanoTime() - t);
                }

                changeOnePercent(store, random, 64 * 1024);
                BackupCreate.Result inc = BackupCreate.create(repo, access, "web1", Instant.parse("2026-12-07T11:00:00Z"), x -> {}, x -> {});
                System.out.printf("1%% changed in 64 KiB writes: incremental read %d bytes (%.2f%% of the vdisk), stored %d bytes (%.2f%%), %.2f s%n",
                        inc.readBytes(), 100.0 * inc.readBytes() / SIZE, inc.newStoredBytes(), 100.0 * inc.newStoredBytes() / SIZE,
                        inc.elapsed().toNanos() / 1e9);

                changeOnePercent(store, random, 4096);
                BackupCreate.Result scattered = BackupCreate.create(repo, access, "web1", Instant.parse("2026-12-07T12:00:00Z"), x -> {}, x -> {});
                System.out.printf("1%% changed in 4 KiB writes: incremental read %d bytes (%.2f%% of the vdisk), stored %d bytes (%.2f%%), %.2f s%n",
                        scattered.readBytes(), 100.0 * scattered.readBytes() / SIZE, scattered.newStoredBytes(),
                        100.0 * scattered.newStoredBytes() / SIZE, scattered.elapsed().toNanos() / 1e9);

                store.clone("web1", scattered.manifest().snapshot(), "web2");
                BackupCreate.Result clone = BackupCreate.create(repo, access, "web2", Instant.parse("2026-12-07T13:00:00Z"), x -> {}, x -> {});
                System.out.printf("clone web2 of web1, full backup: read %d bytes, stored %d bytes in %d new chunks, %.2f s%n",
                        clone.readBytes(), clone.newStoredBytes(), clone.newChunkCount(), clone.elapsed().toNanos() / 1e9);

                long t = System.nanoTime();
                BackupCheck.Report check = BackupCheck.check(repo, repo.manifests(), x -> {});
                report("verify of all backups (" + check.chunkCount() + " chunks)", check.rawBytes(), System.nanoTime() - t);
            }
        }
    }

    /** 1 % of the vdisk in writes of {@code writeBytes} at random aligned offsets. */
    private static void changeOnePercent(VdiskStore store, Random random, int writeBytes) {
        byte[] data = new byte[writeBytes];
        try (BlockDevice d = store.open("web1")) {
            for (long written = 0; written < SIZE / 100; written += writeBytes) {
                random.nextBytes(data);
                long at = (long) random.nextInt((int) (SIZE / writeBytes)) * writeBytes;
                d.write(at / 512, ByteBuffer.wrap(data), false).join();
            }
            d.flush().join();
        }
    }

    private static long rawRead(BlockDevice d) {
        int step = 4 * MIB;
        long sum = 0;
        for (long at = 0; at < d.sizeBytes(); at += step) {
            ByteBuffer b = d.read(at / 512, step / 512).join();
            sum += b.remaining();
        }
        return sum;
    }

    private static void report(String what, long bytes, long nanos) {
        System.out.printf("%s: %d MiB in %.2f s = %.0f MiB/s%n", what, bytes / MIB, nanos / 1e9, bytes / (double) MIB / (nanos / 1e9));
    }
}
