package io.basalt.vdisk.store;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;

import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;

import io.basalt.vdisk.frame.BlockFrame;

/**
 * Garbage collection of removed snapshots: deletes the versions that only a removed snapshot
 * could see, in bounded steps ({@link #step}) that {@link GcWorker} runs in the background.
 *
 * <p>A removal is recorded as a 'G' key ({@code G vdiskId epoch}) in the batch that deletes the
 * snapshot; its value is the cursor, the change-index key the next step starts at (empty: the
 * start). Each step runs under the catalog's lock and computes afresh, from the snapshots and
 * head epoch of that moment, what is collectable, so snapshots taken, rolled back to or removed
 * between steps are accounted for; it writes its deletions and then the moved cursor, and the
 * last one deletes the key, fsync'd. A crash repeats at most one step (every step is
 * idempotent); the next open resumes the rest. Before a grain's deletions go into a batch,
 * {@link GcInvariant} checks that no retained epoch reads it differently.
 */
final class SnapshotGc {
    /** Grains one step examines at most: it holds the catalog's lock (namespace changes wait) meanwhile. */
    static final int STEP_GRAINS_MAX = 1024;
    private static final byte[] EMPTY = new byte[0];
    private static final int CURSOR_BYTES = 16;

    private final Catalog catalog;
    private final StoreDb db;
    private final GrainLocks grainLocks;
    /** Grains per step: {@link #STEP_GRAINS_MAX}, fewer in a test so that a small vdisk takes many steps. */
    private volatile int stepGrains = STEP_GRAINS_MAX;

    /** A removed snapshot whose versions are still being collected: its 'G' key. */
    record Task(long vdiskId, long epoch) {}

    /**
     * The epochs around a removed snapshot's: {@code prev}, the newest retained epoch below it
     * (-1 if none), and {@code next}, the oldest retained above it, which is the head epoch when
     * {@code nextIsHead}.
     */
    record Window(long prev, long epoch, long next, boolean nextIsHead) {
        Window {
            if (next <= epoch || prev >= epoch) {
                throw new IllegalStateException("gc window: prev " + prev + ", deleted " + epoch + ", next " + next
                        + " (expected: prev < deleted < next)");
            }
        }
    }

    /** What one step works with: the vdisk, its window and every epoch it retains (snapshots and head). */
    private record Step(VdiskState st, String name, Window w, long[] retainedEpochs) {}

    SnapshotGc(Catalog catalog, GrainLocks grainLocks) {
        this.catalog = catalog;
        this.db = catalog.db();
        this.grainLocks = grainLocks;
    }

    void stepGrains(int grains) {
        if (grains < 1 || grains > STEP_GRAINS_MAX) {
            throw new IllegalArgumentException("gc step grains: " + grains + " (expected: 1.." + STEP_GRAINS_MAX + ")");
        }
        stepGrains = grains;
    }

    /** Records, in {@code batch} (the one that deletes the snapshot), that the versions of {@code epoch} are to be collected. */
    void enqueue(WriteBatch batch, long vdiskId, long epoch) throws RocksDBException {
        batch.put(db.meta, Keys.meta('G', vdiskId, epoch), EMPTY);
    }

    /** The collections not finished yet, of every vdisk ({@code vdiskId} < 0) or of one, in key order. */
    List<Task> pending(long vdiskId) {
        List<Task> out = new ArrayList<>();
        byte[] prefix = vdiskId < 0 ? new byte[] {'G'} : Keys.meta('G', vdiskId);
        try (RocksIterator it = db.db.newIterator(db.meta, db.scanReadOptions)) {
            for (it.seek(prefix); it.isValid() && Keys.hasPrefix(it.key(), prefix); it.next()) {
                out.add(new Task(Keys.getLong(it.key(), 1), Keys.getLong(it.key(), 9)));
            }
        }
        return out;
    }

