package io.basalt.vdisk.store;

import java.nio.file.Path;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongConsumer;
import java.util.regex.Pattern;

import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;

import io.basalt.vdisk.frame.BlockFrame;

/**
 * A local store of many vdisks in one RocksDB database: the single-node engine of Basalt.
 *
 * <p>Data model (DESIGN.md): a vdisk has a head epoch; a write stores grain versions keyed
 * {@code (vdisk, grain, epoch)}; a read at epoch {@code e} takes the newest version at or below
 * {@code e}. A snapshot freezes the head epoch and starts a new one in one small metadata write
 * (O(1)); nothing is copied on write. Every stored version also has an entry in the change index
 * {@code (vdisk, epoch, grain)}, so the grains changed between two snapshots are found in
 * O(changed). A clone reads through to its parent's snapshot for grains it never wrote.
 *
 * <p>Invariants (asserted where they are used):
 * <ul>
 *   <li>a block version {@code (v, g, x)} exists iff the change entry {@code (v, x, g)} exists;</li>
 *   <li>every snapshot epoch of a vdisk is below its head epoch; epochs only grow;</li>
 *   <li>a version is deleted only when no retained epoch (a snapshot or the head) can see it;</li>
 *   <li>a snapshot with clones is never deleted; a vdisk with snapshots, clones or open
 *       handles is never removed.</li>
 * </ul>
 *
 * <p>Namespace operations are serialised by one lock; I/O runs on a bounded pool of
 * {@link Options#ioThreads()} threads. Every metadata change is one synchronous (fsync'd)
 * RocksDB batch, so reopening after a crash needs no repair; the only multi-batch operations
 * (snapshot garbage collection, flatten) are idempotent and resumed or repeatable.
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
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    private static final byte[] EMPTY = new byte[0];

    /**
     * @param blockCacheBytes RocksDB block cache shared by all column families
     * @param ioThreads       threads serving BlockDevice operations
     * @param reserveBytes    free space to keep on the store's filesystem ({@link SpaceReserve}):
     *                        0 turns the check off, {@link SpaceReserve#DEFAULT} is 5 %, at least 1 GiB
     */
    public record Options(long blockCacheBytes, int ioThreads, long reserveBytes) {
        public static Options defaults() {
            // One thread per core: cached reads and WAL writes are CPU-bound, and more threads than
            // cores cost context switches (measured: 2 threads 294k read IOPS, 4 threads 155k, on 2 cores).
            return new Options(256L << 20, Math.max(2, Runtime.getRuntime().availableProcessors()));
        }

        /** With the default space reserve. */
        public Options(long blockCacheBytes, int ioThreads) {
            this(blockCacheBytes, ioThreads, SpaceReserve.DEFAULT);
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
            return new Options(blockCacheBytes, ioThreads, bytes);
        }
    }

    private final Path dir;
    private final StoreDb db;
    private final ThreadPoolExecutor executor;
    private final GrainLocks grainLocks = new GrainLocks();
    private final GroupCommitter committer;
    private final Object namespaceLock = new Object();
    private final ConcurrentHashMap<Long, VdiskState> states = new ConcurrentHashMap<>();
    /**
     * Applied index per state-machine log, as last written here: a state machine reads it twice
     * per applied entry, and a RocksDB get each time was a tenth of a PG's apply thread.
     */
    private final ConcurrentHashMap<String, Long> appliedIndexes = new ConcurrentHashMap<>();
    private final InstantSource clock;
    private final Object closeLock = new Object();
    private boolean closed;
    /** Null when the reserve is off (a placement group's store: its leader checks, before logging). */
    private final SpaceReserve space;

    private VdiskStore(Path dir, Options options, InstantSource clock) {
        this.dir = dir;
        this.clock = clock;
        this.db = new StoreDb(dir, options.blockCacheBytes());
        try {
            this.space = options.reserveBytes() == 0 ? null : SpaceReserve.of(dir, options.reserveBytes(), this::flushHeadroomBytes);
        } catch (java.io.IOException | RuntimeException e) {
            db.close();
            throw new StoreException("cannot open store at " + dir + ": free space: " + e.getMessage(), e);
        }
        this.committer = new GroupCommitter(db, "vdisk-commit");
        AtomicInteger threadIndex = new AtomicInteger();
        this.executor = new ThreadPoolExecutor(options.ioThreads(), options.ioThreads(), 0, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(IO_QUEUE_DEPTH_MAX), r -> {
                    Thread t = new Thread(r, "vdisk-io-" + threadIndex.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        if (db.readOnlyReason == null) {
            resumeGarbageCollection();
        }
    }

    public static VdiskStore open(Path dir) {
        return open(dir, Options.defaults());
    }

    public static VdiskStore open(Path dir, Options options) {
        return new VdiskStore(dir, options, InstantSource.system());
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

    // ---- vdisks ----

    public VdiskInfo create(String name, long sizeBytes, int blockSizeBytes, int grainSizeBytes) {
        checkName("vdisk name", name);
        checkGeometry(sizeBytes, blockSizeBytes, grainSizeBytes);
        synchronized (namespaceLock) {
            checkNameFree(name);
            long id = nextId();
            VdiskInfo info = new VdiskInfo(id, name, sizeBytes, blockSizeBytes, grainSizeBytes, 1, Optional.empty(), 0, clock.millis());
            try (WriteBatch batch = new WriteBatch()) {
                batch.put(db.meta, Keys.meta('V', id), MetaCodec.encode(info));
                batch.put(db.meta, Keys.name(name), Keys.vdiskPrefix(id));
                batch.put(db.meta, Keys.meta('I'), Keys.vdiskPrefix(id + 1));
                writeSync(batch);
            } catch (RocksDBException e) {
                throw storeError("create " + name, e);
            }
            return info;
        }
    }

    public VdiskInfo create(String name, long sizeBytes) {
        return create(name, sizeBytes, 512, GRAIN_SIZE_DEFAULT_BYTES);
    }

    public List<VdiskInfo> list() {
        List<VdiskInfo> out = new ArrayList<>();
        try (RocksIterator it = db.db.newIterator(db.meta, db.scanReadOptions)) {
            byte[] prefix = {'V'};
            for (it.seek(prefix); it.isValid() && Keys.hasPrefix(it.key(), prefix); it.next()) {
                out.add(MetaCodec.decodeVdisk(it.value()));
            }
        }
        out.sort((a, b) -> a.name().compareTo(b.name()));
        return out;
    }

    public VdiskInfo info(String name) {
        return stateByName(name).info();
    }

    public boolean exists(String name) {
        return lookupId(name).isPresent();
    }

    /** Removes a vdisk. Refused while it has snapshots, clones or open handles. */
    public void remove(String name) {
        synchronized (namespaceLock) {
            VdiskState st = stateByName(name);
            int handles = st.openHandles.get();
            if (handles > 0) {
                throw new StoreException("vdisk " + name + " is open (" + handles + " handles); close it first");
            }
            List<SnapshotInfo> snaps = snapshots(name);
            if (!snaps.isEmpty()) {
                throw new StoreException("vdisk " + name + " has " + snaps.size() + " snapshots ("
                        + String.join(", ", snaps.stream().map(SnapshotInfo::name).toList())
                        + "); remove them first: basalt snap purge " + name);
            }
            VdiskInfo info = st.info();
            try (WriteBatch batch = new WriteBatch()) {
                batch.deleteRange(db.blocks, Keys.vdiskPrefix(info.id()), Keys.vdiskPrefix(info.id() + 1));
                batch.deleteRange(db.changes, Keys.vdiskPrefix(info.id()), Keys.vdiskPrefix(info.id() + 1));
                batch.delete(db.meta, Keys.meta('V', info.id()));
                batch.delete(db.meta, Keys.name(name));
                if (info.parent().isPresent()) {
                    VdiskInfo.ParentLink p = info.parent().get();
                    batch.delete(db.meta, Keys.meta('C', p.vdiskId(), p.epoch(), info.id()));
                }
                writeSync(batch);
            } catch (RocksDBException e) {
                throw storeError("remove " + name, e);
            }
            states.remove(info.id());
        }
    }

    /** Grows, or shrinks when no data lies past the new end. */
    public VdiskInfo resize(String name, long newSizeBytes) {
        synchronized (namespaceLock) {
            VdiskState st = stateByName(name);
            long stamp = st.lock.writeLock();
            try {
                VdiskInfo v = st.info();
                checkGeometry(newSizeBytes, v.blockSizeBytes(), v.grainSizeBytes());
                if (newSizeBytes < v.sizeBytes()) {
                    checkNothingPastEnd(st, v, newSizeBytes);
                    deallocatePastEnd(st, v, newSizeBytes);
                }
                VdiskInfo resized = v.withSize(newSizeBytes);
                putDescriptor(resized);
                st.info(resized);
                return resized;
            } finally {
                st.lock.unlockWrite(stamp);
            }
        }
    }

    /** After a shrink, grains wholly past the end stop taking space (and read as unmapped after a grow). */
    private void deallocatePastEnd(VdiskState st, VdiskInfo v, long newSizeBytes) {
        long firstGrain = (newSizeBytes + v.grainSizeBytes() - 1) / v.grainSizeBytes();
        try (ChainReader reader = st.reader(db, v.headEpoch()); WriteBatch batch = new WriteBatch()) {
            List<GroupCommitter.Op> ops = new ArrayList<>();
            for (long from = firstGrain; from < v.grainCount(); from += SCAN_CHUNK_GRAINS_MAX) {
                long to = Math.min(v.grainCount() - 1, from + SCAN_CHUNK_GRAINS_MAX - 1);
                for (long g : grainsPresent(st, from, to)) {
                    ChainReader.Located loc = reader.locate(g);
                    if (loc != null && BlockFrame.isMapped(loc.frame())) {
                        Vdisk.deallocateOps(db, st, reader, v, g, loc, ops);
                    }
                }
            }
            GroupCommitter.addTo(batch, ops);
            writeSync(batch);
        } catch (RocksDBException e) {
            throw storeError("resize " + v.name(), e);
        }
    }

    private void checkNothingPastEnd(VdiskState st, VdiskInfo v, long newSizeBytes) {
        int grainSize = v.grainSizeBytes();
        long boundaryGrain = newSizeBytes / grainSize;
        int boundaryOffset = (int) (newSizeBytes % grainSize);
        try (ChainReader reader = st.reader(db, v.headEpoch())) {
            for (long from = boundaryGrain; from < v.grainCount(); from += SCAN_CHUNK_GRAINS_MAX) {
                long to = Math.min(v.grainCount() - 1, from + SCAN_CHUNK_GRAINS_MAX - 1);
                for (long g : grainsPresent(st, from, to)) {
                    ChainReader.Located loc = reader.locate(g);
                    if (loc == null || !BlockFrame.isMapped(loc.frame())) {
                        continue;
                    }
                    int checkFrom = g == boundaryGrain ? boundaryOffset : 0;
                    byte[] grain = new byte[grainSize];
                    BlockFrame.decode(loc.frame(), grainSize, grain, 0);
                    for (int i = checkFrom; i < grainSize; i++) {
                        if (grain[i] != 0) {
                            long lba = (g * grainSize + i) / v.blockSizeBytes();
                            throw new StoreException(String.format(
                                    "resize %s to %d bytes refused: data lies past the new end at lba %d; unmap it first or choose a size >= %d",
                                    v.name(), newSizeBytes, lba, (lba + 1) * v.blockSizeBytes()));
                        }
                    }
                }
            }
        }
    }

    // ---- snapshots ----

    /** Freezes the head epoch as snapshot {@code snapName} and starts a new head epoch: O(1). */
    public SnapshotInfo createSnapshot(String vdiskName, String snapName) {
        checkName("snapshot name", snapName);
        synchronized (namespaceLock) {
            VdiskState st = stateByName(vdiskName);
            if (findSnapshot(st.id, snapName).isPresent()) {
                throw new StoreException("snapshot " + vdiskName + "@" + snapName + " already exists");
            }
            long stamp = st.lock.writeLock();
            try {
                VdiskInfo v = st.info();
                SnapshotInfo snap = new SnapshotInfo(v.id(), snapName, v.headEpoch(), v.sizeBytes(), clock.millis());
                VdiskInfo advanced = v.withHeadEpoch(v.headEpoch() + 1);
                try (WriteBatch batch = new WriteBatch()) {
                    batch.put(db.meta, Keys.meta('S', v.id(), snap.epoch()), MetaCodec.encode(snap));
                    batch.put(db.meta, Keys.meta('V', v.id()), MetaCodec.encode(advanced));
                    writeSync(batch);
                } catch (RocksDBException e) {
                    throw storeError("snapshot " + vdiskName + "@" + snapName, e);
                }
                st.info(advanced);
                return snap;
            } finally {
                st.lock.unlockWrite(stamp);
            }
        }
    }

    public List<SnapshotInfo> snapshots(String vdiskName) {
        return snapshotsOf(stateByName(vdiskName).id);
    }

    public SnapshotInfo snapshot(String vdiskName, String snapName) {
        VdiskState st = stateByName(vdiskName);
        return findSnapshot(st.id, snapName).orElseThrow(() -> new StoreException("no snapshot " + vdiskName + "@" + snapName));
    }

    /** Names of clones made from snapshot {@code snap}. */
    public List<String> children(String vdiskName, String snapName) {
        SnapshotInfo snap = snapshot(vdiskName, snapName);
        List<String> names = new ArrayList<>();
        byte[] prefix = Keys.meta('C', snap.vdiskId(), snap.epoch());
        try (RocksIterator it = db.db.newIterator(db.meta, db.scanReadOptions)) {
            for (it.seek(prefix); it.isValid() && Keys.hasPrefix(it.key(), prefix); it.next()) {
                long childId = Keys.getLong(it.key(), 17);
                names.add(state(childId).info().name());
            }
        }
        return names;
    }

    /**
     * Deletes a snapshot and reclaims the versions no other snapshot nor the head can see.
     * Refused while the snapshot has clones.
     */
    public void removeSnapshot(String vdiskName, String snapName) {
        VdiskState st;
        SnapshotInfo snap;
        synchronized (namespaceLock) {
            st = stateByName(vdiskName);
            snap = snapshot(vdiskName, snapName);
            List<String> clones = children(vdiskName, snapName);
            if (!clones.isEmpty()) {
                throw new StoreException("snapshot " + vdiskName + "@" + snapName + " has " + clones.size() + " clones ("
                        + String.join(", ", clones) + "); flatten or remove them first");
            }
            int handles = st.openSnapshotHandles(snap.epoch());
            if (handles > 0) {
                throw new StoreException("snapshot " + vdiskName + "@" + snapName + " is open (" + handles + " handles)");
            }
            try (WriteBatch batch = new WriteBatch()) {
                batch.delete(db.meta, Keys.meta('S', st.id, snap.epoch()));
                batch.put(db.meta, Keys.meta('G', st.id, snap.epoch()), EMPTY);
                writeSync(batch);
            } catch (RocksDBException e) {
                throw storeError("remove snapshot " + vdiskName + "@" + snapName, e);
            }
            collectGarbage(st, snap.epoch());
        }
    }

    /** Removes every snapshot of a vdisk, newest first. */
    public int purgeSnapshots(String vdiskName) {
        List<SnapshotInfo> snaps = new ArrayList<>(snapshots(vdiskName));
        snaps.sort((a, b) -> Long.compare(b.epoch(), a.epoch()));
        for (SnapshotInfo s : snaps) {
            removeSnapshot(vdiskName, s.name());
        }
        return snaps.size();
    }

    /**
     * Makes the head read exactly as snapshot {@code snapName} (and take its size). Costs
     * O(grains changed since the snapshot). Later snapshots are kept.
     */
    public void rollback(String vdiskName, String snapName) {
        synchronized (namespaceLock) {
            VdiskState st = stateByName(vdiskName);
            SnapshotInfo snap = snapshot(vdiskName, snapName);
            long stamp = st.lock.writeLock();
            try {
                VdiskInfo v = st.info();
                boolean newerSnapshots = snapshotsOf(st.id).stream().anyMatch(s -> s.epoch() > snap.epoch());
                TreeSet<Long> grains = changedGrains(st.id, snap.epoch(), v.headEpoch());
                if (newerSnapshots) {
                    // Copies what the snapshot sees to the head; without later snapshots a
                    // rollback only deletes, which frees space, so it is never refused.
                    checkSpace("rollback of vdisk " + vdiskName + " to " + snapName + " (later snapshots are kept, so changed grains are copied)");
                    rollbackKeepingNewer(st, v, snap, grains);
                } else {
                    rollbackDiscarding(st, v, snap);
                }
                VdiskInfo rolled = v.withSize(snap.sizeBytes());
                putDescriptor(rolled);
                st.info(rolled);
            } finally {
                st.lock.unlockWrite(stamp);
            }
        }
    }

    /** No later snapshot: every version above the snapshot's epoch is seen by the head only. */
    private void rollbackDiscarding(VdiskState st, VdiskInfo v, SnapshotInfo snap) {
        try (WriteBatch batch = new WriteBatch();
             RocksIterator it = db.db.newIterator(db.changes, db.scanReadOptions)) {
            byte[] end = Keys.changeEpochStart(st.id, v.headEpoch() + 1);
            for (it.seek(Keys.changeEpochStart(st.id, snap.epoch() + 1)); it.isValid() && compare(it.key(), end) < 0; it.next()) {
                long epoch = Keys.changeEpoch(it.key());
                long grain = Keys.changeGrain(it.key());
                batch.delete(db.blocks, Keys.block(st.id, grain, epoch));
                batch.delete(db.changes, it.key());
            }
            writeSync(batch);
        } catch (RocksDBException e) {
            throw storeError("rollback " + v.name(), e);
        }
    }

    /** Later snapshots exist: write at head a copy of what the snapshot sees (or a tombstone). */
    private void rollbackKeepingNewer(VdiskState st, VdiskInfo v, SnapshotInfo snap, TreeSet<Long> grains) {
        long head = v.headEpoch();
        try (ChainReader atSnap = st.reader(db, snap.epoch());
             ChainReader belowHead = st.reader(db, head - 1)) {
            WriteBatch batch = new WriteBatch();
            try {
                for (long g : grains) {
                    batch.delete(db.blocks, Keys.block(st.id, g, head));
                    batch.delete(db.changes, Keys.change(st.id, head, g));
                    ChainReader.Located want = atSnap.locate(g);
                    ChainReader.Located have = belowHead.locate(g);
                    if (!sameVersion(want, have)) {
                        batch.put(db.blocks, Keys.block(st.id, g, head), want == null ? BlockFrame.tombstone() : want.frame());
                        batch.put(db.changes, Keys.change(st.id, head, g), EMPTY);
                    }
                    if (batch.count() >= GC_BATCH_OPS_MAX) {
                        writeSync(batch);
                        batch.close();
                        batch = new WriteBatch();
                    }
                }
                writeSync(batch);
            } finally {
                batch.close();
            }
        } catch (RocksDBException e) {
            throw storeError("rollback " + v.name(), e);
        }
    }

    private static boolean sameVersion(ChainReader.Located a, ChainReader.Located b) {
        if (a == null || b == null) {
            return a == b;
        }
        return a.vdiskId() == b.vdiskId() && a.epoch() == b.epoch();
    }

    // ---- clones ----

    /** Creates {@code childName} as a linked clone of {@code parentName@snapName}: O(1). */
    public VdiskInfo clone(String parentName, String snapName, String childName) {
        checkName("vdisk name", childName);
        synchronized (namespaceLock) {
            VdiskState parent = stateByName(parentName);
            SnapshotInfo snap = snapshot(parentName, snapName);
            checkNameFree(childName);
            VdiskInfo p = parent.info();
            int depth = p.chainDepth() + 1;
            if (depth > CHAIN_DEPTH_MAX) {
                throw new StoreException("clone chain depth: " + depth + " (expected: <= " + CHAIN_DEPTH_MAX
                        + "); flatten " + parentName + " first");
            }
            long id = nextId();
            VdiskInfo child = new VdiskInfo(id, childName, snap.sizeBytes(), p.blockSizeBytes(), p.grainSizeBytes(), 1,
                    Optional.of(new VdiskInfo.ParentLink(p.id(), snap.epoch(), parentName + "@" + snapName)), depth, clock.millis());
            try (WriteBatch batch = new WriteBatch()) {
                batch.put(db.meta, Keys.meta('V', id), MetaCodec.encode(child));
                batch.put(db.meta, Keys.name(childName), Keys.vdiskPrefix(id));
                batch.put(db.meta, Keys.meta('C', p.id(), snap.epoch(), id), EMPTY);
                batch.put(db.meta, Keys.meta('I'), Keys.vdiskPrefix(id + 1));
                writeSync(batch);
            } catch (RocksDBException e) {
                throw storeError("clone " + parentName + "@" + snapName + " to " + childName, e);
            }
            return child;
        }
    }

    /**
     * Copies into a clone every grain it still reads from its parent, then cuts the link. Copies
     * go to epoch 0, below every epoch of the clone, so its snapshots keep reading what they read.
     * Safe to run while the clone serves I/O; a crash midway leaves a clone that is still linked
     * and a flatten that can simply be run again.
     *
     * @param progress called with the number of grains examined so far, out of {@code grainCount}
     */
    public void flatten(String name, LongConsumer progress) {
        VdiskState st = stateByName(name);
        VdiskInfo v = st.info();
        if (v.parent().isEmpty()) {
            throw new StoreException("vdisk " + name + " is not a clone; nothing to flatten");
        }
        checkSpace("flatten of vdisk " + name);
        List<SnapshotInfo> snaps = snapshotsOf(st.id);
        long minRetained = snaps.stream().mapToLong(SnapshotInfo::epoch).min().orElse(v.headEpoch());
        // Snapshots taken before a shrink are larger than the head and read from the parent too.
        long sizeBytes = Math.max(v.sizeBytes(), snaps.stream().mapToLong(SnapshotInfo::sizeBytes).max().orElse(0));
        long grainCount = (sizeBytes + v.grainSizeBytes() - 1) / v.grainSizeBytes();
        try (ChainReader reader = st.reader(db, minRetained)) {
            for (long from = 0; from < grainCount; from += SCAN_CHUNK_GRAINS_MAX) {
                long to = Math.min(grainCount - 1, from + SCAN_CHUNK_GRAINS_MAX - 1);
                if (from > 0) {
                    // A long flatten can fill the disk on its own; it resumes where it stopped.
                    checkSpace("flatten of vdisk " + name + " at grain " + from + " of " + grainCount);
                }
                copyFromParent(st, reader, ancestorsPresent(st, from, to));
                progress.accept(to + 1);
            }
        } catch (RocksDBException e) {
            throw storeError("flatten " + name, e);
        }
        synchronized (namespaceLock) {
            long stamp = st.lock.writeLock();
            try {
                VdiskInfo current = st.info();
                VdiskInfo.ParentLink link = current.parent().orElseThrow();
                VdiskInfo flat = current.withoutParent();
                try (WriteBatch batch = new WriteBatch()) {
                    batch.delete(db.meta, Keys.meta('C', link.vdiskId(), link.epoch(), st.id));
                    batch.put(db.meta, Keys.meta('V', st.id), MetaCodec.encode(flat));
                    writeSync(batch);
                } catch (RocksDBException e) {
                    throw storeError("flatten " + name, e);
                }
                st.info(flat);
                st.setAncestors(new long[0], new long[0]);
            } finally {
                st.lock.unlockWrite(stamp);
            }
            endDescendantChains(st.id);
        }
    }

    /**
     * After {@code flattenedId} was flattened, ends at it the cached chain of every vdisk that reads
     * through it. Their descriptors need no change (a chain is built from the parent links), but
     * a chain still listing its former ancestors lets a grain it no longer holds a version of fall
     * through to data it hid: once flattened, it reclaims a tombstone with nothing of its own
     * below (see {@link #collectGrain}), and its clones would read the grain from its old parent.
     * Takes each one's lock exclusively so no I/O in flight still reads through the old chain.
     * Call with the namespace lock held, which also keeps {@link #state} from loading a chain
     * half before the flatten.
     */
    private void endDescendantChains(long flattenedId) {
        for (VdiskState d : states.values()) {
            if (d.id == flattenedId || Arrays.stream(d.chainIds()).noneMatch(id -> id == flattenedId)) {
                continue;
            }
            long stamp = d.lock.writeLock();
            try {
                if (!d.endChainAt(flattenedId)) {
                    throw new IllegalStateException("flatten: vdisk id " + flattenedId + " left the chain of " + d.info().name());
                }
            } finally {
                d.lock.unlockWrite(stamp);
            }
        }
    }

    private void copyFromParent(VdiskState st, ChainReader reader, long[] grains) throws RocksDBException {
        try (WriteBatch batch = new WriteBatch()) {
            for (long g : grains) {
                if (reader.floor(0, g, reader.epochAt(0)) != null) {
                    continue; // the clone's own version masks the parent in every retained view
                }
                ChainReader.Located fromParent = reader.locate(g);
                if (fromParent == null || !BlockFrame.isMapped(fromParent.frame())) {
                    continue;
                }
                batch.put(db.blocks, Keys.block(st.id, g, 0), fromParent.frame());
                batch.put(db.changes, Keys.change(st.id, 0, g), EMPTY);
            }
            writeSync(batch);
        }
    }

    // ---- diff and usage ----

    /**
     * The extents that changed between {@code fromSnap} (exclusive; null for the beginning) and
     * {@code toSnap} (null for the head), in O(changed grains). For a clone, "the beginning"
     * means the clone's creation: data it reads from its parent is not listed.
     */
    public List<Extent> diff(String vdiskName, String fromSnap, String toSnap) {
        VdiskState st = stateByName(vdiskName);
        VdiskInfo v = st.info();
        long fromEpoch = fromSnap == null ? -1 : snapshot(vdiskName, fromSnap).epoch();
        SnapshotInfo to = toSnap == null ? null : snapshot(vdiskName, toSnap);
        long toEpoch = to == null ? v.headEpoch() : to.epoch();
        long sizeBytes = to == null ? v.sizeBytes() : to.sizeBytes();
        if (fromEpoch >= toEpoch) {
            throw new StoreException("diff from " + vdiskName + "@" + fromSnap + " (epoch " + fromEpoch + ") to "
                    + (toSnap == null ? vdiskName : vdiskName + "@" + toSnap) + " (epoch " + toEpoch + "): expected the first to be older");
        }
        List<Extent> out = new ArrayList<>();
        int grainSize = v.grainSizeBytes();
        try (ChainReader reader = st.reader(db, toEpoch)) {
            for (long g : changedGrains(st.id, fromEpoch, toEpoch)) {
                long offset = g * grainSize;
                if (offset >= sizeBytes) {
                    break;
                }
                ChainReader.Located loc = reader.locate(g);
                boolean data = loc != null && BlockFrame.kind(loc.frame()) != BlockFrame.Kind.TOMBSTONE
                        && BlockFrame.kind(loc.frame()) != BlockFrame.Kind.ZEROS;
                long length = Math.min(grainSize, sizeBytes - offset);
                Extent last = out.isEmpty() ? null : out.get(out.size() - 1);
                if (last != null && last.data() == data && last.offsetBytes() + last.lengthBytes() == offset) {
                    out.set(out.size() - 1, new Extent(last.offsetBytes(), last.lengthBytes() + length, data));
                } else {
                    out.add(new Extent(offset, length, data));
                }
            }
        }
        return out;
    }

    public Usage usage(String name) {
        VdiskState st = stateByName(name);
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
                stored += value.length;
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
        VdiskState st = stateByName(name);
        List<String> out = new ArrayList<>();
        byte[] prefix = Keys.vdiskPrefix(st.id);
        try (RocksIterator it = db.db.newIterator(db.blocks, db.scanReadOptions)) {
            for (it.seek(prefix); it.isValid() && Keys.hasPrefix(it.key(), prefix); it.next()) {
                out.add(Keys.blockGrain(it.key()) + "@" + Keys.blockEpoch(it.key()) + ":" + BlockFrame.kind(it.value()));
            }
        }
        return out;
    }

    // ---- devices ----

    /** Opens {@code name} (the head, writable) or {@code name@snap} (read-only) as a block device. */
    public Vdisk open(String spec) {
        int at = spec.indexOf('@');
        String name = at < 0 ? spec : spec.substring(0, at);
        VdiskState st = stateByName(name);
        Optional<SnapshotInfo> snap = at < 0 ? Optional.empty() : Optional.of(snapshot(name, spec.substring(at + 1)));
        st.openHandles.incrementAndGet();
        snap.ifPresent(s -> st.snapshotOpened(s.epoch(), 1));
        return new Vdisk(this, st, snap);
    }

    void release(VdiskState st, Optional<SnapshotInfo> snap) {
        snap.ifPresent(s -> st.snapshotOpened(s.epoch(), -1));
        int left = st.openHandles.decrementAndGet();
        if (left < 0) {
            throw new IllegalStateException("vdisk " + st.info().name() + " released more often than opened");
        }
    }

    // ---- hooks for a replicated state machine (cluster-fs) ----

    /**
     * Records that log entries up to {@code index} of the log named {@code log} have been
     * applied. The record goes through the same write-ahead log as the data, after it, so after a
     * crash the recorded index never claims more than what survived; entries after it are applied
     * again, which every engine operation tolerates (writes, unmaps and write-zeroes are
     * idempotent; a snapshot that already exists is the caller's no-op).
     */
    public void recordAppliedIndex(String log, long index) {
        try {
            db.db.put(db.meta, appliedKey(log), Keys.vdiskPrefix(index));
        } catch (RocksDBException e) {
            throw storeError("record applied index of " + log, e);
        }
        appliedIndexes.put(log, index);
    }

    /** {@code log}'s applied index was committed as {@code index} (by an {@link EntryBatch}). */
    void appliedIndexWritten(String log, long index) {
        appliedIndexes.put(log, index);
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
        Long known = appliedIndexes.get(log);
        if (known != null) {
            return known;
        }
        try {
            byte[] v = db.db.get(db.meta, appliedKey(log));
            long index = v == null ? -1 : Keys.getLong(v, 0);
            appliedIndexes.putIfAbsent(log, index);
            return index;
        } catch (RocksDBException e) {
            throw storeError("read applied index of " + log, e);
        }
    }

    /**
     * Calls {@code action} with every record the state machine of {@code log} committed through
     * {@link EntryBatch#putLogRecord} (its own key, without the log prefix), in key order.
     */
    public void forEachLogRecord(String log, java.util.function.BiConsumer<byte[], byte[]> action) {
        byte[] prefix = logRecordKey(log, new byte[0]);
        try (RocksIterator it = db.db.newIterator(db.meta, db.scanReadOptions)) {
            for (it.seek(prefix); it.isValid() && Keys.hasPrefix(it.key(), prefix); it.next()) {
                byte[] k = it.key();
                action.accept(java.util.Arrays.copyOfRange(k, prefix.length, k.length), it.value());
            }
        }
    }

    /** The meta key of record {@code key} of log {@code log}: 'L', the log name's length (2 bytes), the name, the key. */
    static byte[] logRecordKey(String log, byte[] key) {
        byte[] name = log.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        if (name.length > 0xFFFF) {
            throw new IllegalArgumentException("log name: " + name.length + " bytes (expected: <= 65535)");
        }
        byte[] k = new byte[3 + name.length + key.length];
        k[0] = 'L';
        k[1] = (byte) (name.length >>> 8);
        k[2] = (byte) name.length;
        System.arraycopy(name, 0, k, 3, name.length);
        System.arraycopy(key, 0, k, 3 + name.length, key.length);
        return k;
    }

    static byte[] appliedKey(String log) {
        byte[] name = log.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] k = new byte[1 + name.length];
        k[0] = 'A';
        System.arraycopy(name, 0, k, 1, name.length);
        return k;
    }

    /**
     * Writes a consistent point-in-time copy of the whole store to {@code target} (which must not
     * exist) as a RocksDB checkpoint: hard links to table files plus a copy of the live WAL. A
     * store opened on that directory is a replica of this one at that moment.
     */
    public void checkpoint(Path target) {
        try (org.rocksdb.Checkpoint cp = org.rocksdb.Checkpoint.create(db.db)) {
            cp.createCheckpoint(target.toString());
        } catch (RocksDBException e) {
            throw storeError("checkpoint to " + target, e);
        }
    }

    /** RocksDB's own statistics of the block column family (compaction, stalls, amplification), for benchmarks. */
    public String blockStoreStats() {
        try {
            return db.db.getProperty(db.blocks, "rocksdb.stats");
        } catch (RocksDBException e) {
            throw storeError("read statistics", e);
        }
    }

    /** Makes every acknowledged write of every vdisk durable against power loss. */
    public void flush() {
        try {
            db.syncWal();
        } catch (RocksDBException e) {
            throw storeError("flush", e);
        }
    }

    @Override
    public void close() {
        synchronized (closeLock) {
            closed = true;
        }
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

    // ---- grains present in a range, through the chain ----

    /** Sorted distinct grains of {@code [first, last]} that the vdisk or an ancestor has any version of. */
    long[] grainsPresent(VdiskState st, long first, long last) {
        return present(st.chainIds(), first, last);
    }

    private long[] ancestorsPresent(VdiskState st, long first, long last) {
        long[] ids = st.chainIds();
        return present(Arrays.copyOfRange(ids, 1, ids.length), first, last);
    }

    private long[] present(long[] ids, long first, long last) {
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

    // ---- garbage collection of deleted snapshots ----

    private void resumeGarbageCollection() {
        List<long[]> pending = new ArrayList<>();
        byte[] prefix = {'G'};
        try (RocksIterator it = db.db.newIterator(db.meta, db.scanReadOptions)) {
            for (it.seek(prefix); it.isValid() && Keys.hasPrefix(it.key(), prefix); it.next()) {
                pending.add(new long[] {Keys.getLong(it.key(), 1), Keys.getLong(it.key(), 9)});
            }
        }
        for (long[] task : pending) {
            collectGarbage(state(task[0]), task[1]);
        }
    }

    /**
     * Deletes the versions that only the deleted snapshot at {@code epoch} could see. With
     * {@code prev} the newest retained epoch below and {@code next} the oldest retained epoch
     * above (the head if none): of a grain's versions in {@code (prev, epoch]} only the newest can
     * still be seen, by {@code next}, and only if nothing in {@code (epoch, next]} hides it.
     *
     * <p>When the deleted snapshot was the newest ({@code next} is the head), a kept version is
     * moved up to the head epoch; otherwise a later head write would leave it behind, seen by
     * no one. Head writes race with that move, so it runs per grain under the grain's lock and
     * with a fresh reader. Versions in {@code (epoch, next]} of a snapshot {@code next} are
     * immutable, so the other case needs no lock.
     */
    private void collectGarbage(VdiskState st, long epoch) {
        VdiskInfo v = st.info();
        List<SnapshotInfo> snaps = snapshotsOf(st.id);
        long prev = snaps.stream().mapToLong(SnapshotInfo::epoch).filter(e -> e < epoch).max().orElse(-1);
        java.util.OptionalLong nextSnap = snaps.stream().mapToLong(SnapshotInfo::epoch).filter(e -> e > epoch).min();
        boolean nextIsHead = nextSnap.isEmpty();
        long next = nextSnap.orElse(v.headEpoch());
        if (next <= epoch) {
            throw new IllegalStateException("gc: next retained epoch " + next + " <= deleted epoch " + epoch + " vdisk=" + v.name());
        }
        Set<Long> done = new HashSet<>();
        List<Long> bareTombstones = new ArrayList<>();
        try (RocksIterator changes = db.db.newIterator(db.changes, db.scanReadOptions);
             ChainReader reader = st.reader(db, epoch)) {
            WriteBatch batch = new WriteBatch();
            try {
                byte[] end = Keys.changeEpochStart(st.id, epoch + 1);
                for (changes.seek(Keys.changeEpochStart(st.id, prev + 1)); changes.isValid() && compare(changes.key(), end) < 0; changes.next()) {
                    long grain = Keys.changeGrain(changes.key());
                    if (!done.add(grain)) {
                        continue;
                    }
                    boolean bare = nextIsHead
                            ? collectGrainUnderLock(st, grain, prev, epoch, next)
                            : collectGrain(batch, reader, st, grain, prev, epoch, next, false);
                    if (bare) {
                        bareTombstones.add(grain);
                    }
                    if (batch.count() >= GC_BATCH_OPS_MAX) {
                        db.db.write(db.writeOptions, batch);
                        batch.close();
                        batch = new WriteBatch();
                    }
                }
                if (!bareTombstones.isEmpty()) {
                    db.db.write(db.writeOptions, batch);
                    batch.close();
                    batch = new WriteBatch();
                    for (long grain : bareTombstones) {
                        dropTombstonesHidingNothing(st, grain);
                    }
                }
                batch.delete(db.meta, Keys.meta('G', st.id, epoch));
                writeSync(batch);
            } finally {
                batch.close();
            }
        } catch (RocksDBException e) {
            throw storeError("garbage collection of " + v.name() + " epoch " + epoch, e);
        }
    }

    private boolean collectGrainUnderLock(VdiskState st, long grain, long prev, long epoch, long head) throws RocksDBException {
        int[] locks = grainLocks.lock(st.id, grain, grain);
        try (ChainReader fresh = st.reader(db, epoch); WriteBatch batch = new WriteBatch()) {
            boolean bare = collectGrain(batch, fresh, st, grain, prev, epoch, head, true);
            if (batch.count() > 0) {
                db.db.write(db.writeOptions, batch);
            }
            return bare;
        } finally {
            grainLocks.unlock(locks);
        }
    }

    /**
     * Deletes what no retained epoch sees of {@code grain} among its versions in
     * {@code (prev, epoch]}; returns true when nothing of it is left at or below {@code epoch} and
     * its oldest version above is a tombstone, which then hides nothing
     * ({@link #dropTombstonesHidingNothing}, after this batch is written).
     */
    private boolean collectGrain(WriteBatch batch, ChainReader reader, VdiskState st, long grain, long prev, long epoch, long next,
                                 boolean nextIsHead) throws RocksDBException {
        List<ChainReader.Located> versions = new ArrayList<>();
        for (ChainReader.Located loc = reader.floor(0, grain, epoch); loc != null && loc.epoch() > prev; loc = reader.olderThan(loc, grain)) {
            versions.add(loc);
        }
        if (versions.isEmpty()) {
            return false;
        }
        ChainReader.Located above = reader.floor(0, grain, next);
        boolean hiddenFromNext = above != null && above.epoch() > epoch;
        ChainReader.Located newest = versions.get(0);
        boolean keepNewest = !hiddenFromNext;
        if (keepNewest && !BlockFrame.isMapped(newest.frame()) && !st.isClone()) {
            // A tombstone with nothing below it (and no parent to show through) hides nothing.
            boolean nothingBelow = prev < 0 || reader.floor(0, grain, prev) == null;
            keepNewest = !nothingBelow;
        }
        boolean promote = keepNewest && nextIsHead;
        for (int i = keepNewest && !promote ? 1 : 0; i < versions.size(); i++) {
            long x = versions.get(i).epoch();
            batch.delete(db.blocks, Keys.block(st.id, grain, x));
            batch.delete(db.changes, Keys.change(st.id, x, grain));
        }
        if (promote) {
            batch.put(db.blocks, Keys.block(st.id, grain, next), newest.frame());
            batch.put(db.changes, Keys.change(st.id, next, grain), EMPTY);
        }
        boolean survivorBelow = keepNewest || (prev >= 0 && reader.floor(0, grain, prev) != null);
        if (survivorBelow || st.isClone()) {
            return false;
        }
        ChainReader.Located lowestAbove = null;
        for (ChainReader.Located loc = reader.floor(0, grain, Long.MAX_VALUE); loc != null && loc.epoch() > epoch; loc = reader.olderThan(loc, grain)) {
            lowestAbove = loc;
        }
        return lowestAbove != null && !BlockFrame.isMapped(lowestAbove.frame());
    }

    /**
     * {@code grain} has nothing left below its oldest versions, which are tombstones: they hide
     * nothing any more (reads through them find nothing either way), wherever they are — a later
     * snapshot's epoch or the head — so they go, oldest first up to the first mapped version.
     * Under the grain's lock with a fresh reader, as a write at the head may race. Only looking at
     * the head's tombstone when the next retained epoch was the head left it behind for good when
     * a snapshot between them went first (model seed -8408450).
     */
    private void dropTombstonesHidingNothing(VdiskState st, long grain) throws RocksDBException {
        int[] locks = grainLocks.lock(st.id, grain, grain);
        try (ChainReader fresh = st.reader(db, st.info().headEpoch()); WriteBatch batch = new WriteBatch()) {
            List<ChainReader.Located> all = new ArrayList<>();
            for (ChainReader.Located loc = fresh.floor(0, grain, Long.MAX_VALUE); loc != null; loc = fresh.olderThan(loc, grain)) {
                all.add(loc);
            }
            for (int i = all.size() - 1; i >= 0 && !BlockFrame.isMapped(all.get(i).frame()); i--) {
                long x = all.get(i).epoch();
                batch.delete(db.blocks, Keys.block(st.id, grain, x));
                batch.delete(db.changes, Keys.change(st.id, x, grain));
            }
            if (batch.count() > 0) {
                db.db.write(db.writeOptions, batch);
            }
        } finally {
            grainLocks.unlock(locks);
        }
    }

    /** Sorted distinct grains with a version in epochs {@code (fromExclusive, toInclusive]}. */
    private TreeSet<Long> changedGrains(long id, long fromExclusive, long toInclusive) {
        TreeSet<Long> grains = new TreeSet<>();
        byte[] end = Keys.changeEpochStart(id, toInclusive + 1);
        try (RocksIterator it = db.db.newIterator(db.changes, db.scanReadOptions)) {
            for (it.seek(Keys.changeEpochStart(id, fromExclusive + 1)); it.isValid() && compare(it.key(), end) < 0; it.next()) {
                grains.add(Keys.changeGrain(it.key()));
            }
        }
        return grains;
    }

    // ---- metadata helpers ----

    private List<SnapshotInfo> snapshotsOf(long id) {
        List<SnapshotInfo> out = new ArrayList<>();
        byte[] prefix = Keys.meta('S', id);
        try (RocksIterator it = db.db.newIterator(db.meta, db.scanReadOptions)) {
            for (it.seek(prefix); it.isValid() && Keys.hasPrefix(it.key(), prefix); it.next()) {
                out.add(MetaCodec.decodeSnapshot(it.value()));
            }
        }
        return out;
    }

    private Optional<SnapshotInfo> findSnapshot(long id, String snapName) {
        return snapshotsOf(id).stream().filter(s -> s.name().equals(snapName)).findFirst();
    }

    private VdiskState stateByName(String name) {
        long id = lookupId(name).orElseThrow(() -> new StoreException("no vdisk named " + name));
        return state(id);
    }

    private Optional<Long> lookupId(String name) {
        try {
            byte[] id = db.db.get(db.meta, Keys.name(name));
            return id == null ? Optional.empty() : Optional.of(Keys.getLong(id, 0));
        } catch (RocksDBException e) {
            throw storeError("look up " + name, e);
        }
    }

    private VdiskState state(long id) {
        VdiskState st = states.get(id);
        if (st != null) {
            return st;
        }
        // Load under the namespace lock: flatten changes chains under it, and a chain read from
        // descriptors written before a flatten but cached after it would keep the flattened
        // vdisk's former ancestors (see endDescendantChains).
        synchronized (namespaceLock) {
            return states.computeIfAbsent(id, this::loadState);
        }
    }

    private VdiskState loadState(long id) {
        VdiskInfo info = descriptor(id);
        List<Long> ids = new ArrayList<>();
        List<Long> epochs = new ArrayList<>();
        Optional<VdiskInfo.ParentLink> link = info.parent();
        while (link.isPresent()) {
            if (ids.size() >= CHAIN_DEPTH_MAX) {
                throw new IllegalStateException("clone chain of " + info.name() + " longer than " + CHAIN_DEPTH_MAX);
            }
            ids.add(link.get().vdiskId());
            epochs.add(link.get().epoch());
            link = descriptor(link.get().vdiskId()).parent();
        }
        return new VdiskState(info, ids.stream().mapToLong(Long::longValue).toArray(), epochs.stream().mapToLong(Long::longValue).toArray());
    }

    private VdiskInfo descriptor(long id) {
        try {
            byte[] bytes = db.db.get(db.meta, Keys.meta('V', id));
            if (bytes == null) {
                throw new IllegalStateException("vdisk id " + id + " has no descriptor");
            }
            return MetaCodec.decodeVdisk(bytes);
        } catch (RocksDBException e) {
            throw storeError("read descriptor " + id, e);
        }
    }

    private void putDescriptor(VdiskInfo info) {
        try (WriteBatch batch = new WriteBatch()) {
            batch.put(db.meta, Keys.meta('V', info.id()), MetaCodec.encode(info));
            writeSync(batch);
        } catch (RocksDBException e) {
            throw storeError("update " + info.name(), e);
        }
    }

    private long nextId() {
        try {
            byte[] next = db.db.get(db.meta, Keys.meta('I'));
            return next == null ? 1 : Keys.getLong(next, 0);
        } catch (RocksDBException e) {
            throw storeError("allocate vdisk id", e);
        }
    }

    private void checkNameFree(String name) {
        if (lookupId(name).isPresent()) {
            throw new StoreException("vdisk " + name + " already exists");
        }
    }

    private void writeSync(WriteBatch batch) throws RocksDBException {
        if (db.readOnlyReason != null) {
            throw new StoreException("store " + dir + ": " + db.readOnlyReason);
        }
        if (batch.count() > 0) {
            db.db.write(db.syncWriteOptions, batch);
        }
    }

    private StoreException storeError(String what, RocksDBException e) {
        return new StoreException(what + " failed: " + e.getMessage(), e);
    }

    static void checkName(String what, String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(what + ": '" + name + "' (expected: 1-128 of A-Z a-z 0-9 . _ -, starting with a letter or digit)");
        }
    }

    static void checkGeometry(long sizeBytes, int blockSizeBytes, int grainSizeBytes) {
        if (blockSizeBytes != 512 && blockSizeBytes != 4096) {
            throw new IllegalArgumentException("block size: " + blockSizeBytes + " (expected: 512 or 4096)");
        }
        if (Integer.bitCount(grainSizeBytes) != 1 || grainSizeBytes < blockSizeBytes || grainSizeBytes > GRAIN_SIZE_MAX_BYTES) {
            throw new IllegalArgumentException("grain size: " + grainSizeBytes + " (expected: a power of two, "
                    + blockSizeBytes + ".." + GRAIN_SIZE_MAX_BYTES + ")");
        }
        if (sizeBytes <= 0 || sizeBytes > SIZE_MAX_BYTES || sizeBytes % blockSizeBytes != 0) {
            throw new IllegalArgumentException("size: " + sizeBytes + " bytes (expected: a positive multiple of "
                    + blockSizeBytes + ", at most " + SIZE_MAX_BYTES + ")");
        }
    }

    private static int compare(byte[] a, byte[] b) {
        return Arrays.compareUnsigned(a, b);
    }
}
