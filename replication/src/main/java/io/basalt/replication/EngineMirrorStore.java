package io.basalt.replication;

import java.util.List;
import java.util.Optional;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.Extent;
import io.basalt.vdisk.store.ReplicaWriter;
import io.basalt.vdisk.store.SnapshotInfo;
import io.basalt.vdisk.store.VdiskInfo;
import io.basalt.vdisk.store.VdiskStore;

/**
 * {@link MirrorStore} on the embedded engine: the replica mark is the engine's meta key (every
 * handle refuses writes), a replica's snapshot and record are committed in one fsync'd batch, and
 * a group snapshot is {@link VdiskStore#createSnapshots} (every member's state lock held at once).
 */
record EngineMirrorStore(VdiskStore store) implements MirrorStore {
    @Override public String describe() { return "the embedded store"; }
    @Override public boolean exists(String vdisk) { return store.exists(vdisk); }

    @Override
    public Shape info(String vdisk) {
        VdiskInfo v = store.info(vdisk);
        return new Shape(v.id(), v.sizeBytes(), v.blockSizeBytes(), v.grainSizeBytes());
    }

    @Override public List<String> names() { return store.list().stream().map(VdiskInfo::name).toList(); }
    @Override public List<SnapshotInfo> snapshots(String vdisk) { return store.snapshots(vdisk); }
    @Override public SnapshotInfo snapshot(String vdisk, String snap) { return store.snapshot(vdisk, snap); }
    @Override public boolean hasClones(String vdisk, String snap) { return !store.children(vdisk, snap).isEmpty(); }
    @Override public SnapshotInfo createSnapshot(String vdisk, String snap) { return store.createSnapshot(vdisk, snap); }
    @Override public void createSnapshots(List<String> vdisks, String snap) { store.createSnapshots(vdisks, snap); }
    @Override public void removeSnapshot(String vdisk, String snap) { store.removeSnapshot(vdisk, snap); }
    @Override public void rollback(String vdisk, String snap) { store.rollback(vdisk, snap); }
    @Override public List<Extent> diff(String vdisk, String from, String to) { return store.diff(vdisk, from, to); }
    @Override public BlockDevice openSnapshot(String vdisk, String snap) { return store.open(vdisk + "@" + snap); }
    @Override public Optional<byte[]> replicaRecord(String vdisk) { return store.replicaRecord(vdisk); }
    @Override public void markReplica(String vdisk, byte[] record) { store.markReplica(vdisk, record); }
    @Override public void unmarkReplica(String vdisk) { store.unmarkReplica(vdisk); }
    @Override public void remove(String vdisk) { store.remove(vdisk); }

    @Override
    public void createReplica(String vdisk, long sizeBytes, int blockSizeBytes, int grainSizeBytes, byte[] record) {
        store.createReplica(vdisk, sizeBytes, blockSizeBytes, grainSizeBytes, record);
    }

    @Override
    public Writer openReplicaWriter(String vdisk) {
        ReplicaWriter w = store.openReplicaWriter(vdisk);
        return new Writer() {
            @Override public BlockDevice head() { return w.head(); }
            @Override public void rollback(String snap) { w.rollback(snap); }
            @Override public void resize(long sizeBytes) { w.resize(sizeBytes); }
            @Override public SnapshotInfo commitSnapshot(String snap, byte[] record) { return w.commitSnapshot(snap, record); }
            @Override public void removeSnapshot(String snap) { w.removeSnapshot(snap); }
            @Override public void close() { w.close(); }
        };
    }
}
