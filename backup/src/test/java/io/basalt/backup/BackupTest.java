package io.basalt.backup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.VdiskStore;

/** Backups of engine vdisks: full reads only what is allocated, incrementals only what changed, dedup, restore, verify, prune. */
class BackupTest {
    private static final int MIB = 1 << 20;
    private static final int CHUNK = Repository.CHUNK_BYTES_DEFAULT;
    private static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");

    @TempDir
    Path dir;
    private VdiskStore store;
    private StoreAccess access;
    private Repository repo;
    private final Random random = new Random(24);

    @BeforeEach
    void open() {
        store = VdiskStore.open(dir.resolve("store"));
        access = new StoreAccess(store);
        repo = Repository.open(dir.resolve("repo"), CHUNK);
    }

    @AfterEach
    void close() {
        repo.close();
        store.close();
    }

    private byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    private BackupCreate.Result backup(String vdisk, int n) {
        return BackupCreate.create(repo, access, vdisk, T0.plus(Duration.ofHours(n)), x -> {}, x -> {});
    }

    private byte[] restoreToNew(String id, String name) {
        Manifest m = repo.manifest(id);
        access.create(name, m.sizeBytes(), m.blockSizeBytes(), m.grainSizeBytes());
        try (BlockDevice d = store.open(name)) {
            BackupRestore.toEmpty(repo, m, d, x -> {});
        }
        return access.readAll(name);
    }

    @Test
    void firstBackupReadsOnlyAllocatedChunksAndHolesStayHoles() {
        access.create("web1", 64L * MIB, 512, 4096);
        access.write("web1", 3L * MIB, randomBytes(2 * MIB));
        access.write("web1", 40L * MIB, randomBytes(CHUNK)); // one chunk
        BackupCreate.Result r = backup("web1", 0);
        assertEquals(2L * MIB + CHUNK, r.readBytes(), "only the chunks holding mapped blocks are read");
        assertEquals(33, r.manifest().chunks().size());
        assertEquals(33, r.newChunkCount());
        assertEquals(Optional.empty(), r.manifest().parent());
        assertEquals(List.of(r.manifest().snapshot()), access.snapshots("web1"), "the backup's snapshot stays: the next diff base");
        assertArrayEquals(access.readAll("web1"), restoreToNew(r.manifest().id(), "back"));
        assertEquals(2L * MIB + CHUNK, store.usage("back").usedBytes(), "restored thin: holes stay holes");
    }

    @Test
    void incrementalAfterOnePercentChangedReadsAndStoresAboutOnePercent() {
        long size = 64L * MIB;
        access.create("web1", size, 512, 4096);
        for (int i = 0; i < 32; i++) {
            access.write("web1", 2L * i * MIB, randomBytes(MIB)); // half full, every other MiB
        }
        BackupCreate.Result full = backup("web1", 0);
        assertEquals(32L * MIB, full.readBytes());
        for (int i = 0; i < 10; i++) { // 640 KiB: 1 % of the disk, in ten chunk-sized writes
            access.write("web1", (long) random.nextInt((int) (size / CHUNK)) * CHUNK, randomBytes(CHUNK));
        }
        BackupCreate.Result inc = backup("web1", 1);
        assertEquals(Optional.of(full.manifest().id()), inc.manifest().parent());
        assertTrue(inc.readBytes() <= 10L * CHUNK, "read only the changed chunks: " + inc.readBytes());
        assertTrue(inc.newStoredBytes() <= 10L * (CHUNK + 100), "stored only them: " + inc.newStoredBytes());
        assertTrue(inc.newStoredBytes() >= 9L * CHUNK, "random data does not compress: " + inc.newStoredBytes());
        assertEquals(List.of(full.manifest().snapshot()), inc.removedSnapshots());
        assertEquals(List.of(inc.manifest().snapshot()), access.snapshots("web1"));
        assertArrayEquals(access.readAll("web1"), restoreToNew(inc.manifest().id(), "back"));
        assertArrayEquals(access.readAll("web1"), StoreAccess.readAll(new BackupDevice(repo, inc.manifest())));
    }

    @Test
    void aCloneBacksUpWithAlmostNothingNew() {
        access.create("golden", 32L * MIB, 512, 4096);
        access.write("golden", 0, randomBytes(16 * MIB));
        backup("golden", 0);
        access.createSnapshot("golden", "base");
        store.clone("golden", "base", "vm1");
        access.write("vm1", 20L * MIB, randomBytes(CHUNK)); // the clone's own data
        BackupCreate.Result r = backup("vm1", 1);
        assertEquals(16L * MIB + CHUNK, r.readBytes(), "a clone's full backup reads what it reads through its parent too");
        assertEquals(1, r.newChunkCount(), "only the clone's own chunk is new");
        assertTrue(r.newStoredBytes() < CHUNK + 100, "almost nothing new stored: " + r.newStoredBytes());
        assertArrayEquals(access.readAll("vm1"), restoreToNew(r.manifest().id(), "back"));
    }

