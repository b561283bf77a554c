package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletionException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.vdisk.BlockDeviceException;

/** Stored data that was changed behind the engine's back is an error on read, never silent data. */
class CorruptionTest {

    @TempDir
    Path dir;

    @Test
    void flippedFrameByteFailsTheReadNamingVdiskAndLba() throws Exception {
        byte[] data = new byte[8192];
        new Random(7).nextBytes(data);
        try (VdiskStore store = VdiskStore.open(dir)) {
            VdiskInfo info = store.create("web1", 1 << 20, 512, 4096);
            try (Vdisk disk = store.open("web1")) {
                disk.write(16, ByteBuffer.wrap(data), false).join(); // grains 2 and 3
                byte[] key = Keys.block(info.id(), 3, 1);
                byte[] frame = store.db().db.get(store.db().blocks, key);
                frame[100] ^= 0x20;
                store.db().db.put(store.db().blocks, key, frame);

                CompletionException e = assertThrows(CompletionException.class, () -> disk.read(16, 16).join());
                BlockDeviceException cause = assertInstanceOf(BlockDeviceException.class, e.getCause());
                assertEquals(BlockDeviceException.Kind.CORRUPTION, cause.kind());
                assertTrue(cause.getMessage().contains("checksum mismatch"), cause.getMessage());
                assertTrue(cause.getMessage().contains("vdisk web1 at lba 24"), cause.getMessage());
                // The intact grain still reads.
                byte[] first = new byte[4096];
                disk.read(16, 8).join().get(first);
                assertArrayEquals(java.util.Arrays.copyOf(data, 4096), first);
            }
        }
    }

    @Test
    void flippedBytesInTableFilesFailReads() throws IOException {
        byte[] data = new byte[1 << 20];
        new Random(11).nextBytes(data);
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("db1", 4 << 20, 512, 4096);
            try (Vdisk disk = store.open("db1")) {
                disk.write(0, ByteBuffer.wrap(data), true).join();
            }
            store.db().db.flush(new org.rocksdb.FlushOptions().setWaitForFlush(true), store.db().blocks);
        } catch (org.rocksdb.RocksDBException e) {
            throw new IOException(e);
        }
        List<Path> tables;
        try (var files = Files.list(dir)) {
            tables = files.filter(p -> p.toString().endsWith(".sst")).filter(p -> p.toFile().length() > 512 * 1024).toList();
        }
        assertFalse(tables.isEmpty(), "expected the block table file in " + dir);
        for (Path table : tables) {
            try (RandomAccessFile f = new RandomAccessFile(table.toFile(), "rw")) {
                for (long at = 4096; at < f.length() / 2; at += 64 * 1024) {
                    f.seek(at);
                    int b = f.read();
                    f.seek(at);
                    f.write(b ^ 0x01);
                }
            }
        }
        try (VdiskStore store = VdiskStore.open(dir); Vdisk disk = store.open("db1")) {
            int failures = 0;
            for (int grain = 0; grain < 256; grain++) {
                try {
                    byte[] got = new byte[4096];
                    disk.read(grain * 8L, 8).join().get(got);
                    assertArrayEquals(java.util.Arrays.copyOfRange(data, grain * 4096, grain * 4096 + 4096), got,
                            "grain " + grain + " read without error must be intact");
                } catch (CompletionException e) {
                    BlockDeviceException cause = assertInstanceOf(BlockDeviceException.class, e.getCause());
                    assertEquals(BlockDeviceException.Kind.CORRUPTION, cause.kind(), cause.getMessage());
                    assertTrue(cause.getMessage().contains("vdisk db1 at lba"), cause.getMessage());
                    failures++;
                }
            }
            assertTrue(failures > 0, "flipped table bytes went unnoticed");
        }
    }
}
