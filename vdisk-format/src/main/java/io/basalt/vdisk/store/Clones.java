package io.basalt.vdisk.store;

import java.time.InstantSource;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.LongConsumer;

import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

import io.basalt.vdisk.frame.BlockFrame;

/**
 * Linked clones: making one from a snapshot (O(1): a descriptor with a parent link and a 'C'
 * child key), and flattening one (copying what it still reads from its ancestors, then cutting
 * the link). The copy runs outside every lock and is repeatable; only the final cut holds the
 * catalog's lock and the clone's state lock.
 */
final class Clones {
    private static final byte[] EMPTY = new byte[0];

    private final Catalog catalog;
    private final StoreDb db;
    private final InstantSource clock;
    /** Throws NO_SPACE naming its argument while the free space is below the reserve. */
    private final Consumer<String> spaceCheck;

    Clones(Catalog catalog, InstantSource clock, Consumer<String> spaceCheck) {
        this.catalog = catalog;
        this.db = catalog.db();
        this.clock = clock;
        this.spaceCheck = spaceCheck;
    }

    /** Creates {@code childName} as a linked clone of {@code parentName@snapName}: O(1). */
    VdiskInfo clone(String parentName, String snapName, String childName) {
        Catalog.checkName("vdisk name", childName);
        synchronized (catalog.lock) {
            VdiskState parent = catalog.stateByName(parentName);
            SnapshotInfo snap = catalog.snapshot(parentName, snapName);
            catalog.checkNameFree(childName);
            VdiskInfo p = parent.info();
            int depth = p.chainDepth() + 1;
            if (depth > VdiskStore.CHAIN_DEPTH_MAX) {
                throw new StoreException("clone chain depth: " + depth + " (expected: <= " + VdiskStore.CHAIN_DEPTH_MAX
                        + "); flatten " + parentName + " first");
            }
            long id = catalog.nextId();
            VdiskInfo child = new VdiskInfo(id, childName, snap.sizeBytes(), p.blockSizeBytes(), p.grainSizeBytes(), 1,
                    Optional.of(new VdiskInfo.ParentLink(p.id(), snap.epoch(), parentName + "@" + snapName)), depth, clock.millis());
            try (WriteBatch batch = new WriteBatch()) {
                batch.put(db.meta, Keys.meta('V', id), DescriptorCodec.encode(child));
                batch.put(db.meta, Keys.name(childName), Keys.vdiskPrefix(id));
                batch.put(db.meta, Keys.meta('C', p.id(), snap.epoch(), id), EMPTY);
                batch.put(db.meta, Keys.meta('I'), Keys.vdiskPrefix(id + 1));
                catalog.writeSync(batch);
            } catch (RocksDBException e) {
                throw Catalog.storeError("clone " + parentName + "@" + snapName + " to " + childName, e);
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
     * @param progress called with the number of grains examined so far
     */
    void flatten(String name, LongConsumer progress) {
        VdiskState st = catalog.stateByName(name);
        VdiskInfo v = st.info();
        if (v.parent().isEmpty()) {
            throw new StoreException("vdisk " + name + " is not a clone; nothing to flatten");
        }
        spaceCheck.accept("flatten of vdisk " + name);
        List<SnapshotInfo> snaps = catalog.snapshotsOf(st.id);
        long minRetained = snaps.stream().mapToLong(SnapshotInfo::epoch).min().orElse(v.headEpoch());
        // Snapshots taken before a shrink are larger than the head and read from the parent too.
        long sizeBytes = Math.max(v.sizeBytes(), snaps.stream().mapToLong(SnapshotInfo::sizeBytes).max().orElse(0));
        long grainCount = (sizeBytes + v.grainSizeBytes() - 1) / v.grainSizeBytes();
        try (ChainReader reader = st.reader(db, minRetained)) {
            for (long from = 0; from < grainCount; from += VdiskStore.SCAN_CHUNK_GRAINS_MAX) {
                long to = Math.min(grainCount - 1, from + VdiskStore.SCAN_CHUNK_GRAINS_MAX - 1);
                if (from > 0) {
                    // A long flatten can fill the disk on its own; it resumes where it stopped.
                    spaceCheck.accept("flatten of vdisk " + name + " at grain " + from + " of " + grainCount);
                }
                copyFromParent(st, reader, GrainIndex.ancestorsPresent(db, st, from, to));
                progress.accept(to + 1);
            }
        } catch (RocksDBException e) {
            throw Catalog.storeError("flatten " + name, e);
        }
        cutParentLink(name, st);
    }

    private void cutParentLink(String name, VdiskState st) {
        synchronized (catalog.lock) {
            long stamp = st.lock.writeLock();
            try {
                VdiskInfo current = st.info();
                VdiskInfo.ParentLink link = current.parent().orElseThrow();
                VdiskInfo flat = current.withoutParent();
                try (WriteBatch batch = new WriteBatch()) {
                    batch.delete(db.meta, Keys.meta('C', link.vdiskId(), link.epoch(), st.id));
                    batch.put(db.meta, Keys.meta('V', st.id), DescriptorCodec.encode(flat));
                    catalog.writeSync(batch);
                } catch (RocksDBException e) {
                    throw Catalog.storeError("flatten " + name, e);
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
     * below (see {@link SnapshotGc}), and its clones would read the grain from its old parent.
     * Takes each one's lock exclusively so no I/O in flight still reads through the old chain.
     * Call with the catalog's lock held, which also keeps {@link Catalog#state} from loading a
     * chain half before the flatten.
     */
    private void endDescendantChains(long flattenedId) {
        for (VdiskState d : catalog.loadedStates()) {
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
            catalog.writeSync(batch);
        }
    }
}
