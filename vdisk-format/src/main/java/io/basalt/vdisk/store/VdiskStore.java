package io.basalt.vdisk.store;

import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import java.util.function.LongConsumer;
import java.util.function.LongSupplier;

import org.rocksdb.RocksDBException;

import io.basalt.vdisk.BlockDeviceException;

/**
 * A local store of many vdisks in one RocksDB database: the single-node engine of Basalt.
 *
 * <p>Data model (docs/decisions/engine-keys-epochs-and-snapshots.md): a vdisk has a head epoch; a
 * write stores grain versions keyed {@code (vdisk, grain, epoch)}; a read at epoch {@code e} takes
 * the newest version at or below {@code e}. A snapshot freezes the head epoch and starts a new one
 * (O(1)); nothing is copied on write. Every version has a change-index entry {@code (vdisk, epoch,
 * grain)}, so diffs cost O(changed). A clone reads through to its parent's snapshot. Large aligned
 * writes keep their data in extent files and a pointer as the version ({@link ExtentWrites}).
 *
 * <p>Invariants: a block version {@code (v, g, x)} exists iff the change entry {@code (v, x, g)}
 * does; snapshot epochs are below the head epoch, epochs only grow; a version is deleted only when
 * no retained epoch can see it; a snapshot with clones is never deleted; a vdisk with snapshots,
 * clones or open handles is never removed.
 *
 * <p>Namespace operations are serialised by one lock; I/O runs on a bounded pool of
 * {@link Options#ioThreads()} threads. Every metadata change is one synchronous (fsync'd)
 * RocksDB batch, so reopening after a crash needs no repair; the only multi-batch operations
 * (snapshot garbage collection, in the background, and flatten) are idempotent and resumed or repeatable.
 *
 * <p>This class is the facade callers use; each kind of operation lives in a package-private
 * class of its own: {@link Catalog} (names, descriptors, the states cache, the namespace lock),
 * {@link Namespace} (create, remove, resize), {@link Snapshots}, {@link SnapshotGc} (run by {@link GcWorker}),
 * {@link Clones} (clone, flatten), {@link Diffs}, {@link UsageAccounting}, {@link AppliedLogs}
 * (a replicated state machine's hooks) and {@link StoreFormat} (the on-disk format version,
 * checked at open). I/O on one vdisk goes through {@link Vdisk}.
 */
public final class VdiskStore implements AutoCloseable {
    public static final int CHAIN_DEPTH_MAX = 16;
    public static final int GRAIN_SIZE_DEFAULT_BYTES = 4096;
    public static final int GRAIN_SIZE_MAX_BYTES = 1 << 20;
    public static final long SIZE_MAX_BYTES = 1L << 50;
    /** GET LBA STATUS and flatten look at no more than this many grains per step. */
    static final int SCAN_CHUNK_GRAINS_MAX = 65_536;
    static final int GC_BATCH_OPS_MAX = 4096;
    static final int IO_QUEUE_DEPTH_MAX = 16_384;

    /**
     * @param blockCacheBytes RocksDB block cache shared by all column families
     * @param ioThreads       threads serving BlockDevice operations
     * @param reserveBytes    free space to keep on the store's filesystem ({@link SpaceReserve}):
     *                        0 turns the check off, {@link SpaceReserve#DEFAULT} is 5 %, at least 1 GiB
     * @param extents         large aligned writes' data in extent files ({@link ExtentWrites})
     */
    public record Options(long blockCacheBytes, int ioThreads, long reserveBytes, boolean extents) {
        public static Options defaults() {
            // One thread per core: cached reads and WAL writes are CPU-bound, and more threads than
            // cores cost context switches (measured: 2 threads 294k read IOPS, 4 threads 155k, on 2 cores).
            return new Options(256L << 20, Math.max(2, Runtime.getRuntime().availableProcessors()));
        }

        /** With the default space reserve. */
        public Options(long blockCacheBytes, int ioThreads) {
            this(blockCacheBytes, ioThreads, SpaceReserve.DEFAULT);
        }

