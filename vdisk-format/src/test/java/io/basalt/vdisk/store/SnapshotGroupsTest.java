package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnapshotGroupsTest {
    private static final int BLOCK = 512;

    @TempDir
    Path dir;

    /**
     * A writer puts counter k on vdisk a, and once that is acknowledged, k on b (a write that
     * depends on an earlier one, as a database's log and data disks). A snapshot of both at one
     * instant holds a == b or a == b + 1; snapshots taken one vdisk after the other let b run
     * ahead of a, which this check catches (the sequential variant below shows it does).
     */
    @Test
    void aGroupSnapshotNeverHoldsAWriteWithoutTheOneItDependsOn() throws Exception {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("a", 1 << 20);
            store.create("b", 1 << 20);
            try (Vdisk a = store.open("a"); Vdisk b = store.open("b")) {
                int snaps = 0;
                int bAhead = 0;
                AtomicBoolean stop = new AtomicBoolean();
                AtomicReference<Throwable> failed = new AtomicReference<>();
                Thread writer = Thread.ofPlatform().start(() -> {
                    try {
                        for (long k = 1; !stop.get(); k++) {
                            a.write(0, counter(k), false).join();
                            b.write(0, counter(k), false).join();
                        }
                    } catch (Throwable t) {
                        failed.set(t);
                    }
                });
                try {
                    for (int i = 0; i < 200; i++) {
                        String snap = "g" + i;
                        store.createSnapshots(List.of("a", "b"), snap);
                        long ka = read(store, "a@" + snap);
                        long kb = read(store, "b@" + snap);
                        assertTrue(ka == kb || ka == kb + 1, snap + ": a holds " + ka + ", b holds " + kb);
                        snaps++;
                        String one = "s" + i; // the same, one vdisk after the other
                        store.createSnapshot("a", one);
                        Thread.onSpinWait();
                        store.createSnapshot("b", one);
                        if (read(store, "b@" + one) > read(store, "a@" + one)) {
                            bAhead++;
                        }
                    }
                } finally {
                    stop.set(true);
                    writer.join();
                }
                assertEquals(null, failed.get());
                assertEquals(200, snaps);
                assertTrue(bAhead > 0, "separate snapshots never let b run ahead of a in 200 tries: the check above would not see a torn group");
            }
        }
    }

    @Test
    void aGroupSnapshotRefusedForOneMemberTakesNothing() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("a", 1 << 20);
            store.create("b", 1 << 20);
            store.createSnapshot("b", "taken");
            StoreException e = assertThrows(StoreException.class, () -> store.createSnapshots(List.of("a", "b"), "taken"));
            assertTrue(e.getMessage().contains("b@taken already exists"), e.getMessage());
            assertEquals(List.of(), store.snapshots("a"));
            assertThrows(StoreException.class, () -> store.createSnapshots(List.of("a", "missing"), "x"));
            assertEquals(List.of(), store.snapshots("a"));
            IllegalArgumentException twice = assertThrows(IllegalArgumentException.class, () -> store.createSnapshots(List.of("a", "a"), "x"));
            assertTrue(twice.getMessage().contains("[a, a]"), twice.getMessage());
        }
    }

    @Test
    void aGroupSnapshotSurvivesAReopenWholeAndTheHeadsGoOn() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("a", 1 << 20);
            store.create("b", 1 << 20);
            write(store, "a", 1);
            write(store, "b", 2);
            store.createSnapshots(List.of("b", "a"), "g");
            write(store, "a", 3);
        }
        try (VdiskStore store = VdiskStore.open(dir)) {
            assertEquals(1, read(store, "a@g"));
            assertEquals(2, read(store, "b@g"));
            assertEquals(3, read(store, "a"));
            assertEquals(List.of("g"), store.snapshots("b").stream().map(SnapshotInfo::name).toList());
        }
    }

    private static void write(VdiskStore store, String vdisk, long k) {
        try (Vdisk v = store.open(vdisk)) {
            v.write(0, counter(k), false).join();
        }
    }

    private static ByteBuffer counter(long k) {
        ByteBuffer b = ByteBuffer.allocate(BLOCK);
        b.putLong(0, k);
        return b;
    }

    private static long read(VdiskStore store, String spec) {
        try (Vdisk v = store.open(spec)) {
            return v.read(0, 1).join().getLong(0);
        }
    }
}
