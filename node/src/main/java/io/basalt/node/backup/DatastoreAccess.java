package io.basalt.node.backup;

import java.util.List;

import io.basalt.node.datastore.Datastore;
import io.basalt.backup.VdiskAccess;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.Extent;
import io.basalt.vdisk.store.SnapshotInfo;

/** A {@link Datastore} (the embedded store or a cluster) as the backup module's {@link VdiskAccess}: backups work on both. */
public record DatastoreAccess(Datastore store) implements VdiskAccess {
    private static Vdisk view(Datastore.VdiskView v) {
        return new Vdisk(v.id(), v.name(), v.sizeBytes(), v.blockSizeBytes(), v.grainSizeBytes());
    }

    @Override public Vdisk info(String name) { return view(store.info(name)); }
    @Override public boolean exists(String name) { return store.list().stream().anyMatch(v -> v.name().equals(name)); }
    @Override public Vdisk create(String name, long size, int bs, int grain) { return view(store.create(name, size, bs, grain)); }
    @Override public void remove(String name) { store.remove(name); }
    @Override public List<String> snapshots(String vdisk) { return store.snapshots(vdisk).stream().map(SnapshotInfo::name).toList(); }
    @Override public void createSnapshot(String vdisk, String snap) { store.createSnapshot(vdisk, snap); }
    @Override public void removeSnapshot(String vdisk, String snap) { store.removeSnapshot(vdisk, snap); }
    @Override public List<Extent> diff(String vdisk, String from, String to) { return store.diff(vdisk, from, to); }
    @Override public BlockDevice open(String spec) { return store.open(spec); }
}
