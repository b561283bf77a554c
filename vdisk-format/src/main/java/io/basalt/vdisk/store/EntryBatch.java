package io.basalt.vdisk.store;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

import io.basalt.vdisk.CompareResult;
import io.basalt.vdisk.FencedException;

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
 * <p>Fencing (the rule: {@link FencedException#check}): a log entry that raises a vdisk's fence
 * does it with {@link #raiseFence}, and every mutating op of an entry (those run on a
 * {@link Vdisk} after {@link #flush} too) is preceded by {@link #checkFence} with the token it
 * carries. A raised fence is stored with the applied index and is seen by the later ops of the
 * same batch at once, by the vdisk after the commit. No waiting for mutations in flight is needed
 * here, unlike {@link Vdisk#raiseFence}: the log orders the ops, so every op before the raise has
 * been applied and every op after it is checked against it. Should a crash lose the commit, the
 * entry is applied again from the log, raise included, before anything after it.
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
    /** Fences raised by this entry, by vdisk id (in id order: their gates are locked in that order at the commit). */
    private final java.util.TreeMap<Long, RaisedFence> fences = new java.util.TreeMap<>();
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

    /**
     * Raises {@code v}'s fence to {@code max(fence, the fence it has now)}: later ops of this batch
     * see it through {@link #checkFence} at once; it is stored in the same write as the applied
     * index, and the vdisk refuses stale mutations from then on. A lower or equal value is a no-op.
     * Called for a log entry of the lock holder that raises the fence before its first write.
     */
    public void raiseFence(Vdisk v, long fence) {
        if (fence < 0) {
            throw new IllegalArgumentException("fence: " + fence + " (expected: >= 0) vdisk=" + v.name());
        }
        if (v.readOnly()) {
            throw new io.basalt.vdisk.BlockDeviceException(io.basalt.vdisk.BlockDeviceException.Kind.READ_ONLY,
                    "raise fence refused: " + v.name() + " is a snapshot or on a read-only store");
        }
        if (fence > fenceSeen(v)) {
            fences.put(v.state().id, new RaisedFence(v.state(), fence));
        }
    }

    /**
     * Throws {@link FencedException} when {@code token} is below {@code v}'s fence, counting the
     * fences raised earlier in this batch: the check to make before each mutating op of the entry.
     */
    public void checkFence(Vdisk v, long token) {
        FencedException.check(v.name(), token, fenceSeen(v));
    }

    /** {@code v}'s fence as the ops of this batch see it: raised by an earlier op of it, or the vdisk's. */
    private long fenceSeen(Vdisk v) {
        RaisedFence raised = fences.get(v.state().id);
        long current = v.fence();
        return raised == null ? current : Math.max(current, raised.fence());
    }

    /** A fence raised in this batch, not yet committed. */
    private record RaisedFence(VdiskState state, long fence) {}

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
        if (index >= 0 && !fences.isEmpty()) {
            writeBatchRaisingFences(index);
            return;
        }
        writeBatchOnly(index);
    }

    /**
     * {@link #writeBatchOnly} with the raised fences in the same write, each gate's storing lock
     * held (in vdisk id order) from reading its fence to updating it, so a concurrent
     * {@link Vdisk#raiseFence} can't store a higher fence that this write then lowers.
     */
    private void writeBatchRaisingFences(long index) {
        List<RaisedFence> raised = new ArrayList<>(fences.values());
        int locked = 0;
        try {
            for (RaisedFence r : raised) {
                r.state().fences.storing().lock();
                locked++;
            }
            writeBatchOnly(index);
            for (RaisedFence r : raised) {
                r.state().fences.advance(r.fence());
            }
        } finally {
            for (int i = locked - 1; i >= 0; i--) {
                raised.get(i).state().fences.storing().unlock();
            }
        }
        fences.clear();
    }

    private void writeBatchOnly(long index) {
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
                for (RaisedFence r : fences.values()) {
                    Fences.put(batch, db, r.state().id, Math.max(r.fence(), r.state().fences.fence()));
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
        fences.clear();
    }
}
