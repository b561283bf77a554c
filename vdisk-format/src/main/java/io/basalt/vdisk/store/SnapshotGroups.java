package io.basalt.vdisk.store;

import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;

import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * A snapshot of several vdisks at one instant (a consistency group: one VM's disks, mirrored
 * together). Every member's state lock is held exclusively at once, so each write to any member
 * lands wholly before or wholly after the group's instant; the snapshots and the advanced head
 * epochs go to disk in one batch, so after a crash all of them are there or none.
 */
final class SnapshotGroups {
    private final Catalog catalog;
    private final InstantSource clock;

    SnapshotGroups(Catalog catalog, InstantSource clock) {
        this.catalog = catalog;
        this.clock = clock;
    }

    /** Snapshot {@code snapName} of every vdisk of {@code vdiskNames} at one instant, in the order given. */
    List<SnapshotInfo> create(List<String> vdiskNames, String snapName) {
        Catalog.checkName("snapshot name", snapName);
        if (vdiskNames.isEmpty() || new HashSet<>(vdiskNames).size() != vdiskNames.size()) {
            throw new IllegalArgumentException("vdisks: " + vdiskNames + " (expected: at least one, each once)");
        }
        synchronized (catalog.lock) {
            List<VdiskState> states = new ArrayList<>();
            for (String name : vdiskNames) {
                VdiskState st = catalog.stateByName(name);
                if (catalog.findSnapshot(st.id, snapName).isPresent()) {
                    throw new StoreException("snapshot " + name + "@" + snapName + " already exists");
                }
                states.add(st);
            }
            // Writers take one state lock at a time, so any order is deadlock-free; by id keeps it plain.
            List<VdiskState> locking = states.stream().sorted(Comparator.comparingLong(s -> s.id)).toList();
            long[] stamps = new long[locking.size()];
            int held = 0;
            try {
                for (; held < locking.size(); held++) {
                    stamps[held] = locking.get(held).lock.writeLock();
                }
                return snapshotLocked(states, snapName);
            } finally {
                for (int i = held - 1; i >= 0; i--) {
                    locking.get(i).lock.unlockWrite(stamps[i]);
                }
            }
        }
    }

    private List<SnapshotInfo> snapshotLocked(List<VdiskState> states, String snapName) {
        long now = clock.millis();
        List<SnapshotInfo> snaps = new ArrayList<>();
        List<VdiskInfo> advanced = new ArrayList<>();
        try (WriteBatch batch = new WriteBatch()) {
            for (VdiskState st : states) {
                VdiskInfo v = st.info();
                SnapshotInfo snap = new SnapshotInfo(v.id(), snapName, v.headEpoch(), v.sizeBytes(), now);
                VdiskInfo next = v.withHeadEpoch(v.headEpoch() + 1);
                batch.put(catalog.db().meta, Keys.meta('S', v.id(), snap.epoch()), DescriptorCodec.encode(snap));
                batch.put(catalog.db().meta, Keys.meta('V', v.id()), DescriptorCodec.encode(next));
                snaps.add(snap);
                advanced.add(next);
            }
            catalog.writeSync(batch);
        } catch (RocksDBException e) {
            throw Catalog.storeError("snapshot " + snapName + " of " + states.size() + " vdisks", e);
        }
        for (int i = 0; i < states.size(); i++) {
            states.get(i).info(advanced.get(i));
        }
        return snaps;
    }
}