        /** With large aligned writes in extent files as {@link ExtentWrites#DEFAULT_ON} says. */
        public Options(long blockCacheBytes, int ioThreads, long reserveBytes) {
            this(blockCacheBytes, ioThreads, reserveBytes, ExtentWrites.DEFAULT_ON);
        }

        public Options {
            if (ioThreads < 1 || ioThreads > 256) {
                throw new IllegalArgumentException("ioThreads: " + ioThreads + " (expected: 1..256)");
            }
            if (blockCacheBytes < (1 << 20)) {
                throw new IllegalArgumentException("blockCacheBytes: " + blockCacheBytes + " (expected: >= 1 MiB)");
            }
            SpaceReserve.checkReserveBytes(reserveBytes);
        }

        public Options withReserveBytes(long bytes) {
            return new Options(blockCacheBytes, ioThreads, bytes, extents);
        }

        /** With or without {@link ExtentWrites} (a placement group's store: without). */
        public Options withExtents(boolean on) {
            return new Options(blockCacheBytes, ioThreads, reserveBytes, on);
        }
    }

    private final Path dir;
    private final StoreDb db;
    private final ThreadPoolExecutor executor;
    private final GrainLocks grainLocks = new GrainLocks();
    private final GroupCommitter committer;
    private final Catalog catalog;
    private final Namespace namespace;
    private final Snapshots snapshots;
    private final SnapshotGroups snapshotGroups;
    private final Clones clones;
    private final Diffs diffs;
    private final UsageAccounting usage;
    private final AppliedLogs appliedLogs;
    private final SnapshotGc gc;
    private final GcWorker gcWorker;
    private final Object closeLock = new Object();
    private boolean closed;
    /** Null when the reserve is off (a placement group's store: its leader checks, before logging). */
    private final SpaceReserve space;

