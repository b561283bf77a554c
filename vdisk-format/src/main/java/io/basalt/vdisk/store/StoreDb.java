package io.basalt.vdisk.store;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.LRUCache;
import org.rocksdb.ReadOptions;
import org.rocksdb.ReadTier;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteOptions;

/**
 * Owns the RocksDB instance and its column families, and the option objects shared by readers
 * and writers. Everything here is closed by {@link #close()} in reverse order of creation.
 *
 * <p>Durability: {@link #writeOptions} writes the WAL to the OS without fsync, so an
 * acknowledged write survives kill -9 of the process; {@link #syncWriteOptions} (FUA, metadata)
 * and {@link #syncWal()} (flush) fsync the WAL, so those survive power loss.
 * {@link #noWaitWriteOptions} is {@link #writeOptions} (same durability) that fails with
 * {@code Incomplete} instead of sleeping through a write stall.
 */
final class StoreDb implements AutoCloseable {
    static final int GRAIN_BLOCK_SIZE_BYTES = 8 * 1024;

    static {
        RocksDB.loadLibrary();
    }

    final RocksDB db;
    final ColumnFamilyHandle meta;
    final ColumnFamilyHandle blocks;
    final ColumnFamilyHandle changes;
    final WriteOptions writeOptions;
    /** Syncs the WAL: only through {@link #syncWriteOptions()}, which syncs the extent files first. */
    private final WriteOptions syncWriteOptions;
    /** The store's extent files (large writes' data; see {@link ExtentWrites}): synced before every WAL sync. */
    final ExtentFiles extents;
    /** Like {@link #writeOptions}, but a write stall fails the write ({@code Incomplete}) instead of waiting. */
    final WriteOptions noWaitWriteOptions;
    /** Point lookups within one grain: prefix bloom filters apply. */
    final ReadOptions grainReadOptions;
    /** Like {@link #grainReadOptions}, from memtables and block cache only: {@code Incomplete} where it would read a file. */
    final ReadOptions cachedGrainReadOptions;
    /** Range scans across grains and epochs. */
    final ReadOptions scanReadOptions;

    private final List<AutoCloseable> owned = new ArrayList<>();
    /** Why the database was opened read-only, or null (see {@link VdiskStore#readOnlyReason()}). */
    final String readOnlyReason;

