package io.basalt.vdisk.store;

import java.nio.file.Path;

import org.rocksdb.RocksDBException;

/**
 * The store-wide on-disk format version, kept under meta key 'F'. A store this code does not
 * know the format of is refused at open, naming both versions, rather than misread: a newer
 * Basalt may lay out keys or records differently. A store written before the version was kept
 * has no 'F' key; it is version 1, and is stamped so at its first writable open.
 *
 * <p>A key kind added with a meaning for its absence that matches how older stores behave needs
 * no new version: 'T' (a vdisk's fence, see {@link Fences}) is absent in older stores, which
 * reads as fence 0, admitting every write as they did; 'R' (a replica mark, see {@link Replicas})
 * likewise: without it a vdisk is an ordinary writable one.
 */
final class StoreFormat {
    /** The format this code reads and writes. */
    static final long VERSION = 1;
    /** The version of a store that has no 'F' key (written before the version was kept). */
    static final long VERSION_UNSTAMPED = 1;

    private StoreFormat() {}

    /**
     * Checks the format version of the freshly opened {@code db} and stamps an unstamped one
     * (unless it is read-only: it is read as version 1 and stamped at a later writable open).
     * Throws, writing nothing, when the version is not {@link #VERSION}.
     */
    static void checkAndStamp(StoreDb db, Path dir) {
        try {
            byte[] stamped = db.db.get(db.meta, key());
            if (stamped != null) {
                check(dir, decode(dir, stamped));
                return;
            }
            check(dir, VERSION_UNSTAMPED);
            if (db.readOnlyReason == null) {
                db.db.put(db.meta, db.syncWriteOptions(), key(), encode(VERSION));
            }
        } catch (RocksDBException e) {
            throw new StoreException("store " + dir + ": on-disk format version: " + e.getMessage(), e);
        }
    }

    /** The version the store at {@code db} is stamped with, or -1 when it has none. */
    static long stamped(StoreDb db) throws RocksDBException {
        byte[] bytes = db.db.get(db.meta, key());
        return bytes == null ? -1 : Keys.getLong(bytes, 0);
    }

    static byte[] key() {
        return Keys.meta('F');
    }

    /** The record's value: the version as 8 big-endian bytes. */
    static byte[] encode(long version) {
        byte[] bytes = new byte[Long.BYTES];
        Keys.putLong(bytes, 0, version);
        return bytes;
    }

    private static void check(Path dir, long version) {
        if (version != VERSION) {
            throw new StoreException("store " + dir + ": on-disk format version " + version + " (this Basalt reads: " + VERSION + ")");
        }
    }

    private static long decode(Path dir, byte[] bytes) {
        if (bytes.length != Long.BYTES) {
            throw new StoreException("store " + dir + ": on-disk format version record of " + bytes.length
                    + " bytes (expected: " + Long.BYTES + "; this Basalt reads version " + VERSION + ")");
        }
        return Keys.getLong(bytes, 0);
    }
}
