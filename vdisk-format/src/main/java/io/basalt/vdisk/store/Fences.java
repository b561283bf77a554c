package io.basalt.vdisk.store;

import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * Where each vdisk's fence is kept: meta key {@code 'T' vdiskId} holding the fence as 8
 * big-endian bytes (see {@link io.basalt.vdisk.FencedException} for what a fence is). A vdisk
 * that has no such key has fence 0, which admits every token: that is how stores written before
 * fences existed read, so they need no migration and the format version stays 1. (A Basalt older
 * than fences ignores the key: opened by one, a store stops enforcing its fences.)
 *
 * <p>The key is written by {@link Vdisk#raiseFence} (fsync'd on its own) or with a replicated
 * log's applied index ({@link EntryBatch#raiseFence}); deleted with the vdisk. A clone gets a new
 * vdisk id, so it starts with no key: at fence 0.
 */
final class Fences {
    private Fences() {}

    static byte[] key(long vdiskId) {
        return Keys.meta('T', vdiskId);
    }

    /** The stored fence of vdisk {@code vdiskId}, 0 when it has none. */
    static long load(StoreDb db, long vdiskId) {
        try {
            byte[] bytes = db.db.get(db.meta, key(vdiskId));
            return bytes == null ? 0 : decode(vdiskId, bytes);
        } catch (RocksDBException e) {
            throw Catalog.storeError("read the fence of vdisk id " + vdiskId, e);
        }
    }

    /** Stores {@code fence} for {@code vdiskId} and fsyncs the WAL before returning. */
    static void storeSync(StoreDb db, long vdiskId, long fence) {
        try {
            db.db.put(db.meta, db.syncWriteOptions(), key(vdiskId), encode(fence));
        } catch (RocksDBException e) {
            throw StoreErrors.blockDevice("store the fence " + fence + " of vdisk id " + vdiskId, e);
        }
    }

    /** Adds the storing of {@code fence} for {@code vdiskId} to {@code batch}. */
    static void put(WriteBatch batch, StoreDb db, long vdiskId, long fence) throws RocksDBException {
        batch.put(db.meta, key(vdiskId), encode(fence));
    }

    static byte[] encode(long fence) {
        byte[] bytes = new byte[Long.BYTES];
        Keys.putLong(bytes, 0, fence);
        return bytes;
    }

    private static long decode(long vdiskId, byte[] bytes) {
        if (bytes.length != Long.BYTES) {
            throw new StoreException("fence record of vdisk id " + vdiskId + ": " + bytes.length + " bytes (expected: " + Long.BYTES + ")");
        }
        long fence = Keys.getLong(bytes, 0);
        if (fence < 0) {
            throw new StoreException("fence record of vdisk id " + vdiskId + ": " + fence + " (expected: >= 0)");
        }
        return fence;
    }
}