    /**
     * Collects up to {@link #STEP_GRAINS_MAX} grains of {@code task}; true when the task is done
     * (its key deleted). Call with the catalog's lock held. With {@code prev} the newest retained
     * epoch below the removed one and {@code next} the oldest retained epoch above (the head if
     * none): of a grain's versions in {@code (prev, epoch]} only the newest can still be seen, by
     * {@code next}, and only if nothing in {@code (epoch, next]} hides it.
     *
     * <p>When {@code next} is the head, a kept version is moved up to the head epoch; otherwise a
     * later head write would leave it behind, seen by no one. Head writes race with that move, so
     * it runs per grain under the grain's lock and with a fresh reader. Versions in
     * {@code (prev, next]} of a snapshot {@code next} are immutable, so the other case needs no lock.
     */
    boolean step(Task task) {
        if (!Thread.holdsLock(catalog.lock)) {
            throw new IllegalStateException("snapshot gc step of vdisk id " + task.vdiskId() + " without the catalog's lock");
        }
        byte[] key = Keys.meta('G', task.vdiskId(), task.epoch());
        try {
            byte[] cursor = db.db.get(db.meta, key);
            if (cursor == null) {
                return true;
            }
            if (db.db.get(db.meta, Keys.meta('V', task.vdiskId())) == null) {
                deleteKey(key); // the vdisk was removed with all its versions
                return true;
            }
            Step s = prepare(task);
            byte[] start = Keys.changeEpochStart(task.vdiskId(), s.w().prev() + 1);
            if (cursor.length == CURSOR_BYTES) {
                byte[] at = Keys.change(task.vdiskId(), Keys.getLong(cursor, 0), Keys.getLong(cursor, 8));
                start = Arrays.compareUnsigned(at, start) > 0 ? at : start;
            }
            byte[] resumeAt = collectFrom(s, start);
            try (WriteBatch batch = new WriteBatch()) {
                if (resumeAt == null) {
                    batch.delete(db.meta, key);
                    catalog.writeSync(batch);
                    return true;
                }
                byte[] next = new byte[CURSOR_BYTES];
                Keys.putLong(next, 0, Keys.changeEpoch(resumeAt));
                Keys.putLong(next, 8, Keys.changeGrain(resumeAt));
                batch.put(db.meta, key, next);
                db.db.write(db.writeOptions, batch);
                return false;
            }
        } catch (RocksDBException e) {
            throw Catalog.storeError("garbage collection of vdisk id " + task.vdiskId() + " epoch " + task.epoch(), e);
        }
    }

    private void deleteKey(byte[] key) throws RocksDBException {
        try (WriteBatch batch = new WriteBatch()) {
            batch.delete(db.meta, key);
            catalog.writeSync(batch);
        }
    }

    private Step prepare(Task task) {
        VdiskState st = catalog.state(task.vdiskId());
        VdiskInfo v = st.info();
        List<SnapshotInfo> snaps = catalog.snapshotsOf(st.id);
        if (snaps.stream().anyMatch(s -> s.epoch() == task.epoch())) {
            throw new IllegalStateException("gc of epoch " + task.epoch() + " of vdisk " + v.name() + ": a snapshot still holds it");
        }
        long prev = snaps.stream().mapToLong(SnapshotInfo::epoch).filter(e -> e < task.epoch()).max().orElse(-1);
        OptionalLong nextSnap = snaps.stream().mapToLong(SnapshotInfo::epoch).filter(e -> e > task.epoch()).min();
        Window w = new Window(prev, task.epoch(), nextSnap.orElse(v.headEpoch()), nextSnap.isEmpty());
        long[] retained = new long[snaps.size() + 1];
        for (int i = 0; i < snaps.size(); i++) {
            retained[i] = snaps.get(i).epoch();
        }
        retained[snaps.size()] = v.headEpoch();
        return new Step(st, v.name(), w, retained);
    }

    /**
     * Collects the grains changed in the window from change key {@code start} on, up to
     * {@link #stepGrains} of them; returns the change key to resume at, or null when the
     * window is done.
     */
    private byte[] collectFrom(Step s, byte[] start) throws RocksDBException {
        Set<Long> done = new HashSet<>();
        List<Long> bareTombstones = new ArrayList<>();
        byte[] resumeAt = null;
        try (RocksIterator changes = db.db.newIterator(db.changes, db.scanReadOptions);
             ChainReader reader = s.st().reader(db, s.w().epoch())) {
            WriteBatch batch = new WriteBatch();
            try {
                byte[] end = Keys.changeEpochStart(s.st().id, s.w().epoch() + 1);
                for (changes.seek(start); changes.isValid() && Arrays.compareUnsigned(changes.key(), end) < 0; changes.next()) {
                    long grain = Keys.changeGrain(changes.key());
                    if (done.contains(grain)) {
                        continue;
                    }
                    if (done.size() >= stepGrains) {
                        resumeAt = changes.key();
                        break;
                    }
                    done.add(grain);
                    boolean bare = s.w().nextIsHead() ? collectGrainUnderLock(s, grain) : collectGrain(s, batch, reader, grain);
                    if (bare) {
                        bareTombstones.add(grain);
                    }
                    if (batch.count() >= VdiskStore.GC_BATCH_OPS_MAX) {
                        db.db.write(db.writeOptions, batch);
                        batch.close();
                        batch = new WriteBatch();
                    }
                }
                if (batch.count() > 0) {
                    db.db.write(db.writeOptions, batch);
                }
            } finally {
                batch.close();
            }
        }
        for (long grain : bareTombstones) {
            dropTombstonesHidingNothing(s, grain);
        }
        return resumeAt;
    }

