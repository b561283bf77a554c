package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.vdisk.BlockDeviceException;

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