    @Test
    void everyBackupOfAChainOfTenRestoresBitExact() {
        long size = 8L * MIB;
        access.create("web1", size, 512, 4096);
        List<byte[]> expected = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        for (int n = 0; n < 10; n++) {
            for (int w = 0; w < 5; w++) {
                int length = (1 + random.nextInt(40)) * 4096;
                access.write("web1", (long) random.nextInt((int) ((size - length) / 512)) * 512, randomBytes(length));
            }
            try (BlockDevice d = store.open("web1")) { // and some unmapped
                d.writeZeroes(random.nextInt((int) (size / 512) - 256), 256, true).join();
            }
            expected.add(access.readAll("web1"));
            ids.add(backup("web1", n).manifest().id());
        }
        for (int n = 0; n < 10; n++) {
            assertArrayEquals(expected.get(n), restoreToNew(ids.get(n), "r" + n), "backup " + n);
        }
        try (BlockDevice head = store.open("web1")) {
            BackupRestore.Result r = BackupRestore.into(repo, repo.manifest(ids.get(3)), head, x -> {});
            assertTrue(r.writtenBytes() + r.zeroedBytes() < size / 2, "only what differs is written: " + r);
            assertTrue(r.writtenBytes() > 0, r.toString());
        }
        assertArrayEquals(expected.get(3), access.readAll("web1"));
    }

