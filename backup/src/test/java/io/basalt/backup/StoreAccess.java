package io.basalt.backup;

import java.nio.ByteBuffer;
import java.util.List;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.Extent;
import io.basalt.vdisk.store.SnapshotInfo;
import io.basalt.vdisk.store.VdiskInfo;
import io.basalt.vdisk.store.VdiskStore;

/** The embedded engine as {@link VdiskAccess}, for tests (the node adapts its Datastore the same way), and helpers to write and read. */
record StoreAccess(VdiskStore store) implements VdiskAccess {
    private static Vdisk view(VdiskInfo v) {
        return new Vdisk(v.id(), v.name(), v.sizeBytes(), v.blockSizeBytes(), v.grainSizeBytes());
    }

    @Override public Vdisk info(String name) { return view(store.info(name)); }
    @Override public boolean exists(String name) { return store.exists(name); }
    @Override public Vdisk create(String name, long size, int bs, int grain) { return view(store.create(name, size, bs, grain)); }
    @Override public void remove(String name) { store.remove(name); }
    @Override public List<String> snapshots(String vdisk) { return store.snapshots(vdisk).stream().map(SnapshotInfo::name).toList(); }
    @Override public void createSnapshot(String vdisk, String snap) { store.createSnapshot(vdisk, snap); }
    @Override public void removeSnapshot(String vdisk, String snap) { store.removeSnapshot(vdisk, snap); }
    @Override public List<Extent> diff(String vdisk, String from, String to) { return store.diff(vdisk, from, to); }
    @Override public BlockDevice open(String spec) { return store.open(spec); }

    void write(String vdisk, long offsetBytes, byte[] data) {
        try (BlockDevice d = store.open(vdisk)) {
            d.write(offsetBytes / d.logicalBlockSizeBytes(), ByteBuffer.wrap(data), false).join();
        }
    }

    byte[] readAll(String spec) {
        try (BlockDevice d = store.open(spec)) {
            return readAll(d);
        }
    }

    static byte[] readAll(BlockDevice d) {
        byte[] out = new byte[Math.toIntExact(d.sizeBytes())];
        int step = 1 << 20;
        for (int at = 0; at < out.length; at += step) {
            int n = Math.min(step, out.length - at);
            ByteBuffer b = d.read(at / d.logicalBlockSizeBytes(), n / d.logicalBlockSizeBytes()).join();
            b.get(b.position(), out, at, n);
        }
        return out;
    }
}
