package io.basalt.backup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.VdiskStore;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Diff streams round-trip: for random writes and unmaps before S1 and between S1 and S2,
 * export-diff from the start to S1 and from S1 to S2, imported in turn into a vdisk holding other
 * data, make that vdisk equal to the source at S1 and then at S2; and a stream cut anywhere is
 * refused before anything is written.
 */
class DiffStreamProperties {
    private static final int BLOCK = 512;
    private static final long SIZE = 1 << 20;
    private static Path dir;
    private static VdiskStore store;
    private static StoreAccess access;
    private static final AtomicInteger TRY = new AtomicInteger();

    /** One change: blocks [lba, lba + count) written with seeded bytes, or unmapped. */
    record Op(long lba, int count, boolean zero, long seed) {}

    @BeforeContainer
    static void open() throws IOException {
        dir = Files.createTempDirectory("diffstream");
        store = VdiskStore.open(dir.resolve("store"));
        access = new StoreAccess(store);
    }

    @AfterContainer
    static void close() throws IOException {
        store.close();
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Op> op = Combinators.combine(Arbitraries.longs().between(0, SIZE / BLOCK - 1), Arbitraries.integers().between(1, 300),
                Arbitraries.integers().between(0, 3).map(k -> k == 0), Arbitraries.longs())
                .as((lba, count, zero, seed) -> new Op(lba, (int) Math.min(count, SIZE / BLOCK - lba), zero, seed));
        return op.list().ofMaxSize(12);
    }

    private static void apply(String vdisk, List<Op> ops) {
        try (BlockDevice d = store.open(vdisk)) {
            for (Op op : ops) {
                if (op.zero()) {
                    d.writeZeroes(op.lba(), op.count(), true).join();
                } else {
                    byte[] data = new byte[op.count() * BLOCK];
                    new Random(op.seed()).nextBytes(data);
                    d.write(op.lba(), java.nio.ByteBuffer.wrap(data), false).join();
                }
            }
        }
    }

    @Property(tries = 40)
    void exportThenImportIsIdentityAtBothSnapshots(@ForAll("ops") List<Op> before, @ForAll("ops") List<Op> between,
                                                   @ForAll("ops") List<Op> targetJunk) throws IOException {
        int n = TRY.incrementAndGet();
        String src = "src" + n;
        String dst = "dst" + n;
        access.create(src, SIZE, BLOCK, 4096);
        apply(src, before);
        access.createSnapshot(src, "s1");
        apply(src, between);
        access.createSnapshot(src, "s2");
        access.create(dst, SIZE, BLOCK, 4096);
        apply(dst, targetJunk);

        Path full = dir.resolve("full" + n);
        Path inc = dir.resolve("inc" + n);
        DiffStreams.export(access, src, Optional.empty(), "s1", full, x -> {});
        DiffStreams.Result exported = DiffStreams.export(access, src, Optional.of("s1"), "s2", inc, x -> {});
        assertTrue(exported.dataBytes() <= between.stream().mapToLong(o -> (o.count() * (long) BLOCK + 8191) / 4096 * 4096 + 4096).sum(),
                "an incremental stream carries at most the grains changed between (an unmap of part of a grain is data): " + exported);
        DiffStreams.importInto(access, full, dst, x -> {});
        assertArrayEquals(access.readAll(src + "@s1"), access.readAll(dst));
        DiffStreams.importInto(access, inc, dst, x -> {});
        assertArrayEquals(access.readAll(src + "@s2"), access.readAll(dst));
        assertArrayEquals(access.readAll(src + "@s1"), access.readAll(dst + "@s1"));
        assertEquals(List.of("s1", "s2"), access.snapshots(dst));
    }

    @Property(tries = 10)
    void aStreamCutAnywhereIsRefusedAndChangesNothing(@ForAll("ops") List<Op> ops) throws IOException {
        int n = TRY.incrementAndGet();
        String src = "cut" + n;
        access.create(src, SIZE, BLOCK, 4096);
        access.createSnapshot(src, "s1");
        apply(src, ops);
        access.createSnapshot(src, "s2");
        Path stream = dir.resolve("cut" + n);
        DiffStreams.export(access, src, Optional.of("s1"), "s2", stream, x -> {});
        byte[] whole = Files.readAllBytes(stream);
        String dst = "cutdst" + n;
        access.create(dst, SIZE, BLOCK, 4096);
        access.createSnapshot(dst, "s1");
        Random r = new Random(n);
        for (int i = 0; i < 20; i++) {
            int cut = r.nextInt(whole.length);
            Files.write(stream, java.util.Arrays.copyOf(whole, cut));
            assertThrows(BackupException.class, () -> DiffStreams.importInto(access, stream, dst, x -> {}), "cut at " + cut);
            byte[] flipped = whole.clone();
            flipped[cut] ^= 1;
            Files.write(stream, flipped);
            assertThrows(RuntimeException.class, () -> DiffStreams.importInto(access, stream, dst, x -> {}), "flipped at " + cut);
        }
        assertEquals(List.of("s1"), access.snapshots(dst));
        assertArrayEquals(new byte[(int) SIZE], access.readAll(dst), "nothing was written");
    }
}
