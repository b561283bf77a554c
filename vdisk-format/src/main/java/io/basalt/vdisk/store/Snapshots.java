package io.basalt.vdisk.store;

import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.function.Consumer;

import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;

import io.basalt.vdisk.frame.BlockFrame;

/**
 * Snapshots of a vdisk: taking one (O(1): the head epoch is frozen and a new one starts),
 * listing, removing (its versions go to {@link SnapshotGc}) and rolling the head back to one.
 * Every change runs under the catalog's lock; those that move the head epoch or rewrite the
 * head also hold the vdisk's state lock exclusively, so no write lands half before and half
 * after them.
 */
final class Snapshots {
    private static final byte[] EMPTY = new byte[0];

    private final Catalog catalog;
    private final StoreDb db;
    private final InstantSource clock;
    private final SnapshotGc gc;
    /** Starts the background collection of what a removal queued ({@link GcWorker#wake}). */
    private final Runnable collectInBackground;
    /** Throws NO_SPACE naming its argument while the free space is below the reserve. */
    private final Consumer<String> spaceCheck;

    Snapshots(Catalog catalog, InstantSource clock, SnapshotGc gc, Runnable collectInBackground, Consumer<String> spaceCheck) {
        this.catalog = catalog;
        this.db = catalog.db();
        this.clock = clock;
        this.gc = gc;
        this.collectInBackground = collectInBackground;
        this.spaceCheck = spaceCheck;
    }

    /** Freezes the head epoch as snapshot {@code snapName} and starts a new head epoch: O(1). */
    SnapshotInfo create(String vdiskName, String snapName) {
        return create(vdiskName, snapName, null);
    }

    /**
     * {@link #create(String, String)}, storing {@code replicaRecord} (when not null) in the same
     * batch: a mirror applier's snapshot and the record of what it applied are durable together.
     */
    SnapshotInfo create(String vdiskName, String snapName, byte[] replicaRecord) {
        Catalog.checkName("snapshot name", snapName);
        synchronized (catalog.lock) {
            VdiskState st = catalog.stateByName(vdiskName);
            if (catalog.findSnapshot(st.id, snapName).isPresent()) {
                throw new StoreException("snapshot " + vdiskName + "@" + snapName + " already exists");
            }
            long stamp = st.lock.writeLock();
            try {
                VdiskInfo v = st.info();
                SnapshotInfo snap = new SnapshotInfo(v.id(), snapName, v.headEpoch(), v.sizeBytes(), clock.millis());
                VdiskInfo advanced = v.withHeadEpoch(v.headEpoch() + 1);
                try (WriteBatch batch = new WriteBatch()) {
                    batch.put(db.meta, Keys.meta('S', v.id(), snap.epoch()), DescriptorCodec.encode(snap));
                    batch.put(db.meta, Keys.meta('V', v.id()), DescriptorCodec.encode(advanced));
                    if (replicaRecord != null) {
                        Replicas.put(batch, db, v.id(), replicaRecord);
                    }
                    catalog.writeSync(batch);
                } catch (RocksDBException e) {
                    throw Catalog.storeError("snapshot " + vdiskName + "@" + snapName, e);
                }
                st.info(advanced);
                if (replicaRecord != null) {
                    st.replicaRecord(replicaRecord);
                }
                return snap;
            } finally {
                st.lock.unlockWrite(stamp);
            }
        }
    }

    List<SnapshotInfo> list(String vdiskName) {
        return catalog.snapshotsOf(catalog.stateByName(vdiskName).id);
    }

    /** Names of clones made from snapshot {@code snapName}. */
    List<String> children(String vdiskName, String snapName) {
        SnapshotInfo snap = catalog.snapshot(vdiskName, snapName);
        List<String> names = new ArrayList<>();
        byte[] prefix = Keys.meta('C', snap.vdiskId(), snap.epoch());
        try (RocksIterator it = db.db.newIterator(db.meta, db.scanReadOptions)) {
            for (it.seek(prefix); it.isValid() && Keys.hasPrefix(it.key(), prefix); it.next()) {
                long childId = Keys.getLong(it.key(), 17);
                names.add(catalog.state(childId).info().name());
            }
        }
        return names;
    }

    /**
     * Deletes a snapshot from the catalog and queues the collection of the versions no other
     * snapshot nor the head can see ({@link SnapshotGc}, run in the background by
     * {@link GcWorker}): O(1), one fsync'd batch that deletes the snapshot's record and adds its
     * 'G' key, so a crash before the collection ends resumes it at the next open. Refused while
     * the snapshot has clones or open handles.
     */
    void remove(String vdiskName, String snapName) {
        synchronized (catalog.lock) {
            removeAll(vdiskName, List.of(catalog.snapshot(vdiskName, snapName)));
        }
    }

    /**
     * Removes every snapshot of a vdisk in one batch (their collections queued newest first);
     * refused, removing none, when one of them has clones or open handles.
     */
    int purge(String vdiskName) {
        synchronized (catalog.lock) {
            List<SnapshotInfo> snaps = new ArrayList<>(list(vdiskName));
            snaps.sort((a, b) -> Long.compare(b.epoch(), a.epoch()));
            removeAll(vdiskName, snaps);
            return snaps.size();
        }
    }

