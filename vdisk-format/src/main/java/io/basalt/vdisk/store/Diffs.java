package io.basalt.vdisk.store;

import java.util.ArrayList;
import java.util.List;

import io.basalt.vdisk.frame.BlockFrame;

/**
 * What changed between two points of a vdisk (snapshots or the head), from the change index:
 * O(changed grains), whatever the size of the vdisk.
 */
final class Diffs {
    private final Catalog catalog;
    private final StoreDb db;

    Diffs(Catalog catalog) {
        this.catalog = catalog;
        this.db = catalog.db();
    }

    /**
     * The extents that changed between {@code fromSnap} (exclusive; null for the beginning) and
     * {@code toSnap} (null for the head). For a clone, "the beginning" means the clone's
     * creation: data it reads from its parent is not listed.
     */
    List<Extent> diff(String vdiskName, String fromSnap, String toSnap) {
        VdiskState st = catalog.stateByName(vdiskName);
        VdiskInfo v = st.info();
        long fromEpoch = fromSnap == null ? -1 : catalog.snapshot(vdiskName, fromSnap).epoch();
        SnapshotInfo to = toSnap == null ? null : catalog.snapshot(vdiskName, toSnap);
        long toEpoch = to == null ? v.headEpoch() : to.epoch();
        long sizeBytes = to == null ? v.sizeBytes() : to.sizeBytes();
        if (fromEpoch >= toEpoch) {
            throw new StoreException("diff from " + vdiskName + "@" + fromSnap + " (epoch " + fromEpoch + ") to "
                    + (toSnap == null ? vdiskName : vdiskName + "@" + toSnap) + " (epoch " + toEpoch + "): expected the first to be older");
        }
        List<Extent> out = new ArrayList<>();
        int grainSize = v.grainSizeBytes();
        try (ChainReader reader = st.reader(db, toEpoch)) {
            for (long g : GrainIndex.changedGrains(db, st.id, fromEpoch, toEpoch)) {
                long offset = g * grainSize;
                if (offset >= sizeBytes) {
                    break;
                }
                ChainReader.Located loc = reader.locate(g);
                boolean data = loc != null && BlockFrame.kind(loc.frame()) != BlockFrame.Kind.TOMBSTONE
                        && BlockFrame.kind(loc.frame()) != BlockFrame.Kind.ZEROS;
                appendMerging(out, new Extent(offset, Math.min(grainSize, sizeBytes - offset), data));
            }
        }
        return out;
    }

    /** Adds {@code next} to {@code out}, as a longer last extent when it continues it with the same kind. */
    private static void appendMerging(List<Extent> out, Extent next) {
        Extent last = out.isEmpty() ? null : out.get(out.size() - 1);
        if (last != null && last.data() == next.data() && last.offsetBytes() + last.lengthBytes() == next.offsetBytes()) {
            out.set(out.size() - 1, new Extent(last.offsetBytes(), last.lengthBytes() + next.lengthBytes(), next.data()));
        } else {
            out.add(next);
        }
    }
}