    /** @param nanoClock monotonic nanoseconds for the free-space reserve's cache (a seam for tests) */
    private VdiskStore(Path dir, Options options, InstantSource clock, LongSupplier nanoClock) {
        this.dir = dir;
        this.db = new StoreDb(dir, options.blockCacheBytes());
        try {
            StoreFormat.checkAndStamp(db, dir);
        } catch (RuntimeException e) {
            db.close();
            throw e;
        }
        try {
            this.space = options.reserveBytes() == 0 ? null
                    : SpaceReserve.of(dir, options.reserveBytes(), this::flushHeadroomBytes, nanoClock);
        } catch (java.io.IOException | RuntimeException e) {
            db.close();
            throw new StoreException("cannot open store at " + dir + ": free space: " + e.getMessage(), e);
        }
        db.extents.start(db, options.extents());
        this.committer = new GroupCommitter(db, "vdisk-commit");
        AtomicInteger threadIndex = new AtomicInteger();
        this.executor = new ThreadPoolExecutor(options.ioThreads(), options.ioThreads(), 0, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(IO_QUEUE_DEPTH_MAX), r -> {
                    Thread t = new Thread(r, "vdisk-io-" + threadIndex.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        this.catalog = new Catalog(dir, db);
        this.gc = new SnapshotGc(catalog, grainLocks);
        this.gcWorker = new GcWorker(catalog, gc, dir.toString(), db.readOnlyReason, new BlobReclaim(db, catalog));
        this.namespace = new Namespace(catalog, clock);
        this.snapshots = new Snapshots(catalog, clock, gc, gcWorker::wake, this::checkSpace);
        this.snapshotGroups = new SnapshotGroups(catalog, clock);
        this.clones = new Clones(catalog, clock, this::checkSpace);
        this.diffs = new Diffs(catalog);
        this.usage = new UsageAccounting(catalog);
        this.appliedLogs = new AppliedLogs(db);
    }

    public static VdiskStore open(Path dir) {
        return open(dir, Options.defaults());
    }

    public static VdiskStore open(Path dir, Options options) {
        return open(dir, options, System::nanoTime);
    }

    /** With {@code nanoClock} for the free-space reserve's cache, so a test can step past it. */
    static VdiskStore open(Path dir, Options options, LongSupplier nanoClock) {
        return new VdiskStore(dir, options, InstantSource.system(), nanoClock);
    }

    public Path directory() {
        return dir;
    }

    StoreDb db() {
        return db;
    }

    ExecutorService executor() {
        return executor;
    }

    GrainLocks grainLocks() {
        return grainLocks;
    }

    GroupCommitter committer() {
        return committer;
    }

    /**
     * Why this store was opened read-only, or null when it takes writes: when its disk was full
     * at open (RocksDB cannot even write its manifest then), it opens read-only so its data can
     * still be read and copied off; writes and namespace changes are refused naming this.
     */
    public String readOnlyReason() {
        return db.readOnlyReason;
    }

    /**
     * Space this store's next memtable flush needs beside what its files take now (memtables
     * written as table files, and a new preallocated WAL); 0 once closed. A free-space check of
     * the filesystem counts it as taken.
     */
    public long flushHeadroomBytes() {
        synchronized (closeLock) {
            return closed ? 0 : db.flushHeadroomBytes();
        }
    }

    /** The free-space reserve, or null when it is off. */
    public SpaceReserve spaceReserve() {
        return space;
    }

    /** True while the free space is below the reserve (a cached reading: cheap on every write). */
    boolean spaceShort() {
        return space != null && space.isShort();
    }

    /** Throws NO_SPACE when {@code what} would store data while the free space is below the reserve. */
    void checkSpace(String what) {
        if (space != null) {
            space.check(what);
        }
    }

    /**
     * A failed future (NO_SPACE) while the filesystem is below its reserve and the vdisk is
     * writable; null when the operation may go on. Reads, unmaps and write-zeroes never ask:
     * they free space or take none.
     */
    <T> CompletableFuture<T> refusedForSpace(boolean readOnly, String what, long lba, String vdisk) {
        if (readOnly || !spaceShort()) {
            return null; // the common case builds no message
        }
        try {
            checkSpace(what + " at lba " + lba + " of vdisk " + vdisk);
            return null;
        } catch (BlockDeviceException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    // ---- vdisks (Namespace) ----

    public VdiskInfo create(String name, long sizeBytes, int blockSizeBytes, int grainSizeBytes) {
        return namespace.create(name, sizeBytes, blockSizeBytes, grainSizeBytes);
    }

    public VdiskInfo create(String name, long sizeBytes) {
        return create(name, sizeBytes, 512, GRAIN_SIZE_DEFAULT_BYTES);
    }

    public List<VdiskInfo> list() {
        return namespace.list();
    }

    public VdiskInfo info(String name) {
        return catalog.stateByName(name).info();
    }

    public boolean exists(String name) {
        return catalog.lookupId(name).isPresent();
    }

    /** Removes a vdisk. Refused while it has snapshots, clones or open handles. */
    public void remove(String name) {
        namespace.remove(name);
    }

    /** Grows, or shrinks when no data lies past the new end. */
    public VdiskInfo resize(String name, long newSizeBytes) {
        checkNotReplica("resize", name);
        return namespace.resize(name, newSizeBytes);
    }

    // ---- snapshots (Snapshots, SnapshotGc) ----

    /**
     * Freezes the head epoch as snapshot {@code snapName} and starts a new head epoch: O(1).
     * This is an operator's snapshot (no lock held, like {@code rbd snap create} beside a running
     * client): it is taken whatever the vdisk's fence, because a snapshot changes no data, it
     * only freezes what the head holds now. A lock holder's snapshot step carries its token
     * ({@link #createSnapshot(String, String, long)}) and is fenced like a write.
     */
    public SnapshotInfo createSnapshot(String vdiskName, String snapName) {
        checkNotReplica("snapshot " + snapName, vdiskName);
        return snapshots.create(vdiskName, snapName);
    }

    /**
     * {@link #createSnapshot(String, String)} by the holder of fencing token {@code token}:
     * refused with a {@link io.basalt.vdisk.FencedException}, taking nothing, when the token is
     * below the vdisk's fence; counted in flight under the fence while it runs, so
     * {@link Vdisk#raiseFence} waits for it like for a write.
     */
    public SnapshotInfo createSnapshot(String vdiskName, String snapName, long token) {
        checkNotReplica("snapshot " + snapName, vdiskName);
        FenceGate gate = catalog.stateByName(vdiskName).fences;
        int ticket = gate.admit(token);
        try {
            return snapshots.create(vdiskName, snapName);
        } finally {
            gate.done(ticket);
        }
    }

    /**
     * Snapshot {@code snapName} of every vdisk of {@code vdiskNames} at one instant (a
     * consistency group): a write to any of them is in all the snapshots or in none, and after a
     * crash all of them exist or none. Refused, taking nothing, when one is a replica, does not
     * exist or has a snapshot of that name.
     */
    public List<SnapshotInfo> createSnapshots(List<String> vdiskNames, String snapName) {
        vdiskNames.forEach(v -> checkNotReplica("snapshot " + snapName, v));
        return snapshotGroups.create(vdiskNames, snapName);
    }

    public List<SnapshotInfo> snapshots(String vdiskName) {
        return snapshots.list(vdiskName);
    }

    public SnapshotInfo snapshot(String vdiskName, String snapName) {
        return catalog.snapshot(vdiskName, snapName);
    }

    /** Names of clones made from snapshot {@code snap}. */
    public List<String> children(String vdiskName, String snapName) {
        return snapshots.children(vdiskName, snapName);
    }

    /**
     * Deletes a snapshot (O(1): one fsync'd metadata batch) and queues the collection of the
     * versions no other snapshot nor the head can see, which a background thread runs in bounded
     * steps ({@link #awaitGc} waits for it). Refused while the snapshot has clones.
     */
    public void removeSnapshot(String vdiskName, String snapName) {
        checkNotReplica("remove snapshot " + snapName, vdiskName);
        snapshots.remove(vdiskName, snapName);
    }

    /** Removes every snapshot of a vdisk, newest first; their space is collected in the background. */
    public int purgeSnapshots(String vdiskName) {
        checkNotReplica("purge snapshots", vdiskName);
        return snapshots.purge(vdiskName);
    }

    /** Removed snapshots of {@code vdiskName} whose versions are still being collected. */
    public int pendingGcCount(String vdiskName) {
        return gc.pending(catalog.stateByName(vdiskName).id).size();
    }

    /**
     * Waits until the versions of every removed snapshot of {@code vdiskName} (of every vdisk when
     * null) are collected; throws naming what is left when {@code timeout} passes first.
     */
    public void awaitGc(String vdiskName, Duration timeout) {
        gcWorker.await(vdiskName == null ? -1 : catalog.stateByName(vdiskName).id, vdiskName == null ? "store " + dir : "vdisk " + vdiskName, timeout);
    }

    /** The background collector (a test closes it and runs steps itself). */
    GcWorker gcWorker() {
        return gcWorker;
    }

    /**
     * Makes the head read exactly as snapshot {@code snapName} (and take its size). Costs
     * O(grains changed since the snapshot). Later snapshots are kept.
     */
    public void rollback(String vdiskName, String snapName) {
        checkNotReplica("rollback to " + snapName, vdiskName);
        snapshots.rollback(vdiskName, snapName);
    }

    // ---- clones (Clones) ----

    /** Creates {@code childName} as a linked clone of {@code parentName@snapName}: O(1). */
    public VdiskInfo clone(String parentName, String snapName, String childName) {
        return clones.clone(parentName, snapName, childName);
    }

    /**
     * Copies into a clone every grain it still reads from its parent, then cuts the link. Copies
     * go to epoch 0, below every epoch of the clone, so its snapshots keep reading what they read.
     * Safe to run while the clone serves I/O; a crash midway leaves a clone that is still linked
     * and a flatten that can simply be run again.
     *
     * @param progress called with the number of grains examined so far
     */
    public void flatten(String name, LongConsumer progress) {
        clones.flatten(name, progress);
    }

    // ---- diff and usage (Diffs, UsageAccounting) ----

    /**
     * The extents that changed between {@code fromSnap} (exclusive; null for the beginning) and
     * {@code toSnap} (null for the head), in O(changed grains). For a clone, "the beginning"
     * means the clone's creation: data it reads from its parent is not listed.
     */
    public List<Extent> diff(String vdiskName, String fromSnap, String toSnap) {
        return diffs.diff(vdiskName, fromSnap, toSnap);
    }

    public Usage usage(String name) {
        return usage.usage(name);
    }

    /** Every stored version of a vdisk as "grain@epoch:kind", for diagnostics and tests. */
    List<String> versions(String name) {
        return usage.versions(name);
    }

    // ---- devices ----

    /** Opens {@code name} (the head, writable) or {@code name@snap} (read-only) as a block device. */
    public Vdisk open(String spec) {
        int at = spec.indexOf('@');
        String name = at < 0 ? spec : spec.substring(0, at);
        VdiskState st = catalog.stateByName(name);
        Optional<SnapshotInfo> snap = at < 0 ? Optional.empty() : Optional.of(snapshot(name, spec.substring(at + 1)));
        st.openHandles.incrementAndGet();
        snap.ifPresent(s -> st.snapshotOpened(s.epoch(), 1));
        return new Vdisk(this, st, snap, false);
    }

    void release(VdiskState st, Optional<SnapshotInfo> snap) {
        snap.ifPresent(s -> st.snapshotOpened(s.epoch(), -1));
        int left = st.openHandles.decrementAndGet();
        if (left < 0) {
            throw new IllegalStateException("vdisk " + st.info().name() + " released more often than opened");
        }
    }

    // ---- read-only replicas (Replicas, ReplicaWriter) ----

    /**
     * Makes {@code name} a read-only replica holding {@code record} (the replicating module's
     * own bytes, stored as given and returned by {@link #replicaRecord}), or, when already one,
     * replaces its record. From then on every mutation through a {@link Vdisk} handle, open or
     * opened later, fails READ_ONLY, and resize, rollback and snapshot changes are refused: only
     * a {@link #openReplicaWriter replica writer} changes it. Stored fsync'd.
     */
    public void markReplica(String name, byte[] record) {
        if (record == null) {
            throw new IllegalArgumentException("replica record of vdisk " + name + ": null (expected: bytes; unmarkReplica ends a replica)");
        }
        setReplicaRecord(name, record);
    }

    /**
     * Creates {@code name} as a read-only replica holding {@code record}, in one batch: a crash
     * never leaves an ordinary vdisk where a replica was being created.
     */
    public VdiskInfo createReplica(String name, long sizeBytes, int blockSizeBytes, int grainSizeBytes, byte[] record) {
        if (record == null) {
            throw new IllegalArgumentException("replica record of vdisk " + name + ": null (expected: bytes)");
        }
        return namespace.create(name, sizeBytes, blockSizeBytes, grainSizeBytes, record);
    }

    /** Makes a replica an ordinary writable vdisk again (a promotion); does nothing to one that is not a replica. */
    public void unmarkReplica(String name) {
        setReplicaRecord(name, null);
    }

    /** The record {@code name} was marked with, empty when it is not a replica. */
    public Optional<byte[]> replicaRecord(String name) {
        return Optional.ofNullable(catalog.stateByName(name).replicaRecord());
    }

    /**
     * The mirror applier's privileged path into replica {@code name}: writes, rollback, resize and
     * snapshots that the replica mark refuses to everyone else. Refused when {@code name} is not a
     * replica. Only the replicating module calls this; it owns the one writer of a replica.
     */
    public ReplicaWriter openReplicaWriter(String name) {
        VdiskState st = catalog.stateByName(name);
        if (!st.replica()) {
            throw new StoreException("vdisk " + name + " is not a replica; a replica writer writes only replicas");
        }
        st.openHandles.incrementAndGet();
        return new ReplicaWriter(this, new Vdisk(this, st, Optional.empty(), true));
    }

    Snapshots snapshotOps() {
        return snapshots;
    }

    Namespace namespaceOps() {
        return namespace;
    }

    private void setReplicaRecord(String name, byte[] record) {
        synchronized (catalog.lock) {
            VdiskState st = catalog.stateByName(name);
            try (org.rocksdb.WriteBatch batch = new org.rocksdb.WriteBatch()) {
                Replicas.put(batch, db, st.id, record);
                catalog.writeSync(batch);
            } catch (RocksDBException e) {
                throw Catalog.storeError((record == null ? "unmark" : "mark") + " replica " + name, e);
            }
            st.replicaRecord(record);
        }
    }

    /** Refuses {@code op} on a replica, naming it: its data and snapshots are its mirror applier's. */
    private void checkNotReplica(String op, String name) {
        if (catalog.stateByName(name).replica()) {
            throw new StoreException(op + " of vdisk " + name + " refused: it is a read-only replica (only its mirror applier changes it)");
        }
    }

    // ---- hooks for a replicated state machine (cluster-fs; AppliedLogs) ----

    /**
     * Records that log entries up to {@code index} of the log named {@code log} have been
     * applied. The record goes through the same write-ahead log as the data, after it, so after a
     * crash the recorded index never claims more than what survived; entries after it are applied
     * again, which every engine operation tolerates (writes, unmaps and write-zeroes are
     * idempotent; a snapshot that already exists is the caller's no-op).
     */
    public void recordAppliedIndex(String log, long index) {
        appliedLogs.recordAppliedIndex(log, index);
    }

    /** {@code log}'s applied index was committed as {@code index} (by an {@link EntryBatch}). */
    void appliedIndexWritten(String log, long index) {
        appliedLogs.appliedIndexWritten(log, index);
    }

    /**
     * A batch of log entry {@code index}'s mutations applied on the calling thread and committed
     * together with the applied index of {@code log} (see {@link EntryBatch}).
     */
    public EntryBatch entryBatch(String log) {
        return new EntryBatch(this, log);
    }

    /** The index last given to {@link #recordAppliedIndex} for {@code log}, or -1. */
    public long appliedIndex(String log) {
        return appliedLogs.appliedIndex(log);
    }

    /** Calls {@code action} with every record {@code log} committed through {@link EntryBatch#putLogRecord}, in key order. */
    public void forEachLogRecord(String log, BiConsumer<byte[], byte[]> action) {
        appliedLogs.forEachLogRecord(log, action);
    }

    /** A consistent point-in-time copy of the whole store in {@code target} (which must not exist): {@link StoreCopies#checkpoint}. */
    public void checkpoint(Path target) {
        StoreCopies.checkpoint(db, target);
    }

    /** RocksDB's statistics of the block column family and the extent files' bytes, for benchmarks. */
    public String blockStoreStats() {
        return StoreCopies.stats(db);
    }

    /** Makes every acknowledged write of every vdisk durable against power loss. */
    public void flush() {
        try {
            db.syncWal();
        } catch (RocksDBException e) {
            throw Catalog.storeError("flush", e);
        }
    }

    @Override
    public void close() {
        synchronized (closeLock) {
            closed = true;
        }
        gcWorker.close(); // before the database: a step under way finishes, the rest stays queued
        executor.shutdown();
        try {
            if (!executor.awaitTermination(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("I/O still running 30 s after close; store at " + dir + " left open");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted closing store at " + dir, e);
        }
        committer.close();
        db.close();
    }
}
