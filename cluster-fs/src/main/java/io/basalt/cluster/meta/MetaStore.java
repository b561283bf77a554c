package io.basalt.cluster.meta;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.rocksdb.Checkpoint;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The meta group's state on disk: a {@link MetaState} persisted in its own RocksDB. Each
 * {@link #apply} writes the records the command touched and the applied term-index in one
 * synchronous batch, so after a crash the stored state and the stored index always agree and
 * replay starts exactly after the last entry that took effect. No Raft here: the state machine
 * adapter calls {@link #apply} in log order.
 *
 * <p>Keys: {@code 'v' id} a vdisk record, {@code 'k' id} a host session of the lock table,
 * {@code 'K' name} a vdisk's lock record (name in UTF-8), {@code 'p' name} a vdisk's
 * persistent-reservation state ({@link PrRecord}, since format version 3), {@code 'c' key} a config
 * record ({@link ConfigRecord}, since format version 4), {@code 'r' id} a node, {@code 's' id} a
 * node's space report, {@code 'n'} the next id, {@code 'a'} the applied term and index,
 * {@code 'f'} the store's format version (one byte). The lock records change in the same batch
 * as the applied index, as {@link io.basalt.lock.LockTable#drainChanges} lists them.
 *
 * <p>The format version covers the keys and the record encodings ({@link MetaCodec}); snapshots
 * are checkpoints of this store and carry it. A store without the key was written before it
 * had one, in the layout of version 1, and gets the key when it is opened. Version 1 kept the
 * sessions of the seam before the lock table ({@code 'h' id}, no locks): opening such a store
 * drops them (their hosts open new sessions) and records version {@value #FORMAT_VERSION}; one of
 * version 2 or 3 (no PR records, no config records) only gets the new version recorded. A
 * store of a version this code does not read is refused when it is opened, naming both
 * versions; a node of a version before this key refuses it too, as an unknown key.
 */
public final class MetaStore implements AutoCloseable {
    private static final byte[] NEXT_ID = {'n'};
    private static final byte[] APPLIED = {'a'};
    private static final byte[] FORMAT = {'f'};
    /** The store format this code writes and reads (it upgrades version 1 when it opens it). */
    static final int FORMAT_VERSION = 4;

    static {
        RocksDB.loadLibrary();
    }

    /** A log position. */
    public record TermIndex(long term, long index) {
        public static final TermIndex NONE = new TermIndex(0, -1);
    }

    private final Path dir;
    private final Options options;
    private final WriteOptions syncWrite;
    private final RocksDB db;
    private final MetaState state = new MetaState();
    private TermIndex applied = TermIndex.NONE;

    private MetaStore(Path dir) throws RocksDBException {
        this.dir = dir;
        this.options = new Options().setCreateIfMissing(true).setMaxBackgroundJobs(1);
        this.syncWrite = new WriteOptions().setSync(true);
        RocksDB opened = null;
        try {
            opened = RocksDB.open(options, dir.toString());
            this.db = opened;
            checkFormat();
            load();
        } catch (RocksDBException | RuntimeException e) {
            if (opened != null) {
                opened.close();
            }
            syncWrite.close();
            options.close();
            throw e;
        }
    }

    public static MetaStore open(Path dir) {
        try {
            Files.createDirectories(dir);
            return new MetaStore(dir);
        } catch (RocksDBException | java.io.IOException e) {
            throw new IllegalStateException("open meta store at " + dir + ": " + e.getMessage(), e);
        }
    }

    public Path directory() {
        return dir;
    }

    /** The state as of {@link #applied()}; callers must not hold it across applies without care. */
    public MetaState state() {
        return state;
    }

    public TermIndex applied() {
        return applied;
    }

    /**
     * Applies the entry at {@code at}, which must come right after {@link #applied()} in the log
     * (gaps and repeats are bugs in the caller: entries at or below the applied index are the
     * caller's to skip).
     */
    public MetaResult apply(TermIndex at, MetaCommand command) {
        if (at.index() <= applied.index() || at.term() < applied.term()) {
            throw new IllegalStateException("meta apply at " + at + " (expected: after " + applied + ")");
        }
        MetaResult result = state.apply(at.index(), command);
        try (WriteBatch batch = new WriteBatch()) {
            for (MetaState.Key key : state.touched()) {
                stage(batch, key);
            }
            stageLocks(batch, state.drainLockChanges());
            batch.put(APPLIED, ByteBuffer.allocate(16).putLong(at.term()).putLong(at.index()).array());
            db.write(syncWrite, batch);
        } catch (RocksDBException e) {
            // The memory state is ahead of the disk now: stop rather than serve it.
            throw new IllegalStateException("meta store write at " + at + " failed; the store must be reopened: " + e.getMessage(), e);
        }
        applied = at;
        return result;
    }

    private void stage(WriteBatch batch, MetaState.Key key) throws RocksDBException {
        switch (key) {
            case MetaState.Key.Vdisk k -> putOrDelete(batch, key('v', k.id()), state.vdisk(k.id()).map(MetaCodec::encode));
            case MetaState.Key.NextId k -> batch.put(NEXT_ID, ByteBuffer.allocate(8).putLong(state.nextId()).array());
            case MetaState.Key.Space k -> putOrDelete(batch, key('s', k.nodeId()), state.space(k.nodeId()).map(MetaCodec::encode));
            case MetaState.Key.Node k -> putOrDelete(batch, key('r', k.id()), state.node(k.id()).map(MetaCodec::encode));
            case MetaState.Key.Pr k -> putOrDelete(batch, nameKey('p', k.vdisk()), state.prState(k.vdisk()).map(MetaCodec::encode));
            case MetaState.Key.Config k -> putOrDelete(batch, nameKey('c', k.key()), state.config(k.key()).map(MetaCodec::encode));
        }
    }

    private void stageLocks(WriteBatch batch, io.basalt.lock.LockTable.Changes changes) throws RocksDBException {
        for (long id : changes.sessionIds()) {
            putOrDelete(batch, key('k', id), state.session(id).map(MetaCodec::encode));
        }
        for (String vdisk : changes.vdisks()) {
            putOrDelete(batch, lockKey(vdisk), state.lock(vdisk).map(MetaCodec::encode));
        }
    }

    /** The record's new value, or its deletion when the state no longer holds it. */
    private static void putOrDelete(WriteBatch batch, byte[] dbKey, java.util.Optional<byte[]> value) throws RocksDBException {
        if (value.isPresent()) {
            batch.put(dbKey, value.get());
        } else {
            batch.delete(dbKey);
        }
    }

    /** Records that entries up to {@code at} are applied although none reached {@link #apply}. */
    public void markApplied(TermIndex at) {
        if (at.index() < applied.index()) {
            throw new IllegalStateException("meta mark applied " + at + " (expected: >= " + applied + ")");
        }
        try {
            db.put(syncWrite, APPLIED, ByteBuffer.allocate(16).putLong(at.term()).putLong(at.index()).array());
        } catch (RocksDBException e) {
            throw new IllegalStateException("meta store write at " + at + " failed: " + e.getMessage(), e);
        }
        applied = at;
    }

    /** Writes a consistent copy of the store to {@code target} (which must not exist). */
    public void checkpoint(Path target) {
        try (Checkpoint cp = Checkpoint.create(db)) {
            cp.createCheckpoint(target.toString());
        } catch (RocksDBException e) {
            throw new IllegalStateException("meta checkpoint to " + target + ": " + e.getMessage(), e);
        }
    }

    /** Refuses a store of a format version this code does not read; records the version in one without. */
    private void checkFormat() throws RocksDBException {
        byte[] v = db.get(FORMAT);
        if (v != null && v.length != 1) {
            throw new IllegalStateException("meta store " + dir + ": format record of " + v.length + " bytes (expected: 1)");
        }
        int version = v == null ? 1 : v[0] & 0xFF;
        if (version == 1) {
            upgradeFromVersion1();
        } else if (version == 2 || version == 3) {
            db.put(syncWrite, FORMAT, new byte[] {FORMAT_VERSION});    // versions 3 and 4 only added the 'p' and 'c' records
        } else if (version != FORMAT_VERSION) {
            throw new IllegalStateException("meta store " + dir + ": format version " + version
                    + " (this node reads: 1.." + FORMAT_VERSION + ")");
        }
    }

    /** Drops the seam's sessions ({@code 'h'}: no locks hang on them) and records the version, in one write. */
    private void upgradeFromVersion1() throws RocksDBException {
        try (WriteBatch batch = new WriteBatch(); RocksIterator it = db.newIterator()) {
            for (it.seek(new byte[] {'h'}); it.isValid() && it.key()[0] == 'h'; it.next()) {
                batch.delete(it.key());
            }
            batch.put(FORMAT, new byte[] {FORMAT_VERSION});
            db.write(syncWrite, batch);
        }
    }

    private void load() throws RocksDBException {
        List<io.basalt.lock.Session> sessions = new java.util.ArrayList<>();
        List<io.basalt.lock.VdiskLock> locks = new java.util.ArrayList<>();
        try (RocksIterator it = db.newIterator()) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] k = it.key();
                ByteBuffer v = ByteBuffer.wrap(it.value());
                switch (k[0]) {
                    case 'v' -> state.load(MetaCodec.decodeVdisk(v));
                    case 'k' -> sessions.add(MetaCodec.decodeSession(v));
                    case 'K' -> locks.add(MetaCodec.decodeLock(v));
                    case 'n' -> state.loadNextId(v.getLong());
                    case 'r' -> state.load(MetaCodec.decodeNode(v));
                    case 's' -> state.load(MetaCodec.decodeSpace(v));
                    case 'p' -> state.load(MetaCodec.decodePr(v));
                    case 'c' -> state.load(MetaCodec.decodeConfig(v));
                    case 'a' -> applied = new TermIndex(v.getLong(), v.getLong());
                    case 'f' -> { } // checked before the records are read (checkFormat)
                    default -> throw new IllegalStateException("meta store " + dir + ": unknown key prefix " + k[0]);
                }
            }
        }
        state.loadLocks(applied.index(), sessions, locks);
        state.checkInvariants();
    }

    private static byte[] lockKey(String vdisk) {
        return nameKey('K', vdisk);
    }

    private static byte[] nameKey(char prefix, String vdisk) {
        byte[] name = vdisk.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return ByteBuffer.allocate(1 + name.length).put((byte) prefix).put(name).array();
    }

    private static byte[] key(char prefix, long id) {
        return ByteBuffer.allocate(9).put((byte) prefix).putLong(id).array();
    }

    /** Every vdisk, by name (a convenience for status output and tests). */
    public List<VdiskRecord> vdisks() {
        return state.vdisks();
    }

    @Override
    public void close() {
        db.close();
        syncWrite.close();
        options.close();
    }
}
