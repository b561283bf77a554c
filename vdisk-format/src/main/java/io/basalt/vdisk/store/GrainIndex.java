package io.basalt.vdisk.store;

import java.util.Arrays;
import java.util.TreeSet;

import org.rocksdb.RocksIterator;

/**
 * Which grains have versions: in a grain range through a clone chain (the block keys), or
 * between two epochs (the change index). Scans only; the caller bounds the range.
 */
final class GrainIndex {
    private GrainIndex() {}

    /** Sorted distinct grains of {@code [first, last]} that the vdisk or an ancestor has any version of. */
    static long[] grainsPresent(StoreDb db, VdiskState st, long first, long last) {
        return present(db, st.chainIds(), first, last);
    }

    /** Like {@link #grainsPresent}, at the vdisk's ancestors only. */
    static long[] ancestorsPresent(StoreDb db, VdiskState st, long first, long last) {
        long[] ids = st.chainIds();
        return present(db, Arrays.copyOfRange(ids, 1, ids.length), first, last);
    }

    /** Sorted distinct grains with a version in epochs {@code (fromExclusive, toInclusive]}. */
    static TreeSet<Long> changedGrains(StoreDb db, long id, long fromExclusive, long toInclusive) {
        TreeSet<Long> grains = new TreeSet<>();
        byte[] end = Keys.changeEpochStart(id, toInclusive + 1);
        try (RocksIterator it = db.db.newIterator(db.changes, db.scanReadOptions)) {
            for (it.seek(Keys.changeEpochStart(id, fromExclusive + 1)); it.isValid() && Arrays.compareUnsigned(it.key(), end) < 0; it.next()) {
                grains.add(Keys.changeGrain(it.key()));
            }
        }
        return grains;
    }

    private static long[] present(StoreDb db, long[] ids, long first, long last) {
        TreeSet<Long> grains = new TreeSet<>();
        try (RocksIterator it = db.db.newIterator(db.blocks, db.scanReadOptions)) {
            for (long id : ids) {
                // Step with next(): a grain has few versions, and a seek costs a positioning in
                // every LSM level while next() is a merge step.
                long previous = Long.MIN_VALUE;
                for (it.seek(Keys.grainStart(id, first)); it.isValid(); it.next()) {
                    byte[] key = it.key();
                    long grain = Keys.blockGrain(key);
                    if (Keys.blockVdisk(key) != id || grain > last) {
                        break;
                    }
                    if (grain != previous) {
                        grains.add(grain);
                        previous = grain;
                    }
                }
            }
        }
        return grains.stream().mapToLong(Long::longValue).toArray();
    }
}
