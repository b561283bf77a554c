package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.FlushOptions;
import org.rocksdb.RocksDBException;

/**
 * Small reads and non-FUA writes run on the caller's thread only when that costs no waiting;
 * otherwise they take the I/O pool as before and still complete correctly.
 */
class VdiskInlineIoTest {
    private static final long SEED = 0x1a7e_2026L;
    private static final int BLOCK = 512;
    private static final int GRAIN = 4096;

    @TempDir
    Path dir;

    @Test
    void smallWriteAndReadOfAnIdleVdiskAreDoneWhenTheCallReturns() {
        try (VdiskStore store = VdiskStore.open(dir); Vdisk v = store.open(store.create("v", 8 << 20).name())) {
            ByteBuffer data = randomBytes(new Random(SEED), 2 * GRAIN);
            CompletableFuture<Void> write = v.write(8, data.duplicate(), false);
            assertTrue(write.isDone(), "write of two whole grains to an idle vdisk ran on the caller's thread");
            write.join();

            ByteBuffer dst = ByteBuffer.allocateDirect(2 * GRAIN);
            CompletableFuture<Void> read = v.read(8, 2 * GRAIN / BLOCK, dst);
            assertTrue(read.isDone(), "read from memtable/block cache ran on the caller's thread");
            read.join();
            assertArrayEquals(array(data), array(dst));

            CompletableFuture<ByteBuffer> heapRead = v.read(9, 3);
            assertTrue(heapRead.isDone());
            assertArrayEquals(java.util.Arrays.copyOfRange(array(data), BLOCK, 4 * BLOCK), array(heapRead.join()));
        }
    }

    @Test
    void writeToALockedGrainWaitsOnThePoolNotOnTheCallersThread() {
        try (VdiskStore store = VdiskStore.open(dir); Vdisk v = store.open(store.create("v", 8 << 20).name())) {
            ByteBuffer data = randomBytes(new Random(SEED + 1), GRAIN);
            int[] held = store.grainLocks().lock(v.info().id(), 3, 3);
            CompletableFuture<Void> write;
            try {
                // Returns although grain 3 is locked: the write waits for the lock on an I/O thread.
                write = v.write(3 * GRAIN / BLOCK, data.duplicate(), false);
                assertFalse(write.isDone(), "a write cannot complete while its grain is locked");
            } finally {
                store.grainLocks().unlock(held);
            }
            write.join();
            assertArrayEquals(array(data), array(v.read(3 * GRAIN / BLOCK, GRAIN / BLOCK).join()));
        }
    }

    @Test
    void readOfAGrainOutsideTheBlockCacheFallsBackToThePool() throws RocksDBException {
        ByteBuffer data = randomBytes(new Random(SEED + 2), GRAIN);
        long id;
        try (VdiskStore store = VdiskStore.open(dir); Vdisk v = store.open(store.create("v", 8 << 20).name())) {
            v.write(5 * GRAIN / BLOCK, data.duplicate(), false).join();
            id = v.info().id();
            try (FlushOptions wait = new FlushOptions().setWaitForFlush(true)) {
                store.db().db.flush(wait, store.db().blocks);    // into an SST file, out of the memtable
            }
        }
        try (VdiskStore store = VdiskStore.open(dir); Vdisk v = store.open("v")) {
            // The precondition: a fresh block cache does not hold the grain, so the cached-only
            // lookup the inline path makes is refused with Incomplete.
            byte[] key = Keys.block(id, 5, v.info().headEpoch());
            RocksDBException miss = assertThrows(RocksDBException.class,
                    () -> store.db().db.get(store.db().blocks, store.db().cachedGrainReadOptions, key));
            assertTrue(StoreDb.incomplete(miss), miss.toString());

            ByteBuffer dst = ByteBuffer.allocateDirect(GRAIN);
            v.read(5 * GRAIN / BLOCK, GRAIN / BLOCK, dst).join();
            assertArrayEquals(array(data), array(dst));
        }
    }

    @Test
    void badRangeOnTheCallersThreadFailsLikeThePool() {
        try (VdiskStore store = VdiskStore.open(dir); Vdisk v = store.open(store.create("v", 1 << 20).name())) {
            CompletableFuture<Void> write = v.write((1 << 20) / BLOCK, ByteBuffer.allocate(GRAIN), false);
            CompletionException e = assertThrows(CompletionException.class, write::join);
            assertInstanceOf(IllegalArgumentException.class, e.getCause());
            CompletableFuture<Void> read = v.read((1 << 20) / BLOCK - 1, GRAIN / BLOCK, ByteBuffer.allocate(GRAIN));
            e = assertThrows(CompletionException.class, read::join);
            assertInstanceOf(IllegalArgumentException.class, e.getCause());
        }
    }

    private static ByteBuffer randomBytes(Random random, int bytes) {
        byte[] b = new byte[bytes];
        random.nextBytes(b);
        return ByteBuffer.wrap(b);
    }

    private static byte[] array(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }
}
