package io.basalt.vdisk.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.rocksdb.RocksDBException;

/** Copies of a whole store (checkpoints) and its statistics: RocksDB's, plus the extent files'. */
final class StoreCopies {
    private StoreCopies() {}

    /**
     * Writes a consistent point-in-time copy of the whole store to {@code target} (which must not
     * exist) as a RocksDB checkpoint: hard links to table files plus a copy of the live WAL, and
     * hard links to the extent files (append-only: bytes appended later are garbage the copy's
     * pointers never name). The extent reclaimer is held off meanwhile, so no file a pointer of
     * the checkpoint names is deleted before it is linked. A store opened on that directory is a
     * replica of this one at that moment.
     */
    static void checkpoint(StoreDb db, Path target) {
        synchronized (db.extents) {
            try (org.rocksdb.Checkpoint cp = org.rocksdb.Checkpoint.create(db.db)) {
                cp.createCheckpoint(target.toString());
            } catch (RocksDBException e) {
                throw Catalog.storeError("checkpoint to " + target, e);
            }
            try {
                Map<Long, Long> files = db.extents.fileBytes();
                if (!files.isEmpty()) {
                    Path to = Files.createDirectories(target.resolve(ExtentFiles.DIR));
                    for (long id : files.keySet()) {
                        Files.createLink(to.resolve(ExtentFiles.fileName(id)), db.extents.path(id));
                    }
                }
            } catch (IOException e) {
                throw new StoreException("checkpoint to " + target + ": linking the extent files: " + e.getMessage(), e);
            }
        }
    }

    /** RocksDB's own statistics of the block column family (compaction, stalls, amplification) and the extent files' bytes. */
    static String stats(StoreDb db) {
        try {
            String rocks = db.db.getProperty(db.blocks, "rocksdb.stats");
            long onDisk = db.extents.fileBytes().values().stream().mapToLong(Long::longValue).sum();
            return rocks + String.format(java.util.Locale.ROOT, "Extent files: %d bytes appended since open (one pwrite per large write),"
                    + " %d files, %d bytes on disk (apparent size), %d bytes referenced at the last reclaim pass%n",
                    db.extents.appendedBytes(), db.extents.fileBytes().size(), onDisk,
                    db.extents.liveBytes().values().stream().mapToLong(Long::longValue).sum());
        } catch (RocksDBException e) {
            throw Catalog.storeError("read statistics", e);
        } catch (IOException e) {
            throw new StoreException("extent file statistics: " + e.getMessage(), e);
        }
    }
}
