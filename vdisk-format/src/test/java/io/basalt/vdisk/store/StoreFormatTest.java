package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.RocksDBException;

/**
 * The store-wide on-disk format version: a new store is stamped, a store from before the stamp
 * existed is read as version 1 and stamped, and a store of a version this code does not know is
 * refused, naming both versions, without being changed.
 */
class StoreFormatTest {
    private static final long DB_CACHE_BYTES = 1 << 20;
    @TempDir
    Path dir;

    @Test
    void aNewStoreIsStampedWithTheCurrentVersion() throws RocksDBException {
        VdiskStore.open(dir).close();
        try (StoreDb db = new StoreDb(dir, DB_CACHE_BYTES)) {
            assertEquals(StoreFormat.VERSION, StoreFormat.stamped(db));
        }
    }

    @Test
    void aStoreStampedWithAFutureVersionRefusesToOpenAndIsLeftUntouched() throws RocksDBException {
        byte[] data = writeOneVdisk();
        long future = StoreFormat.VERSION + 2;
        try (StoreDb db = new StoreDb(dir, DB_CACHE_BYTES)) {
            db.db.put(db.meta, StoreFormat.key(), StoreFormat.encode(future));
        }

        StoreException e = assertThrows(StoreException.class, () -> VdiskStore.open(dir));
        assertEquals("store " + dir + ": on-disk format version " + future + " (this Basalt reads: " + StoreFormat.VERSION + ")",
                e.getMessage());

        try (StoreDb db = new StoreDb(dir, DB_CACHE_BYTES)) {
            assertEquals(future, StoreFormat.stamped(db), "the refused open rewrote the version");
            // Back to the version this code reads: the data is as it was before the refused open.
            db.db.put(db.meta, StoreFormat.key(), StoreFormat.encode(StoreFormat.VERSION));
        }
        assertArrayEquals(data, readOneVdisk());
    }

    @Test
    void anUnversionedStoreOpensAndIsStampedWithVersionOne() throws RocksDBException {
        byte[] data = writeOneVdisk();
        try (StoreDb db = new StoreDb(dir, DB_CACHE_BYTES)) {
            db.db.delete(db.meta, StoreFormat.key()); // as written before the version was kept
            assertEquals(-1, StoreFormat.stamped(db));
        }

        assertArrayEquals(data, readOneVdisk());

        try (StoreDb db = new StoreDb(dir, DB_CACHE_BYTES)) {
            assertEquals(1, StoreFormat.stamped(db));
        }
    }

    @Test
    void aVersionRecordOfTheWrongLengthIsRefusedNamingIt() throws RocksDBException {
        VdiskStore.open(dir).close();
        try (StoreDb db = new StoreDb(dir, DB_CACHE_BYTES)) {
            db.db.put(db.meta, StoreFormat.key(), new byte[] {1});
        }
        StoreException e = assertThrows(StoreException.class, () -> VdiskStore.open(dir));
        assertTrue(e.getMessage().contains("format version record of 1 bytes"), e.getMessage());
    }

    /** Creates vdisk "v" with one grain of data and returns the data. */
    private byte[] writeOneVdisk() {
        byte[] data = new byte[VdiskStore.GRAIN_SIZE_DEFAULT_BYTES];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 31 + 7);
        }
        try (VdiskStore store = VdiskStore.open(dir)) {
            store.create("v", 1 << 20);
            try (Vdisk v = store.open("v")) {
                v.write(0, ByteBuffer.wrap(data), true).join();
            }
        }
        return data;
    }

    private byte[] readOneVdisk() {
        try (VdiskStore store = VdiskStore.open(dir); Vdisk v = store.open("v")) {
            ByteBuffer b = v.read(0, VdiskStore.GRAIN_SIZE_DEFAULT_BYTES / 512).join();
            byte[] out = new byte[b.remaining()];
            b.get(out);
            return out;
        }
    }
}