    StoreDb(Path dir, long blockCacheBytes) {
        try {
            Files.createDirectories(dir);
            extents = new ExtentFiles(dir.resolve(ExtentFiles.DIR));
            LRUCache cache = own(new LRUCache(blockCacheBytes));
            BloomFilter bloom = own(new BloomFilter(10, false));
            BlockBasedTableConfig blockTable = new BlockBasedTableConfig()
                    .setBlockCache(cache)
                    .setFilterPolicy(bloom)
                    .setBlockSize(GRAIN_BLOCK_SIZE_BYTES)
                    .setWholeKeyFiltering(false)
                    .setCacheIndexAndFilterBlocks(true)
                    .setPinL0FilterAndIndexBlocksInCache(true);
            ColumnFamilyOptions blockOptions = own(blockOptionsWithBlobCache(blockCacheBytes)
                    .setTableFormatConfig(blockTable)
                    // Frames are already LZ4-compressed where that pays; don't compress twice.
                    .setCompressionType(CompressionType.NO_COMPRESSION)
                    .useFixedLengthPrefixExtractor(Keys.GRAIN_PREFIX_BYTES)
                    .setMemtablePrefixBloomSizeRatio(0.1)
                    .setWriteBufferSize(BLOCKS_WRITE_BUFFER_BYTES)
                    .setMaxWriteBufferNumber(BLOCKS_WRITE_BUFFER_COUNT_MAX)
                    .setTargetFileSizeBase(64L << 20)
                    .setMaxBytesForLevelBase(512L << 20)
                    .setLevelCompactionDynamicLevelBytes(true));
            separateLargeValues(blockOptions, BLOB_VALUE_BYTES_MIN, BLOB_GC_AGE_CUTOFF);
            BlockBasedTableConfig smallTable = new BlockBasedTableConfig().setBlockCache(cache);
            ColumnFamilyOptions smallOptions = own(new ColumnFamilyOptions()
                    .setTableFormatConfig(smallTable)
                    .setCompressionType(CompressionType.LZ4_COMPRESSION)
                    .setWriteBufferSize(16L << 20));
            DBOptions dbOptions = own(new DBOptions()
                    .setCreateIfMissing(true)
                    .setCreateMissingColumnFamilies(true)
                    .setMaxBackgroundJobs(2)
                    .setBytesPerSync(1L << 20)
                    .setWalBytesPerSync(0)
                    .setKeepLogFileNum(4)
                    .setInfoLogLevel(org.rocksdb.InfoLogLevel.WARN_LEVEL)
                    // A memtable flush makes the pointers in it durable: the data they name first.
                    // (and a memtable switch may sync the closed WAL): the data they name first.
                    .setListeners(List.of(own(new org.rocksdb.AbstractEventListener(
                            org.rocksdb.AbstractEventListener.EnabledEventCallback.ON_MEMTABLE_SEALED,
                            org.rocksdb.AbstractEventListener.EnabledEventCallback.ON_FLUSH_BEGIN) {
                        @Override
                        public void onMemTableSealed(org.rocksdb.MemTableInfo info) {
                            syncExtents("a memtable switch");
                        }

                        @Override
                        public void onFlushBegin(RocksDB db, org.rocksdb.FlushJobInfo info) {
                            syncExtents("a memtable flush");
                        }
                    }))));
            List<ColumnFamilyDescriptor> descriptors = List.of(
                    new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, smallOptions),
                    new ColumnFamilyDescriptor("blocks".getBytes(java.nio.charset.StandardCharsets.UTF_8), blockOptions),
                    new ColumnFamilyDescriptor("changes".getBytes(java.nio.charset.StandardCharsets.UTF_8), smallOptions));
            List<ColumnFamilyHandle> handles = new ArrayList<>();
            RocksDB opened;
            String readOnly = null;
            try {
                opened = RocksDB.open(dbOptions, dir.toString(), descriptors, handles);
            } catch (RocksDBException e) {
                if (!StoreErrors.noSpace(e)) {
                    throw e;
                }
                // Full: even the manifest cannot be written. Read-only needs no space, and the
                // data (WAL included) stays readable, so it can be copied off or checked.
                handles.clear();
                opened = RocksDB.openReadOnly(dbOptions, dir.toString(), descriptors, handles);
                readOnly = "opened read-only because its disk was full (" + e.getMessage() + "); free space on "
                        + dir + " and open it again to write";
            }
            db = opened;
            readOnlyReason = readOnly;
            meta = handles.get(0);
            blocks = handles.get(1);
            changes = handles.get(2);
            writeOptions = own(new WriteOptions().setSync(false));
            syncWriteOptions = own(new WriteOptions().setSync(true));
            noWaitWriteOptions = own(new WriteOptions().setSync(false).setNoSlowdown(true));
            grainReadOptions = own(new ReadOptions().setPrefixSameAsStart(true).setVerifyChecksums(true));
            cachedGrainReadOptions = own(new ReadOptions(grainReadOptions).setReadTier(ReadTier.BLOCK_CACHE_TIER));
            scanReadOptions = own(new ReadOptions().setTotalOrderSeek(true).setVerifyChecksums(true));
        } catch (RocksDBException | java.io.IOException e) {
            closeOwned();
            throw new StoreException("cannot open store at " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Grain values of at least this size (frames of grains of 16 KiB and more that LZ4 did not
     * shrink) are kept in blob files beside the table files, and the LSM tree holds a pointer:
     * compaction then moves keys, not data, and a big sequential write is written about twice
     * (WAL, blob file) instead of once per level. 4 KiB grains stay in the tables, where reads
     * are fastest (BlobDB for them was rejected: docs/decisions/engine-tuning-by-benchmark.md).
     * The property {@code basalt.engine.blobValueBytesMin} (0: off) exists for A/B benchmarks
     * (docs/decisions/engine-big-writes.md); a store opens with either setting.
     */
    static final long BLOB_VALUE_BYTES_MIN = Long.getLong("basalt.engine.blobValueBytesMin", 16L << 10);
    /**
     * Blob files in the oldest this fraction whose live values a compaction rewrites (0: no
     * rewriting; a file is then freed only once every value in it is overwritten, which random
     * overwrites may never do). 0.1, not RocksDB's 0.25: under sequential overwrites the oldest
     * files are the next to die, and at 0.25 compaction rewrote 1.5 GB of their values per 5 GB
     * written (measured: docs/decisions/engine-big-writes.md). The property
     * {@code basalt.engine.blobGcAgeCutoff} exists for A/B benchmarks, as above.
     */
    static final double BLOB_GC_AGE_CUTOFF = Double.parseDouble(System.getProperty("basalt.engine.blobGcAgeCutoff", "0.1"));

    /**
     * Key-value separation for values of at least {@code valueBytesMin}, 0 for none. Integrated
     * BlobDB: blob files are written by flush and compaction and synced before the manifest
     * names them, so crash recovery is RocksDB's own; a blob file is deleted when no table file
     * points into it, and garbage collection rewrites the live values of the oldest
     * {@code gcAgeCutoff} of blob files during compaction so overwritten grains free their space.
     */
    private static void separateLargeValues(ColumnFamilyOptions options, long valueBytesMin, double gcAgeCutoff) {
        if (valueBytesMin < 0) {
            throw new IllegalArgumentException("blob value bytes min: " + valueBytesMin + " (expected: >= 0, 0 for none)");
        }
        if (gcAgeCutoff < 0 || gcAgeCutoff > 1) {
            throw new IllegalArgumentException("blob GC age cutoff: " + gcAgeCutoff + " (expected: 0..1)");
        }
        if (valueBytesMin == 0) {
            return;
        }
        options.setEnableBlobFiles(true)
                .setMinBlobSize(valueBytesMin)
                .setBlobCompressionType(CompressionType.NO_COMPRESSION)
                .setEnableBlobGarbageCollection(gcAgeCutoff > 0)
                .setBlobGarbageCollectionAgeCutoff(gcAgeCutoff);
    }

    /**
     * Empty options for the block column family, carrying a blob cache of {@code cacheBytes}
     * when large values go to blob files: RocksJava has no setter for it, and without one every
     * read of a large grain is a file read (measured: 1 MiB reads of 64 KiB grains 2.4 GiB/s from
     * the block cache, 0.9 GiB/s from blob files). The cache is filled only by blob reads, so a
     * store of 4 KiB grains never uses it; one holding both kinds caches each up to the size.
     */
    private static ColumnFamilyOptions blockOptionsWithBlobCache(long cacheBytes) throws RocksDBException {
        if (BLOB_VALUE_BYTES_MIN == 0) {
            return new ColumnFamilyOptions();
        }
        java.util.Properties blobCache = new java.util.Properties();
        blobCache.setProperty("blob_cache", "{capacity=" + cacheBytes + "}");
        try (org.rocksdb.ConfigOptions config = new org.rocksdb.ConfigOptions()) {
            ColumnFamilyOptions options = ColumnFamilyOptions.getColumnFamilyOptionsFromProps(config, blobCache);
            if (options == null) {
                throw new RocksDBException("blob_cache={capacity=" + cacheBytes + "}: not accepted by this RocksDB");
            }
            return options;
        }
    }

    private <T extends AutoCloseable> T own(T resource) {
        owned.add(resource);
        return resource;
    }

    /**
     * Read options pinned to one RocksDB snapshot, so a read made of several lookups and scans
     * sees one point in time (a write batch wholly or not at all). Close it.
     */
    record ReadView(org.rocksdb.Snapshot snapshot, ReadOptions grain, ReadOptions scan, RocksDB db) implements AutoCloseable {
        @Override
        public void close() {
            grain.close();
            scan.close();
            db.releaseSnapshot(snapshot);
        }
    }

    ReadView readView() {
        return readView(false);
    }

    /** With {@code cachedOnly}, the view reads memtables and block cache only (see {@link #cachedGrainReadOptions}). */
    ReadView readView(boolean cachedOnly) {
        org.rocksdb.Snapshot snapshot = db.getSnapshot();
        ReadOptions grain = new ReadOptions(cachedOnly ? cachedGrainReadOptions : grainReadOptions).setSnapshot(snapshot);
        ReadOptions scan = new ReadOptions(scanReadOptions).setSnapshot(snapshot);
        if (cachedOnly) {
            scan.setReadTier(ReadTier.BLOCK_CACHE_TIER);
        }
        return new ReadView(snapshot, grain, scan, db);
    }

    /** True when {@code e} (or a cause) is RocksDB's {@code Incomplete}: a no-wait write met a stall, a cached-only read a miss. */
    static boolean incomplete(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof RocksDBException r && r.getStatus() != null && r.getStatus().getCode() == org.rocksdb.Status.Code.Incomplete) {
                return true;
            }
        }
        return false;
    }

