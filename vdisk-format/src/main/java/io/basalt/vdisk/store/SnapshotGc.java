package io.basalt.vdisk.store;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;

import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;

import io.basalt.vdisk.frame.BlockFrame;

/**
 * Garbage collection of deleted snapshots: deletes the versions that only a deleted snapshot
 * could see. A deletion is recorded as a 'G' key in the batch that deletes the snapshot, and
 * the key goes in the last batch of the collection, so a collection cut short by a crash is
 * resumed by {@link #resume} at the next open (every step is idempotent).
 */
final class SnapshotGc {
    private static final byte[] EMPTY = new byte[0];

    private final Catalog catalog;
    private final StoreDb db;
    private final GrainLocks grainLocks;

    /**
     * The epochs around a deleted snapshot's: {@code prev}, the newest retained epoch below it
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

    SnapshotGc(Catalog catalog, GrainLocks grainLocks) {
        this.catalog = catalog;
        this.db = catalog.db();
        this.grainLocks = grainLocks;
    }

    /** Finishes every collection a crash cut short. */
    void resume() {
        List<long[]> pending = new ArrayList<>();
        byte[] prefix = {'G'};
        try (RocksIterator it = db.db.newIterator(db.meta, db.scanReadOptions)) {
            for (it.seek(prefix); it.isValid() && Keys.hasPrefix(it.key(), prefix); it.next()) {
                pending.add(new long[] {Keys.getLong(it.key(), 1), Keys.getLong(it.key(), 9)});
            }
        }
        for (long[] task : pending) {
            collect(catalog.state(task[0]), task[1]);
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
    void collect(VdiskState st, long epoch) {
        VdiskInfo v = st.info();
        Window w = window(st, v, epoch);
        Set<Long> done = new HashSet<>();
        List<Long> bareTombstones = new ArrayList<>();
        try (RocksIterator changes = db.db.newIterator(db.changes, db.scanReadOptions);
             ChainReader reader = st.reader(db, epoch)) {
            WriteBatch batch = new WriteBatch();
            try {
                byte[] end = Keys.changeEpochStart(st.id, epoch + 1);
                for (changes.seek(Keys.changeEpochStart(st.id, w.prev() + 1)); changes.isValid() && Arrays.compareUnsigned(changes.key(), end) < 0; changes.next()) {
                    long grain = Keys.changeGrain(changes.key());
                    if (!done.add(grain)) {
                        continue;
                    }
                    boolean bare = w.nextIsHead()
                            ? collectGrainUnderLock(st, grain, w)
                            : collectGrain(new GrainBatch(batch, reader, st, grain), w);
                    if (bare) {
                        bareTombstones.add(grain);
                    }
                    if (batch.count() >= VdiskStore.GC_BATCH_OPS_MAX) {
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
                catalog.writeSync(batch);
            } finally {
                batch.close();
            }
        } catch (RocksDBException e) {
            throw Catalog.storeError("garbage collection of " + v.name() + " epoch " + epoch, e);
        }
    }

    private Window window(VdiskState st, VdiskInfo v, long epoch) {
        List<SnapshotInfo> snaps = catalog.snapshotsOf(st.id);
        long prev = snaps.stream().mapToLong(SnapshotInfo::epoch).filter(e -> e < epoch).max().orElse(-1);
        OptionalLong nextSnap = snaps.stream().mapToLong(SnapshotInfo::epoch).filter(e -> e > epoch).min();
        long next = nextSnap.orElse(v.headEpoch());
        if (next <= epoch) {
            throw new IllegalStateException("gc: next retained epoch " + next + " <= deleted epoch " + epoch + " vdisk=" + v.name());
        }
        return new Window(prev, epoch, next, nextSnap.isEmpty());
    }

    /** One grain's collection: where its deletions go, what reads it, whose and which grain it is. */
    private record GrainBatch(WriteBatch batch, ChainReader reader, VdiskState st, long grain) {}

    private boolean collectGrainUnderLock(VdiskState st, long grain, Window w) throws RocksDBException {
        int[] locks = grainLocks.lock(st.id, grain, grain);
        try (ChainReader fresh = st.reader(db, w.epoch()); WriteBatch batch = new WriteBatch()) {
            boolean bare = collectGrain(new GrainBatch(batch, fresh, st, grain), w);
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
    private boolean collectGrain(GrainBatch g, Window w) throws RocksDBException {
        ChainReader reader = g.reader();
        long grain = g.grain();
        VdiskState st = g.st();
        List<ChainReader.Located> versions = new ArrayList<>();
        for (ChainReader.Located loc = reader.floor(0, grain, w.epoch()); loc != null && loc.epoch() > w.prev(); loc = reader.olderThan(loc, grain)) {
            versions.add(loc);
        }
        if (versions.isEmpty()) {
            return false;
        }
        ChainReader.Located above = reader.floor(0, grain, w.next());
        boolean hiddenFromNext = above != null && above.epoch() > w.epoch();
        ChainReader.Located newest = versions.get(0);
        boolean keepNewest = !hiddenFromNext;
        if (keepNewest && !BlockFrame.isMapped(newest.frame()) && !st.isClone()) {
            // A tombstone with nothing below it (and no parent to show through) hides nothing.
            boolean nothingBelow = w.prev() < 0 || reader.floor(0, grain, w.prev()) == null;
            keepNewest = !nothingBelow;
        }
        boolean promote = keepNewest && w.nextIsHead();
        for (int i = keepNewest && !promote ? 1 : 0; i < versions.size(); i++) {
            long x = versions.get(i).epoch();
            g.batch().delete(db.blocks, Keys.block(st.id, grain, x));
            g.batch().delete(db.changes, Keys.change(st.id, x, grain));
        }
        if (promote) {
            g.batch().put(db.blocks, Keys.block(st.id, grain, w.next()), newest.frame());
            g.batch().put(db.changes, Keys.change(st.id, w.next(), grain), EMPTY);
        }
        boolean survivorBelow = keepNewest || (w.prev() >= 0 && reader.floor(0, grain, w.prev()) != null);
        if (survivorBelow || st.isClone()) {
            return false;
        }
        ChainReader.Located lowestAbove = null;
        for (ChainReader.Located loc = reader.floor(0, grain, Long.MAX_VALUE); loc != null && loc.epoch() > w.epoch(); loc = reader.olderThan(loc, grain)) {
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
}
