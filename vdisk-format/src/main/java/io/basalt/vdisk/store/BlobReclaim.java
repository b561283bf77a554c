package io.basalt.vdisk.store;

import org.rocksdb.CompactRangeOptions;
import org.rocksdb.FlushOptions;
import org.rocksdb.MutableColumnFamilyOptions;
import org.rocksdb.RocksDBException;

/**
 * Gives back the blob-file space of a large-grain vdisk once the snapshot collector has deleted
 * its unseen versions ({@link GcWorker} calls it when the queue is empty). Without it that space
 * did not come back by itself (measured: docs/decisions/engine-big-writes.md, "Space after random
 * overwrites"): the collector's deletions sat in a memtable that never filled, no compaction met
 * them, and RocksDB's blob GC with its age cutoff only ever rewrites the oldest blob files, while
 * random overwrites leave garbage in young ones too.
 *
 * <p>Two steps, both RocksDB's own compactions of the vdisk's key range (crash consistency is
 * RocksDB's: new files are synced before the manifest names them, old ones deleted after):
 * <ol>
 * <li>flush (every column family: {@link #flushAll}) and compact the range, so the deletions meet the versions
 * they delete. The tables of a large-grain vdisk hold keys and blob pointers only (a few MB per
 * GiB), so this is cheap; blob files no table points into any more are deleted, and RocksDB now
 * knows how much of each remaining blob file is garbage;</li>
 * <li>only when more than {@link #RELOCATE_GARBAGE_RATIO_MIN} of the store's blob bytes are
 * garbage: compact the range again with blob GC over every blob file (age cutoff 1.0 for that
 * compaction), which rewrites the vdisk's live values into new blob files and frees the old ones.
 * The threshold bounds the cost: that rewrite happens only when at least a fifth of the blob
 * bytes come back, so a removal that freed little (the daily snapshot of a backup) costs only
 * step 1.</li>
 * </ol>
 * Vdisks of small grains (values inline in the tables) are left to RocksDB's own compaction: a
 * range compaction would rewrite their data.
 */
final class BlobReclaim {
    private static final System.Logger LOG = System.getLogger(BlobReclaim.class.getName());
    /** Garbage fraction of the blob files above which step 2 (relocating live values) runs. */
    static final double RELOCATE_GARBAGE_RATIO_MIN = 0.2;

    private final StoreDb db;
    private final Catalog catalog;
    private final Object lock = new Object();
    /** The compaction under way, so {@link #cancel} can stop it; null between compactions. */
    private CompactRangeOptions running;
    private boolean canceled;

    BlobReclaim(StoreDb db, Catalog catalog) {
        this.db = db;
        this.catalog = catalog;
    }

    /** True when vdisk {@code vdiskId}'s grains go to blob files (false when it is gone). */
    boolean appliesTo(long vdiskId) {
        if (StoreDb.BLOB_VALUE_BYTES_MIN == 0) {
            return false;
        }
        try {
            return catalog.state(vdiskId).info().grainSizeBytes() >= StoreDb.BLOB_VALUE_BYTES_MIN;
        } catch (RuntimeException removed) {
            return false;
        }
    }

    /**
     * Flushes every column family, for any vdisk collected: the collector's deletions reach the
     * table files, where compactions meet them, and the write-ahead logs they and the small
     * column families' memtables held are deleted (measured: 130 MiB of logs left after a
     * 512 MiB disk was written three times over, kept alive by a few KB of catalog entries).
     */
    void flushAll() throws RocksDBException {
        try (FlushOptions wait = new FlushOptions().setWaitForFlush(true)) {
            db.db.flush(wait, java.util.List.of(db.meta, db.blocks, db.changes));
        }
        db.extents.requestReclaim(); // the collection dropped pointers: extent files may have died

    }

    /** Steps 1 and 2 (see the class) for vdisk {@code vdiskId}, after {@link #flushAll}; returns early once {@link #cancel}led. */
    void reclaim(long vdiskId) throws RocksDBException {
        byte[] begin = Keys.vdiskPrefix(vdiskId);
        byte[] end = Keys.vdiskPrefix(vdiskId + 1);
        if (!compact(begin, end, CompactRangeOptions.BottommostLevelCompaction.kIfHaveCompactionFilter)) {
            return;
        }
        long total = db.db.getLongProperty(db.blocks, "rocksdb.live-blob-file-size");
        long garbage = db.db.getLongProperty(db.blocks, "rocksdb.live-blob-file-garbage-size");
        if (total == 0 || (double) garbage / total <= RELOCATE_GARBAGE_RATIO_MIN) {
            return;
        }
        LOG.log(System.Logger.Level.INFO, "vdisk id {0}: {1} of {2} blob bytes are garbage; rewriting its live values", vdiskId, garbage, total);
        db.db.setOptions(db.blocks, MutableColumnFamilyOptions.builder()
                .setEnableBlobGarbageCollection(true)
                .setBlobGarbageCollectionAgeCutoff(1.0)
                .build());
        try {
            compact(begin, end, CompactRangeOptions.BottommostLevelCompaction.kForce);
        } finally {
            db.db.setOptions(db.blocks, MutableColumnFamilyOptions.builder()
                    .setEnableBlobGarbageCollection(StoreDb.BLOB_GC_AGE_CUTOFF > 0)
                    .setBlobGarbageCollectionAgeCutoff(StoreDb.BLOB_GC_AGE_CUTOFF)
                    .build());
        }
    }

    /** Compacts {@code [begin, end)} of the block column family; false when canceled (before or during). */
    private boolean compact(byte[] begin, byte[] end, CompactRangeOptions.BottommostLevelCompaction bottommost) throws RocksDBException {
        try (CompactRangeOptions options = new CompactRangeOptions().setBottommostLevelCompaction(bottommost)
                .setExclusiveManualCompaction(false)) {
            synchronized (lock) {
                if (canceled) {
                    return false;
                }
                running = options;
            }
            try {
                db.db.compactRange(db.blocks, begin, end, options);
            } catch (RocksDBException e) {
                synchronized (lock) {
                    if (canceled) {
                        return false; // the store is closing: what is left waits for the next collection
                    }
                }
                throw e;
            } finally {
                synchronized (lock) {
                    running = null;
                }
            }
            synchronized (lock) {
                return !canceled;
            }
        }
    }

    /** Stops the compaction under way, if any, and every later one (the store is closing). */
    void cancel() {
        synchronized (lock) {
            canceled = true;
            if (running != null) {
                running.setCanceled(true);
            }
        }
    }
}
