package io.basalt.vdisk.store;

import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * Where a vdisk's replica mark is kept: meta key {@code 'R' vdiskId} holding a record the
 * replicating module owns (its format is that module's; the engine stores and returns the bytes).
 * A vdisk with such a key is a read-only replica: every mutation through a {@link Vdisk} handle
 * fails READ_ONLY, and the namespace operations that change its data or snapshots are refused,
 * except through a {@link ReplicaWriter} (the mirror applier's privileged path).
 *
 * <p>A vdisk without the key is an ordinary vdisk, which is how every store written before
 * replicas existed reads, so the format version stays 1. (A Basalt older than replicas ignores
 * the key: opened by one, a replica takes writes like any vdisk.) The key is deleted with the
 * vdisk; a clone of a replica's snapshot gets a new id, so it starts writable.
 */
final class Replicas {
    private Replicas() {}

    static byte[] key(long vdiskId) {
        return Keys.meta('R', vdiskId);
    }

    /** The replica record of vdisk {@code vdiskId}, or null when it is not a replica. */
    static byte[] load(StoreDb db, long vdiskId) {
        try {
            return db.db.get(db.meta, key(vdiskId));
        } catch (RocksDBException e) {
            throw Catalog.storeError("read the replica mark of vdisk id " + vdiskId, e);
        }
    }

    /** Adds the storing of {@code record} (or its deletion, when null) for {@code vdiskId} to {@code batch}. */
    static void put(WriteBatch batch, StoreDb db, long vdiskId, byte[] record) throws RocksDBException {
        if (record == null) {
            batch.delete(db.meta, key(vdiskId));
        } else {
            batch.put(db.meta, key(vdiskId), record);
        }
    }
}
