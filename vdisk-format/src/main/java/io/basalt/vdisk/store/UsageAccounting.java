package io.basalt.vdisk.store;

import java.util.ArrayList;
import java.util.List;

import org.rocksdb.RocksIterator;

import io.basalt.vdisk.frame.BlockFrame;

/** How much of a vdisk is provisioned and stored: one scan of its block keys. */
final class UsageAccounting {
    private final Catalog catalog;
    private final StoreDb db;

    UsageAccounting(Catalog catalog) {
        this.catalog = catalog;
        this.db = catalog.db();
    }

    Usage usage(String name) {
        VdiskState st = catalog.stateByName(name);
        VdiskInfo v = st.info();
        long used = 0;
        long stored = 0;
        long versions = 0;
        long lastGrain = -1;
        byte[] prefix = Keys.vdiskPrefix(st.id);
        try (RocksIterator it = db.db.newIterator(db.blocks, db.scanReadOptions)) {
            for (it.seek(prefix); it.isValid() && Keys.hasPrefix(it.key(), prefix); it.next()) {
                byte[] key = it.key();
                byte[] value = it.value();
                stored += value.length == BlockFrame.EXTENT_FRAME_BYTES && BlockFrame.kind(value) == BlockFrame.Kind.EXTENT
                        ? BlockFrame.extentLength(value) : value.length;
                versions++;
                long grain = Keys.blockGrain(key);
                if (grain != lastGrain) {
                    // The first key of a grain is its newest version: the one the head sees.
                    lastGrain = grain;
                    if (BlockFrame.isMapped(value)) {
                        used += v.grainSizeBytes();
                    }
                }
            }
        }
        return new Usage(v.sizeBytes(), used, stored, versions);
    }

    /** Every stored version of a vdisk as "grain@epoch:kind", for diagnostics and tests. */
    List<String> versions(String name) {
        VdiskState st = catalog.stateByName(name);
        List<String> out = new ArrayList<>();
        byte[] prefix = Keys.vdiskPrefix(st.id);
        try (RocksIterator it = db.db.newIterator(db.blocks, db.scanReadOptions)) {
            for (it.seek(prefix); it.isValid() && Keys.hasPrefix(it.key(), prefix); it.next()) {
                out.add(Keys.blockGrain(it.key()) + "@" + Keys.blockEpoch(it.key()) + ":" + BlockFrame.kind(it.value()));
            }
        }
        return out;
    }
}
