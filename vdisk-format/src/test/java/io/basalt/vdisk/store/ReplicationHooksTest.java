package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import io.basalt.vdisk.CompareResult;
import org.junit.jupiter.api.io.TempDir;

class ReplicationHooksTest {
    @TempDir
    Path dir;

    @Test
    void checkpointIsAReplicaWithItsAppliedIndex() {
        byte[] data = new byte[4096];
        java.util.Arrays.fill(data, (byte) 7);
        Path copy = dir.resolve("copy");
        try (VdiskStore store = VdiskStore.open(dir.resolve("live"))) {
            assertEquals(-1, store.appliedIndex("pg-1"));
            store.create("v1", 1 << 20);
            try (Vdisk v = store.open("v1")) {
                v.write(8, ByteBuffer.wrap(data), false).join();
            }
            store.recordAppliedIndex("pg-1", 42);
            store.createSnapshot("v1", "s1");
            store.checkpoint(copy);
            try (Vdisk v = store.open("v1")) {
                v.write(8, ByteBuffer.wrap(new byte[4096]), false).join(); // after the checkpoint
            }
        }
        try (VdiskStore replica = VdiskStore.open(copy); Vdisk v = replica.open("v1")) {
            assertEquals(42, replica.appliedIndex("pg-1"));
            byte[] got = new byte[4096];
            v.read(8, 8).join().get(got);
            assertArrayEquals(data, got);
            assertEquals(1, replica.snapshots("v1").size());
        }
    }

    private static ByteBuffer filled(int bytes, int value) {
        byte[] b = new byte[bytes];
        java.util.Arrays.fill(b, (byte) value);
        return ByteBuffer.wrap(b);
    }

    private static byte[] read(Vdisk v, long lba, int blocks) {
        ByteBuffer got = v.read(lba, blocks).join();
        byte[] b = new byte[got.remaining()];
        got.get(b);
        return b;
    }

    @Test
    void anEntryBatchCommitsItsOpsAndItsIndexTogetherAndOpsSeeEarlierOnes() {
        try (VdiskStore store = VdiskStore.open(dir.resolve("s"))) {
            store.create("v1", 1 << 20); // 512-byte blocks, 4 KiB grains
            try (Vdisk v = store.open("v1")) {
                try (EntryBatch b = store.entryBatch("pg-0")) {
                    b.write(v, 0, filled(4096, 1));
                    b.write(v, 16, filled(4096, 2));
                    // not visible before the commit: nothing was written yet
                    assertArrayEquals(new byte[4096], read(v, 0, 8));
                    assertEquals(-1, store.appliedIndex("pg-0"));
                    // overlaps the first write (a partial grain): must see it, so the batch commits first
                    b.write(v, 1, filled(512, 3));
                    // compare against data written earlier in the same entry
                    assertEquals(CompareResult.MATCHED, b.compareAndWrite(v, 16, filled(512, 2), filled(512, 4)));
                    CompareResult miss = b.compareAndWrite(v, 17, filled(512, 9), filled(512, 5));
                    assertEquals(false, miss.matched());
                    assertEquals(0, miss.miscompareOffsetBytes());
                    b.commit(7);
                }
                assertEquals(7, store.appliedIndex("pg-0"));
                byte[] first = read(v, 0, 8);
                assertEquals(1, first[0]);
                assertEquals(3, first[512]);
                assertEquals(3, first[1023]);
                assertEquals(1, first[1024]);
                byte[] second = read(v, 16, 8);
                assertEquals(4, second[0]);
                assertEquals(2, second[512]);
            }
        }
    }

    @Test
    void anEntryBatchRefusesBadInputNamingItAndWritesNothingForIt() {
        try (VdiskStore store = VdiskStore.open(dir.resolve("s"))) {
            store.create("v1", 1 << 20);
            store.createSnapshot("v1", "snap");
            try (Vdisk v = store.open("v1"); Vdisk snap = store.open("v1@snap"); EntryBatch b = store.entryBatch("pg-0")) {
                var e = assertThrows(IllegalArgumentException.class, () -> b.write(v, 2048, filled(4096, 1)));
                assertTrue(e.getMessage().contains("2048"), e.getMessage());
                assertThrows(IllegalArgumentException.class, () -> b.write(v, 0, filled(100, 1)));
                var ro = assertThrows(io.basalt.vdisk.BlockDeviceException.class, () -> b.write(snap, 0, filled(512, 1)));
                assertEquals(io.basalt.vdisk.BlockDeviceException.Kind.READ_ONLY, ro.kind());
                b.write(v, 0, filled(512, 6));
                b.commit(3);
                assertThrows(IllegalStateException.class, () -> b.commit(4));
                assertEquals(6, read(v, 0, 1)[0]);
                assertEquals(3, store.appliedIndex("pg-0"));
            }
        }
    }
}