    private void removeAll(String vdiskName, List<SnapshotInfo> snaps) {
        VdiskState st = catalog.stateByName(vdiskName);
        for (SnapshotInfo snap : snaps) {
            List<String> clones = children(vdiskName, snap.name());
            if (!clones.isEmpty()) {
                throw new StoreException("snapshot " + vdiskName + "@" + snap.name() + " has " + clones.size() + " clones ("
                        + String.join(", ", clones) + "); flatten or remove them first");
            }
            int handles = st.openSnapshotHandles(snap.epoch());
            if (handles > 0) {
                throw new StoreException("snapshot " + vdiskName + "@" + snap.name() + " is open (" + handles + " handles)");
            }
        }
        if (snaps.isEmpty()) {
            return;
        }
        try (WriteBatch batch = new WriteBatch()) {
            for (SnapshotInfo snap : snaps) {
                batch.delete(db.meta, Keys.meta('S', st.id, snap.epoch()));
                gc.enqueue(batch, st.id, snap.epoch());
            }
            catalog.writeSync(batch);
        } catch (RocksDBException e) {
            throw Catalog.storeError("remove snapshot" + (snaps.size() == 1 ? " " : "s ") + vdiskName + "@"
                    + String.join(",", snaps.stream().map(SnapshotInfo::name).toList()), e);
        }
        collectInBackground.run();
    }

    /**
     * Makes the head read exactly as snapshot {@code snapName} (and take its size). Costs
     * O(grains changed since the snapshot). Later snapshots are kept.
     */
    void rollback(String vdiskName, String snapName) {
        synchronized (catalog.lock) {
            VdiskState st = catalog.stateByName(vdiskName);
            SnapshotInfo snap = catalog.snapshot(vdiskName, snapName);
            long stamp = st.lock.writeLock();
            try {
                VdiskInfo v = st.info();
                boolean newerSnapshots = catalog.snapshotsOf(st.id).stream().anyMatch(s -> s.epoch() > snap.epoch());
                TreeSet<Long> grains = GrainIndex.changedGrains(db, st.id, snap.epoch(), v.headEpoch());
                if (newerSnapshots) {
                    // Copies what the snapshot sees to the head; without later snapshots a
                    // rollback only deletes, which frees space, so it is never refused.
                    spaceCheck.accept("rollback of vdisk " + vdiskName + " to " + snapName + " (later snapshots are kept, so changed grains are copied)");
                    rollbackKeepingNewer(st, v, snap, grains);
                } else {
                    rollbackDiscarding(st, v, snap);
                }
                VdiskInfo rolled = v.withSize(snap.sizeBytes());
                catalog.putDescriptor(rolled);
                st.info(rolled);
            } finally {
                st.lock.unlockWrite(stamp);
            }
        }
    }

    /** No later snapshot: every version above the snapshot's epoch is seen by the head only. */
    private void rollbackDiscarding(VdiskState st, VdiskInfo v, SnapshotInfo snap) {
        try (WriteBatch batch = new WriteBatch();
             RocksIterator it = db.db.newIterator(db.changes, db.scanReadOptions)) {
            byte[] end = Keys.changeEpochStart(st.id, v.headEpoch() + 1);
            for (it.seek(Keys.changeEpochStart(st.id, snap.epoch() + 1)); it.isValid() && java.util.Arrays.compareUnsigned(it.key(), end) < 0; it.next()) {
                long epoch = Keys.changeEpoch(it.key());
                long grain = Keys.changeGrain(it.key());
                batch.delete(db.blocks, Keys.block(st.id, grain, epoch));
                batch.delete(db.changes, it.key());
            }
            catalog.writeSync(batch);
        } catch (RocksDBException e) {
            throw Catalog.storeError("rollback " + v.name(), e);
        }
    }

    /** Later snapshots exist: write at head a copy of what the snapshot sees (or a tombstone). */
    private void rollbackKeepingNewer(VdiskState st, VdiskInfo v, SnapshotInfo snap, TreeSet<Long> grains) {
        long head = v.headEpoch();
        try (ChainReader atSnap = st.reader(db, snap.epoch());
             ChainReader belowHead = st.reader(db, head - 1)) {
            WriteBatch batch = new WriteBatch();
            try {
                for (long g : grains) {
                    batch.delete(db.blocks, Keys.block(st.id, g, head));
                    batch.delete(db.changes, Keys.change(st.id, head, g));
                    ChainReader.Located want = atSnap.locate(g);
                    ChainReader.Located have = belowHead.locate(g);
                    if (!sameVersion(want, have)) {
                        batch.put(db.blocks, Keys.block(st.id, g, head), want == null ? BlockFrame.tombstone() : want.frame());
                        batch.put(db.changes, Keys.change(st.id, head, g), EMPTY);
                    }
                    if (batch.count() >= VdiskStore.GC_BATCH_OPS_MAX) {
                        catalog.writeSync(batch);
                        batch.close();
                        batch = new WriteBatch();
                    }
                }
                catalog.writeSync(batch);
            } finally {
                batch.close();
            }
        } catch (RocksDBException e) {
            throw Catalog.storeError("rollback " + v.name(), e);
        }
    }

    private static boolean sameVersion(ChainReader.Located a, ChainReader.Located b) {
        if (a == null || b == null) {
            return a == b;
        }
        return a.vdiskId() == b.vdiskId() && a.epoch() == b.epoch();
    }
}
