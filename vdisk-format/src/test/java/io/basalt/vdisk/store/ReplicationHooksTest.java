package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
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
}
