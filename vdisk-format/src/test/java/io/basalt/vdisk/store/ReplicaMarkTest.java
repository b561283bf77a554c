package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.vdisk.BlockDeviceException;

class ReplicaMarkTest {
    private static final byte[] RECORD = {1, 2, 3};

    @TempDir
    Path dir;

    private static ByteBuffer filled(int bytes, int value) {
        byte[] b = new byte[bytes];
        java.util.Arrays.fill(b, (byte) value);
        return ByteBuffer.wrap(b);
    }

    private static void assertReadOnly(CompletableFuture<?> f) {
        CompletionException e = assertThrows(CompletionException.class, f::join);
        BlockDeviceException cause = assertInstanceOfBde(e.getCause());
        assertEquals(BlockDeviceException.Kind.READ_ONLY, cause.kind());
        assertTrue(cause.getMessage().contains("read-only replica"), cause.getMessage());
    }

    private static BlockDeviceException assertInstanceOfBde(Throwable t) {
        assertTrue(t instanceof BlockDeviceException, String.valueOf(t));
        return (BlockDeviceException) t;
    }

    @Test
    void aReplicaRefusesEveryMutationThroughOrdinaryHandlesAlsoOnesOpenedBeforeTheMark() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("r1", 1 << 20);
            try (Vdisk before = store.open("r1")) {
                before.write(0, filled(4096, 5), false).join();
                store.markReplica("r1", RECORD);
                try (Vdisk after = store.open("r1")) {
                    for (Vdisk v : new Vdisk[] {before, after}) {
                        assertTrue(v.readOnly());
                        assertReadOnly(v.write(0, filled(512, 1), false));
                        assertReadOnly(v.unmap(0, 8));
                        assertReadOnly(v.writeZeroes(0, 8, false));
                        assertReadOnly(v.compareAndWrite(0, filled(512, 5), filled(512, 6)));
                        assertReadOnly(v.resize(2 << 20));
                        assertReadOnly(v.withToken(0).write(0, filled(512, 1), false));
                        assertEquals(BlockDeviceException.Kind.READ_ONLY, assertThrows(BlockDeviceException.class, () -> v.raiseFence(5)).kind());
                    }
                    assertEquals(5, after.read(0, 1).join().get(0)); // reads still work
                }
            }
        }
    }

    @Test
    void aReplicaRefusesNamespaceChangesNamingTheVdisk() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("r1", 1 << 20);
            store.markReplica("r1", RECORD);
            try (ReplicaWriter w = store.openReplicaWriter("r1")) {
                w.commitSnapshot("m1", RECORD);
            }
            for (Runnable op : new Runnable[] {
                    () -> store.createSnapshot("r1", "mine"),
                    () -> store.createSnapshot("r1", "mine", 7),
                    () -> store.removeSnapshot("r1", "m1"),
                    () -> store.purgeSnapshots("r1"),
                    () -> store.rollback("r1", "m1"),
                    () -> store.resize("r1", 2 << 20)}) {
                StoreException e = assertThrows(StoreException.class, op::run);
                assertTrue(e.getMessage().contains("vdisk r1") && e.getMessage().contains("read-only replica"), e.getMessage());
            }
            assertEquals(1, store.snapshots("r1").size());
            assertEquals(1 << 20, store.info("r1").sizeBytes());
        }
    }

    @Test
    void theReplicaWriterWritesRollsBackResizesAndCommitsASnapshotWithItsRecord() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("r1", 1 << 20);
            store.markReplica("r1", RECORD);
            try (ReplicaWriter w = store.openReplicaWriter("r1")) {
                assertFalse(w.head().readOnly());
                w.head().write(0, filled(4096, 7), false).join();
                SnapshotInfo s = w.commitSnapshot("m1", new byte[] {9});
                assertEquals("m1", s.name());
                assertArrayEquals(new byte[] {9}, store.replicaRecord("r1").orElseThrow());
                w.head().write(0, filled(4096, 8), false).join(); // an apply cut short
                w.rollback("m1");
                assertEquals(7, w.head().read(0, 1).join().get(0));
                w.resize(2 << 20);
                assertEquals(2 << 20, store.info("r1").sizeBytes());
                w.commitSnapshot("m2", new byte[] {10});
                w.removeSnapshot("m1");
                assertEquals(java.util.List.of("m2"), store.snapshots("r1").stream().map(SnapshotInfo::name).toList());
            }
        }
    }

    @Test
    void theMarkSurvivesAReopenAndEndsWithUnmarkOrRemoval() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("r1", 1 << 20);
            store.markReplica("r1", RECORD);
        }
        try (VdiskStore store = VdiskStore.open(dir)) {
            assertArrayEquals(RECORD, store.replicaRecord("r1").orElseThrow());
            try (Vdisk v = store.open("r1")) {
                assertReadOnly(v.write(0, filled(512, 1), false));
                store.unmarkReplica("r1");
                assertTrue(store.replicaRecord("r1").isEmpty());
                v.write(0, filled(512, 1), false).join(); // promoted: writable again, same handle
            }
            store.markReplica("r1", RECORD);
            store.remove("r1");
            store.create("r1", 1 << 20);
            assertTrue(store.replicaRecord("r1").isEmpty(), "a new vdisk of the same name is no replica");
        }
    }

    @Test
    void aReplicaCreatedAsOneIsReadOnlyFromItsFirstWrite() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.createReplica("r1", 1 << 20, 512, 4096, RECORD);
            assertArrayEquals(RECORD, store.replicaRecord("r1").orElseThrow());
            try (Vdisk v = store.open("r1")) {
                assertReadOnly(v.write(0, filled(512, 1), false));
            }
        }
    }

    @Test
    void aReplicaWriterIsRefusedForAnOrdinaryVdisk() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("v1", 1 << 20);
            StoreException e = assertThrows(StoreException.class, () -> store.openReplicaWriter("v1"));
            assertTrue(e.getMessage().contains("v1 is not a replica"), e.getMessage());
        }
    }
}
