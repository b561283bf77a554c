package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.LbaStatus;

class VdiskLifecycleTest {
    @TempDir
    Path dir;

    @Test
    void closeWaitsForWritesInFlightAndRefusesNewOnes() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("v", 64 << 20);
            Vdisk v = store.open("v");
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                writes.add(v.write(i * 2048L, ByteBuffer.allocate(1 << 20), false));
            }
            v.close();
            for (CompletableFuture<Void> w : writes) {
                assertTrue(w.isDone(), "close returned with a write still in flight");
            }
            CompletionException e = assertThrows(CompletionException.class, () -> v.read(0, 1).join());
            BlockDeviceException cause = assertInstanceOf(BlockDeviceException.class, e.getCause());
            assertEquals(BlockDeviceException.Kind.UNAVAILABLE, cause.kind());
            store.remove("v"); // no handle left open
        }
    }

    /**
     * Regression (model seed 12): flattening a vdisk must not change what its own clones read.
     * {@code mid} unmaps a grain its parent has data in (a tombstone in {@code mid}) and
     * {@code leaf} is cloned from a later snapshot of {@code mid}, so {@code leaf} reads zeros
     * there. After {@code mid} is flattened, removing its older snapshot reclaims the tombstone:
     * nothing lies below it in {@code mid} any more. {@code leaf} must still read zeros, not the
     * data of {@code mid}'s former parent.
     */
    @Test
    void cloneOfFlattenedVdiskStillReadsItsSnapshot() {
        int grainBlocks = VdiskStore.GRAIN_SIZE_DEFAULT_BYTES / 512;
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("base", 16L * VdiskStore.GRAIN_SIZE_DEFAULT_BYTES);
            try (Vdisk base = store.open("base")) {
                byte[] data = new byte[VdiskStore.GRAIN_SIZE_DEFAULT_BYTES];
                Arrays.fill(data, (byte) -101);
                base.write(grainBlocks, ByteBuffer.wrap(data), false).join();
            }
            store.createSnapshot("base", "s0");
            store.clone("base", "s0", "mid");
            try (Vdisk mid = store.open("mid")) {
                mid.unmap(grainBlocks, grainBlocks).join();
            }
            store.createSnapshot("mid", "old");
            store.createSnapshot("mid", "s1");
            store.clone("mid", "s1", "leaf");
            try (Vdisk leaf = store.open("leaf")) {
                assertZeros(leaf.read(grainBlocks, grainBlocks).join(), "leaf before flatten");

                store.flatten("mid", done -> { });
                store.removeSnapshot("mid", "old");
                store.awaitGc("mid", java.time.Duration.ofSeconds(30)); // the reclaimed tombstone is what this is about

                assertZeros(leaf.read(grainBlocks, grainBlocks).join(), "leaf after flatten of mid and removal of mid@old");
                assertEquals(List.of(new LbaStatus(0, 16L * grainBlocks, LbaStatus.Provisioning.DEALLOCATED)),
                        leaf.getLbaStatus(0, 16L * grainBlocks).join());
            }
        }
    }

    private static void assertZeros(ByteBuffer read, String what) {
        while (read.hasRemaining()) {
            int at = read.position();
            byte b = read.get();
            assertEquals(0, b, what + ": byte " + at);
        }
    }

    @Test
    void outOfRangeIoNamesTheBadValue() {
        try (VdiskStore store = VdiskStore.open(dir); Vdisk v = store.open(store.create("v", 1 << 20).name())) {
            CompletionException e = assertThrows(CompletionException.class, () -> v.read(2047, 2).join());
            assertTrue(e.getCause().getMessage().contains("read lba: 2047 + 2 blocks (expected: within 0..2048) vdisk=v"), e.getCause().getMessage());
            CompletionException oddJoin = assertThrows(CompletionException.class,
                    () -> v.write(0, ByteBuffer.allocate(100), false).join());
            IllegalArgumentException odd = assertInstanceOf(IllegalArgumentException.class, oddJoin.getCause());
            assertTrue(odd.getMessage().contains("write length: 100 bytes (expected: a multiple of 512)"), odd.getMessage());
        }
    }
}
