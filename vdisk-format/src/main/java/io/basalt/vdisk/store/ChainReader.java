package io.basalt.vdisk.store;

import org.rocksdb.RocksIterator;
import org.rocksdb.RocksDBException;


/**
 * Floor-seeks grains through a clone chain: level 0 is the vdisk itself read at some epoch,
 * level i > 0 its i-th ancestor read at the epoch of the snapshot the clone was made from. A
 * grain absent at every level reads as zeros. Opens one RocksDB iterator per level on first use,
 * so a multi-grain request pays for iterator creation once. Not thread-safe; close it.
 */
final class ChainReader implements AutoCloseable {

    /** The version of a grain a reader sees. */
    record Located(int level, long vdiskId, long epoch, byte[] frame) {}

    private final StoreDb store;
    private final long[] ids;
    private final long[] epochs;
    private final RocksIterator[] iterators;
    private final org.rocksdb.ReadOptions options;

    ChainReader(StoreDb store, long[] ids, long[] epochs) {
        this(store, ids, epochs, store.grainReadOptions);
    }

    /** With {@code options} for every lookup (a {@link StoreDb.ReadView}'s, to read at one point in time). */
    ChainReader(StoreDb store, long[] ids, long[] epochs, org.rocksdb.ReadOptions options) {
        if (ids.length != epochs.length || ids.length == 0) {
            throw new IllegalArgumentException("chain: " + ids.length + " ids, " + epochs.length + " epochs (expected: equal, > 0)");
        }
        this.store = store;
        this.ids = ids;
        this.epochs = epochs;
        this.iterators = new RocksIterator[ids.length];
        this.options = options;
    }

    long epochAt(int level) {
        return epochs[level];
    }

    int levels() {
        return ids.length;
    }

    /** The version of {@code grain} visible from level 0, or null when no level has one. */
    Located locate(long grain) {
        for (int level = 0; level < ids.length; level++) {
            Located found = floor(level, grain, epochs[level]);
            if (found != null) {
                return found;
            }
        }
        return null;
    }

    /**
     * Like {@link #locate} but tries a point lookup of the level-0 version at exactly the read
     * epoch first: a RocksDB get stops at the first level that holds the key and skips the others
     * by bloom filter, while a seek must position an iterator in every level. Grains written in
     * the current epoch (all of them, until the first snapshot) are found that way.
     */
    Located locateFast(long grain) {
        try {
            byte[] frame = store.db.get(store.blocks, options, Keys.block(ids[0], grain, epochs[0]));
            if (frame != null) {
                return new Located(0, ids[0], epochs[0], frame);
            }
        } catch (RocksDBException e) {
            throw StoreErrors.blockDevice("block store read failed", e);
        }
        return locate(grain);
    }

    /** The newest version of {@code grain} at {@code level} with epoch at or below {@code epoch}. */
    Located floor(int level, long grain, long epoch) {
        RocksIterator it = iterator(level);
        it.seek(Keys.block(ids[level], grain, epoch));
        if (!it.isValid()) {
            checkStatus(it);
            return null;
        }
        byte[] key = it.key();
        if (!Keys.sameGrain(key, ids[level], grain)) {
            return null;
        }
        return new Located(level, ids[level], Keys.blockEpoch(key), it.value());
    }

    /** The next older version after {@code found} at the same level and grain, or null. */
    Located olderThan(Located found, long grain) {
        if (found.epoch() == 0) {
            return null;
        }
        return floor(found.level(), grain, found.epoch() - 1);
    }

    private RocksIterator iterator(int level) {
        RocksIterator it = iterators[level];
        if (it == null) {
            it = store.db.newIterator(store.blocks, options);
            iterators[level] = it;
        }
        return it;
    }

    private static void checkStatus(RocksIterator it) {
        try {
            it.status();
        } catch (RocksDBException e) {
            throw StoreErrors.blockDevice("block store read failed", e);
        }
    }

    @Override
    public void close() {
        for (RocksIterator it : iterators) {
            if (it != null) {
                it.close();
            }
        }
    }
}