    private boolean collectGrainUnderLock(Step s, long grain) throws RocksDBException {
        int[] locks = grainLocks.lock(s.st().id, grain, grain);
        try (ChainReader fresh = s.st().reader(db, s.w().epoch()); WriteBatch batch = new WriteBatch()) {
            boolean bare = collectGrain(s, batch, fresh, grain);
            if (batch.count() > 0) {
                db.db.write(db.writeOptions, batch);
            }
            return bare;
        } finally {
            grainLocks.unlock(locks);
        }
    }

    /**
     * Deletes what no retained epoch sees of the grain among its versions in
     * {@code (prev, epoch]}; returns true when nothing of it is left at or below {@code epoch} and
     * its oldest version above is a tombstone, which then hides nothing
     * ({@link #dropTombstonesHidingNothing}, after this batch is written).
     */
    private boolean collectGrain(Step s, WriteBatch batch, ChainReader reader, long grain) throws RocksDBException {
        Window w = s.w();
        boolean clone = s.st().isClone();
        List<ChainReader.Located> all = ownVersions(reader, grain);
        List<ChainReader.Located> versions = all.stream().filter(l -> l.epoch() > w.prev() && l.epoch() <= w.epoch()).toList();
        if (versions.isEmpty()) {
            return false;
        }
        ChainReader.Located above = all.stream().filter(l -> l.epoch() <= w.next()).findFirst().orElse(null);
        boolean hiddenFromNext = above != null && above.epoch() > w.epoch();
        boolean nothingBelow = all.stream().noneMatch(l -> l.epoch() <= w.prev());
        ChainReader.Located newest = versions.get(0);
        boolean keepNewest = !hiddenFromNext;
        if (keepNewest && !BlockFrame.isMapped(newest.frame()) && !clone) {
            keepNewest = !nothingBelow; // a tombstone with nothing below it (and no parent to show through) hides nothing
        }
        boolean promote = keepNewest && w.nextIsHead();
        Set<Long> deleted = new TreeSet<>();
        for (int i = keepNewest && !promote ? 1 : 0; i < versions.size(); i++) {
            deleted.add(versions.get(i).epoch());
        }
        GcInvariant.Put put = promote ? new GcInvariant.Put(w.next(), newest.frame()) : null;
        GcInvariant.check(s.name(), grain, asVersions(all), deleted, put, s.retainedEpochs(), clone);
        for (long x : deleted) {
            batch.delete(db.blocks, Keys.block(s.st().id, grain, x));
            batch.delete(db.changes, Keys.change(s.st().id, x, grain));
        }
        if (put != null) {
            batch.put(db.blocks, Keys.block(s.st().id, grain, put.epoch()), put.frame());
            batch.put(db.changes, Keys.change(s.st().id, put.epoch(), grain), EMPTY);
        }
        if (keepNewest || !nothingBelow || clone) {
            return false;
        }
        ChainReader.Located lowestAbove = null;
        for (ChainReader.Located l : all) {
            if (l.epoch() > w.epoch()) {
                lowestAbove = l;
            }
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
    private void dropTombstonesHidingNothing(Step s, long grain) throws RocksDBException {
        int[] locks = grainLocks.lock(s.st().id, grain, grain);
        try (ChainReader fresh = s.st().reader(db, s.st().info().headEpoch()); WriteBatch batch = new WriteBatch()) {
            List<ChainReader.Located> all = ownVersions(fresh, grain);
            Set<Long> deleted = new TreeSet<>();
            for (int i = all.size() - 1; i >= 0 && !BlockFrame.isMapped(all.get(i).frame()); i--) {
                deleted.add(all.get(i).epoch());
            }
            GcInvariant.check(s.name(), grain, asVersions(all), deleted, null, s.retainedEpochs(), s.st().isClone());
            for (long x : deleted) {
                batch.delete(db.blocks, Keys.block(s.st().id, grain, x));
                batch.delete(db.changes, Keys.change(s.st().id, x, grain));
            }
            if (batch.count() > 0) {
                db.db.write(db.writeOptions, batch);
            }
        } finally {
            grainLocks.unlock(locks);
        }
    }

    /** Every version the vdisk itself keeps of {@code grain}, newest first. */
    private static List<ChainReader.Located> ownVersions(ChainReader reader, long grain) {
        List<ChainReader.Located> all = new ArrayList<>();
        for (ChainReader.Located loc = reader.floor(0, grain, Long.MAX_VALUE); loc != null; loc = reader.olderThan(loc, grain)) {
            all.add(loc);
        }
        return all;
    }

    private static List<GcInvariant.Version> asVersions(List<ChainReader.Located> all) {
        return all.stream().map(l -> new GcInvariant.Version(l.epoch(), l.frame())).toList();
    }
}
