package io.basalt.vdisk.store;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

import io.basalt.vdisk.CompareResult;

/**
 * The mutations of one replicated log entry, prepared on the calling thread and written to
 * RocksDB together with the log's applied index in one atomic batch: after a crash either the
 * whole entry and its index are there, or neither is. For a state machine applying a log
 * (cluster-fs): no hop to the I/O pool or the group committer, one RocksDB write per entry.
 *
 * <p>An op that touches a grain an earlier op of the same entry changed (or a compare that
 * must read it) first commits what is pending, without the index, so every op sees the ones
 * before it; such an entry is then applied in more than one write and, after a crash between
 * them, is applied again whole from its recorded predecessor (writes are idempotent).
 *
 * <p>Contract: the caller is the only writer of the vdisks it touches until {@link #commit}
 * (grain locks are held while an op is prepared, not until the commit). Not thread-safe.
 */
public final class EntryBatch implements AutoCloseable {
    private final VdiskStore store;
    private final StoreDb db;
    private final String log;
    private final List<GroupCommitter.Op> ops = new ArrayList<>();
    /** Grain ranges with pending changes: {vdisk id, first grain, last grain}. */
    private final List<long[]> touched = new ArrayList<>();
    /** State-machine records to put (value non-null) or delete (null) with the applied index. */
    private final java.util.Map<java.nio.ByteBuffer, byte[]> records = new java.util.LinkedHashMap<>();
    private boolean committed;

    EntryBatch(VdiskStore store, String log) {
        this.store = store;
        this.db = store.db();
        this.log = log;
    }

    /** Adds a write of {@code data} at {@code lba} of {@code v} (a head, not a snapshot). */
    public void write(Vdisk v, long lba, ByteBuffer data) {
        long[] range = grains(v, lba, data.remaining());
        flushIfOverlapping(range);
        v.prepareWriteInto(lba, data, ops);
        touched.add(range);
    }

    /**
     * Compares the blocks at {@code lba} with {@code expected} (seeing every earlier op of this
     * entry) and, when they match, adds the write of {@code data}.
     */
    public CompareResult compareAndWrite(Vdisk v, long lba, ByteBuffer expected, ByteBuffer data) {
        long[] range = grains(v, lba, data.remaining());
        flushIfOverlapping(range);
        CompareResult r = v.prepareCompareAndWriteInto(lba, expected, data, ops);
        touched.add(range);
        return r;
    }

    /**
     * Puts record {@code key} of this log's state machine (see {@link VdiskStore#forEachLogRecord});
     * it is written by {@link #commit}, in the same write as the applied index, never by a flush.
     */
    public void putLogRecord(byte[] key, byte[] value) {
        records.put(java.nio.ByteBuffer.wrap(key.clone()), value.clone());
    }

    /** Deletes record {@code key} of this log's state machine, with the applied index as above. */
    public void deleteLogRecord(byte[] key) {
        records.put(java.nio.ByteBuffer.wrap(key.clone()), null);
    }

    /** Commits what is pending without the index: before an op that reads or changes the store another way. */
    public void flush() {
        if (!ops.isEmpty()) {
            writeBatch(-1);
        }
    }

    /** Commits everything pending and records {@code index} as applied, in one write. */
    public void commit(long index) {
        if (committed) {
            throw new IllegalStateException("entry batch of " + log + " already committed");
        }
        writeBatch(index);
        committed = true;
    }

    private void writeBatch(long index) {
        try (WriteBatch batch = new WriteBatch()) {
            GroupCommitter.addTo(batch, ops);
            if (index >= 0) {
                for (var r : records.entrySet()) {
                    byte[] key = AppliedLogs.logRecordKey(log, r.getKey().array());
                    if (r.getValue() == null) {
                        batch.delete(db.meta, key);
                    } else {
                        batch.put(db.meta, key, r.getValue());
                    }
                }
                batch.put(db.meta, AppliedLogs.appliedKey(log), Keys.vdiskPrefix(index));
            }
            db.db.write(db.writeOptions, batch);
        } catch (RocksDBException e) {
            throw StoreErrors.blockDevice("applying an entry of " + log + (index >= 0 ? " at index " + index : ""), e);
        }
        if (index >= 0) {
            store.appliedIndexWritten(log, index);
        }
        ops.clear();
        touched.clear();
        if (index >= 0) {
            records.clear();
        }
    }

    private void flushIfOverlapping(long[] range) {
        for (long[] t : touched) {
            if (t[0] == range[0] && range[1] <= t[2] && t[1] <= range[2]) {
                flush();
                return;
            }
        }
    }

    private static long[] grains(Vdisk v, long lba, int bytes) {
        VdiskInfo info = v.info();
        long offset = lba * info.blockSizeBytes();
        long first = Math.max(0, offset) / info.grainSizeBytes();
        long last = Math.max(first, (offset + Math.max(bytes, 1) - 1) / info.grainSizeBytes());
        return new long[] {info.id(), first, last};
    }

    /** Drops what was not committed (the caller is stopping on a failure). */
    @Override
    public void close() {
        ops.clear();
        touched.clear();
        records.clear();
    }
}