    @Test
    void aCorruptedChunkIsNamedByVerifyAndRefusedByRestore() throws Exception {
        access.create("web1", 4L * MIB, 512, 4096);
        access.write("web1", 0, randomBytes(MIB));
        Manifest first = backup("web1", 0).manifest();
        access.write("web1", 2L * MIB, randomBytes(CHUNK));
        Manifest second = backup("web1", 1).manifest();
        String victim = first.chunks().get(3).hash();
        Packs.Location at = repo.locate(victim);
        try (FileChannel ch = FileChannel.open(at.pack(), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer one = ByteBuffer.allocate(1);
            long pos = at.offsetBytes() + Chunks.HEADER_BYTES + 100;
            ch.read(one, pos);
            ch.write(ByteBuffer.wrap(new byte[] {(byte) (one.get(0) ^ 0x10)}), pos);
        }
        BackupCheck.Report report = BackupCheck.check(repo, repo.manifests(), x -> {});
        assertFalse(report.ok());
        assertEquals(1, report.damage().size());
        assertEquals(victim, report.damage().getFirst().hash());
        assertEquals(List.of(first.id(), second.id()), report.damage().getFirst().backups());
        assertTrue(report.damage().getFirst().reason().contains("CRC32C"), report.damage().getFirst().reason());

        access.create("back", 4L * MIB, 512, 4096);
        try (BlockDevice d = store.open("back")) {
            BackupException e = assertThrows(BackupException.class, () -> BackupRestore.toEmpty(repo, second, d, x -> {}));
            assertTrue(e.getMessage().contains(victim), e.getMessage());
        }
        assertEquals(0, store.usage("back").usedBytes(), "nothing was written");
    }

    @Test
    void aBackupThatFailsMidwayLeavesTheRepositoryValidAndTheNextOneIncremental() {
        access.create("web1", 16L * MIB, 512, 4096);
        access.write("web1", 0, randomBytes(8 * MIB));
        Manifest first = backup("web1", 0).manifest();
        access.write("web1", 0, randomBytes(8 * MIB));
        AtomicInteger reads = new AtomicInteger();
        VdiskAccess failing = new FailingAccess(access, reads, 1);
        assertThrows(RuntimeException.class, () -> BackupCreate.create(repo, failing, "web1", T0.plusSeconds(60), x -> {}, x -> {}));
        assertTrue(reads.get() > 1, "it failed mid-way, after reading");
        assertEquals(List.of(first.id()), repo.manifests().stream().map(Manifest::id).toList());
        assertEquals(List.of(first.snapshot()), access.snapshots("web1"), "the failed backup's snapshot is gone, the base stays");
        assertTrue(BackupCheck.check(repo, repo.manifests(), x -> {}).ok());
        BackupCreate.Result next = backup("web1", 2);
        assertEquals(Optional.of(first.id()), next.manifest().parent());
        assertArrayEquals(access.readAll("web1"), restoreToNew(next.manifest().id(), "back"));
    }

    @Test
    void pruneKeepsThePolicyAndRemovesChunksNothingUses() {
        access.create("web1", 4L * MIB, 512, 4096);
        List<String> ids = new ArrayList<>();
        for (int n = 0; n < 6; n++) {
            access.write("web1", 0, randomBytes(CHUNK)); // each backup a new version of the same chunk
            ids.add(BackupCreate.create(repo, access, "web1", T0.plus(Duration.ofDays(n)), x -> {}, x -> {}).manifest().id());
        }
        byte[] head = access.readAll("web1");
        int chunksBefore = repo.chunkCount();
        BackupPrune.Result r = BackupPrune.prune(repo, new BackupPrune.Policy(2, 0, 0), ZoneOffset.UTC);
        assertEquals(ids.subList(0, 4), r.removed());
        assertEquals(ids.subList(4, 6), r.kept());
        assertEquals(chunksBefore - 4, repo.chunkCount(), "the four chunks only the removed backups named are gone");
        assertTrue(BackupCheck.check(repo, repo.manifests(), x -> {}).ok());
        assertArrayEquals(head, restoreToNew(ids.get(5), "back"));
        repo.close();
        repo = Repository.open(dir.resolve("repo"));
        assertEquals(chunksBefore - 4, repo.chunkCount(), "and stay gone on disk");
    }

    @Test
    void pruneRewritesAPackHoldingLiveAndDeadChunks() {
        access.create("web1", 4L * MIB, 512, 4096);
        access.write("web1", 0, randomBytes(2 * CHUNK)); // chunks A and B, one pack
        backup("web1", 0);
        access.write("web1", CHUNK, randomBytes(CHUNK)); // B changes
        String last = backup("web1", 1).manifest().id();
        BackupPrune.Result r = BackupPrune.prune(repo, new BackupPrune.Policy(1, 0, 0), ZoneOffset.UTC);
        assertEquals(1, r.packsRewritten(), r.toString());
        assertEquals(2, repo.chunkCount(), "A (copied to a new pack) and the new B");
        assertTrue(r.freedBytes() >= CHUNK, r.toString());
        assertTrue(BackupCheck.check(repo, repo.manifests(), x -> {}).ok());
        assertArrayEquals(access.readAll("web1"), restoreToNew(last, "back"));
    }

    @Test
    void pruneKeepsTheNewestOfEachDayAndWeek() {
        List<Manifest> all = new ArrayList<>();
        for (int n = 0; n < 30; n++) { // two a day for 15 days
            all.add(new Manifest("b" + n, "web1", 1, "s" + n, Optional.empty(), T0.plus(Duration.ofHours(12L * n)), MIB, 512, 4096, CHUNK, 0, 0, List.of()));
        }
        assertEquals(java.util.Set.of("b29", "b27", "b25"), BackupPrune.keep(all, new BackupPrune.Policy(0, 3, 0), ZoneOffset.UTC));
        // 2026-12-01 is a Tuesday: the newest of ISO weeks 51 (b29, Dec 15), 50 (b25, Dec 13)
        assertEquals(java.util.Set.of("b29", "b25"), BackupPrune.keep(all, new BackupPrune.Policy(0, 0, 2), ZoneOffset.UTC));
        assertThrows(IllegalArgumentException.class, () -> new BackupPrune.Policy(0, 0, 0));
    }

    /** Access whose snapshot devices fail the read after {@code readsOk} reads, as a backup dying mid-way. */
    private record FailingAccess(StoreAccess inner, AtomicInteger reads, int readsOk) implements VdiskAccess {
        @Override public Vdisk info(String name) { return inner.info(name); }
        @Override public boolean exists(String name) { return inner.exists(name); }
        @Override public Vdisk create(String name, long s, int b, int g) { return inner.create(name, s, b, g); }
        @Override public void remove(String name) { inner.remove(name); }
        @Override public List<String> snapshots(String vdisk) { return inner.snapshots(vdisk); }
        @Override public void createSnapshot(String vdisk, String snap) { inner.createSnapshot(vdisk, snap); }
        @Override public void removeSnapshot(String vdisk, String snap) { inner.removeSnapshot(vdisk, snap); }
        @Override public List<io.basalt.vdisk.store.Extent> diff(String v, String f, String t) { return inner.diff(v, f, t); }

        @Override
        public BlockDevice open(String spec) {
            BlockDevice d = inner.open(spec);
            return new ForwardingDevice(d) {
                @Override
                public CompletableFuture<ByteBuffer> read(long lba, int blockCount) {
                    if (reads.incrementAndGet() > readsOk) {
                        return CompletableFuture.failedFuture(new IllegalStateException("injected: read failed"));
                    }
                    return d.read(lba, blockCount);
                }
            };
        }
    }
}
