package io.basalt.vdisk.store;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;

import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

/**
 * What a replicated state machine (cluster-fs) keeps in the store beside the data: the applied
 * index of each of its logs ('A' keys) and its own records ('L' keys), written through the same
 * write-ahead log as the data (see {@link EntryBatch}).
 */
final class AppliedLogs {
    private final StoreDb db;
    /**
     * Applied index per state-machine log, as last written here: a state machine reads it twice
     * per applied entry, and a RocksDB get each time was a tenth of a PG's apply thread.
     */
    private final ConcurrentHashMap<String, Long> appliedIndexes = new ConcurrentHashMap<>();

    AppliedLogs(StoreDb db) {
        this.db = db;
    }

    void recordAppliedIndex(String log, long index) {
        try {
            db.db.put(db.meta, appliedKey(log), Keys.vdiskPrefix(index));
        } catch (RocksDBException e) {
            throw Catalog.storeError("record applied index of " + log, e);
        }
        appliedIndexes.put(log, index);
    }

    /** {@code log}'s applied index was committed as {@code index} (by an {@link EntryBatch}). */
    void appliedIndexWritten(String log, long index) {
        appliedIndexes.put(log, index);
    }

    long appliedIndex(String log) {
        Long known = appliedIndexes.get(log);
        if (known != null) {
            return known;
        }
        try {
            byte[] v = db.db.get(db.meta, appliedKey(log));
            long index = v == null ? -1 : Keys.getLong(v, 0);
            appliedIndexes.putIfAbsent(log, index);
            return index;
        } catch (RocksDBException e) {
            throw Catalog.storeError("read applied index of " + log, e);
        }
    }

    void forEachLogRecord(String log, BiConsumer<byte[], byte[]> action) {
        byte[] prefix = logRecordKey(log, new byte[0]);
        try (RocksIterator it = db.db.newIterator(db.meta, db.scanReadOptions)) {
            for (it.seek(prefix); it.isValid() && Keys.hasPrefix(it.key(), prefix); it.next()) {
                byte[] k = it.key();
                action.accept(Arrays.copyOfRange(k, prefix.length, k.length), it.value());
            }
        }
    }

    /** The meta key of record {@code key} of log {@code log}: 'L', the log name's length (2 bytes), the name, the key. */
    static byte[] logRecordKey(String log, byte[] key) {
        byte[] name = log.getBytes(StandardCharsets.UTF_8);
        if (name.length > 0xFFFF) {
            throw new IllegalArgumentException("log name: " + name.length + " bytes (expected: <= 65535)");
        }
        byte[] k = new byte[3 + name.length + key.length];
        k[0] = 'L';
        k[1] = (byte) (name.length >>> 8);
        k[2] = (byte) name.length;
        System.arraycopy(name, 0, k, 3, name.length);
        System.arraycopy(key, 0, k, 3 + name.length, key.length);
        return k;
    }

    static byte[] appliedKey(String log) {
        byte[] name = log.getBytes(StandardCharsets.UTF_8);
        byte[] k = new byte[1 + name.length];
        k[0] = 'A';
        System.arraycopy(name, 0, k, 1, name.length);
        return k;
    }
}
