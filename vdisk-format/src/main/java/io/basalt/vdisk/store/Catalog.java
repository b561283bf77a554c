package io.basalt.vdisk.store;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;

/**
 * The store's metadata as the namespace operations see it: names to ids, descriptors,
 * snapshots, the next id, and the cache of {@link VdiskState}s shared by every handle.
 *
 * <p>Owns {@link #lock}, which serialises namespace operations (create, remove, resize,
 * snapshots, rollback, clone, the end of a flatten): a state is loaded under it, so a chain is
 * never built from descriptors half before and half after a flatten. Every metadata change goes
 * through {@link #writeSync}: one fsync'd batch, refused while the store is read-only.
 */
final class Catalog {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    /** Serialises namespace operations (see the class comment). */
    final Object lock = new Object();
    private final Path dir;
    private final StoreDb db;
    private final ConcurrentHashMap<Long, VdiskState> states = new ConcurrentHashMap<>();

    Catalog(Path dir, StoreDb db) {
        this.dir = dir;
        this.db = db;
    }

    StoreDb db() {
        return db;
    }

    // ---- states ----

    VdiskState stateByName(String name) {
        long id = lookupId(name).orElseThrow(() -> new StoreException("no vdisk named " + name));
        return state(id);
    }

    Optional<Long> lookupId(String name) {
        try {
            byte[] id = db.db.get(db.meta, Keys.name(name));
            return id == null ? Optional.empty() : Optional.of(Keys.getLong(id, 0));
        } catch (RocksDBException e) {
            throw storeError("look up " + name, e);
        }
    }

    VdiskState state(long id) {
        VdiskState st = states.get(id);
        if (st != null) {
            return st;
        }
        // Load under the namespace lock: flatten changes chains under it, and a chain read from
        // descriptors written before a flatten but cached after it would keep the flattened
        // vdisk's former ancestors (see Clones#endDescendantChains).
        synchronized (lock) {
            return states.computeIfAbsent(id, this::loadState);
        }
    }

    /** The states loaded so far (a flatten ends the chains of those that read through it). */
    Collection<VdiskState> loadedStates() {
        return states.values();
    }

    /** Drops a removed vdisk's state. */
    void forget(long id) {
        states.remove(id);
    }

    private VdiskState loadState(long id) {
        VdiskInfo info = descriptor(id);
        List<Long> ids = new ArrayList<>();
        List<Long> epochs = new ArrayList<>();
        Optional<VdiskInfo.ParentLink> link = info.parent();
        while (link.isPresent()) {
            if (ids.size() >= VdiskStore.CHAIN_DEPTH_MAX) {
                throw new IllegalStateException("clone chain of " + info.name() + " longer than " + VdiskStore.CHAIN_DEPTH_MAX);
            }
            ids.add(link.get().vdiskId());
            epochs.add(link.get().epoch());
            link = descriptor(link.get().vdiskId()).parent();
        }
        return new VdiskState(info, ids.stream().mapToLong(Long::longValue).toArray(), epochs.stream().mapToLong(Long::longValue).toArray(),
                Fences.load(db, id), Replicas.load(db, id));
    }

    // ---- descriptors and snapshots ----

    List<VdiskInfo> descriptors() {
        List<VdiskInfo> out = new ArrayList<>();
        try (RocksIterator it = db.db.newIterator(db.meta, db.scanReadOptions)) {
            byte[] prefix = {'V'};
            for (it.seek(prefix); it.isValid() && Keys.hasPrefix(it.key(), prefix); it.next()) {
                out.add(DescriptorCodec.decodeVdisk(it.value()));
            }
        }
        return out;
    }

    private VdiskInfo descriptor(long id) {
        try {
            byte[] bytes = db.db.get(db.meta, Keys.meta('V', id));
            if (bytes == null) {
                throw new IllegalStateException("vdisk id " + id + " has no descriptor");
            }
            return DescriptorCodec.decodeVdisk(bytes);
        } catch (RocksDBException e) {
            throw storeError("read descriptor " + id, e);
        }
    }

    void putDescriptor(VdiskInfo info) {
        try (WriteBatch batch = new WriteBatch()) {
            batch.put(db.meta, Keys.meta('V', info.id()), DescriptorCodec.encode(info));
            writeSync(batch);
        } catch (RocksDBException e) {
            throw storeError("update " + info.name(), e);
        }
    }

    List<SnapshotInfo> snapshotsOf(long id) {
        List<SnapshotInfo> out = new ArrayList<>();
        byte[] prefix = Keys.meta('S', id);
        try (RocksIterator it = db.db.newIterator(db.meta, db.scanReadOptions)) {
            for (it.seek(prefix); it.isValid() && Keys.hasPrefix(it.key(), prefix); it.next()) {
                out.add(DescriptorCodec.decodeSnapshot(it.value()));
            }
        }
        return out;
    }

    Optional<SnapshotInfo> findSnapshot(long id, String snapName) {
        return snapshotsOf(id).stream().filter(s -> s.name().equals(snapName)).findFirst();
    }

    SnapshotInfo snapshot(String vdiskName, String snapName) {
        VdiskState st = stateByName(vdiskName);
        return findSnapshot(st.id, snapName).orElseThrow(() -> new StoreException("no snapshot " + vdiskName + "@" + snapName));
    }

    // ---- ids and names ----

    long nextId() {
        try {
            byte[] next = db.db.get(db.meta, Keys.meta('I'));
            return next == null ? 1 : Keys.getLong(next, 0);
        } catch (RocksDBException e) {
            throw storeError("allocate vdisk id", e);
        }
    }

    void checkNameFree(String name) {
        if (lookupId(name).isPresent()) {
            throw new StoreException("vdisk " + name + " already exists");
        }
    }

    static void checkName(String what, String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(what + ": '" + name + "' (expected: 1-128 of A-Z a-z 0-9 . _ -, starting with a letter or digit)");
        }
    }

    // ---- writes ----

    /** Writes {@code batch} fsync'd; refused naming why while the store is read-only. */
    void writeSync(WriteBatch batch) throws RocksDBException {
        if (db.readOnlyReason != null) {
            throw new StoreException("store " + dir + ": " + db.readOnlyReason);
        }
        if (batch.count() > 0) {
            db.db.write(db.syncWriteOptions(), batch);
        }
    }

    static StoreException storeError(String what, RocksDBException e) {
        return new StoreException(what + " failed: " + e.getMessage(), e);
    }
}