    /**
     * Space the next memtable flush will need beside what the files take now: the memtables
     * (active and not yet flushed, all column families), written again as table files while the
     * WAL still holds them, and the next WAL, which RocksDB preallocates (fallocate) at 1.1 times
     * the largest write buffer when the memtable switches. Measured on a tmpfs: 72 MiB of free
     * space went to the WAL at open and again at the first switch, then the flush met ENOSPC.
     */
    long flushHeadroomBytes() {
        return memtableBytes() + WAL_PREALLOCATION_BYTES;
    }

    static final long BLOCKS_WRITE_BUFFER_BYTES = 64L << 20;
    /**
     * Memtables of the block column family, active and waiting for flush. When all but one are
     * full RocksDB slows writes down (memtable-limit delays). The property
     * {@code basalt.engine.writeBufferCountMax} exists for A/B benchmarks
     * (docs/decisions/engine-big-writes.md).
     */
    static final int BLOCKS_WRITE_BUFFER_COUNT_MAX = Integer.getInteger("basalt.engine.writeBufferCountMax", 4);
    static final long WAL_PREALLOCATION_BYTES = BLOCKS_WRITE_BUFFER_BYTES + BLOCKS_WRITE_BUFFER_BYTES / 10;

    /** Bytes in memtables, active and not yet flushed, all column families. */
    long memtableBytes() {
        long sum = 0;
        for (ColumnFamilyHandle cf : List.of(meta, blocks, changes)) {
            try {
                sum += db.getLongProperty(cf, "rocksdb.cur-size-all-mem-tables");
            } catch (RocksDBException e) {
                throw new StoreException("memtable size of the store: " + e.getMessage(), e);
            }
        }
        return sum;
    }

    private void syncExtents(String before) {
        try {
            extents.sync();
        } catch (RuntimeException e) {
            java.util.logging.Logger.getLogger(StoreDb.class.getName()).log(java.util.logging.Level.WARNING,
                    "extent sync before " + before + " failed", e);
        }
    }

    /** Syncs the WAL, the extent files it may point into first (data before pointer). */
    void syncWal() throws RocksDBException {
        extents.sync();
        db.flushWal(true);
    }

    /** Write options that sync the WAL; the extent files are synced first (data before pointer). */
    WriteOptions syncWriteOptions() {
        extents.sync();
        return syncWriteOptions;
    }

    @Override
    public void close() {
        extents.close();
        meta.close();
        blocks.close();
        changes.close();
        db.close();
        closeOwned();
    }

    private void closeOwned() {
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception e) {
                throw new IllegalStateException("closing " + owned.get(i), e);
            }
        }
        owned.clear();
    }
}
