package io.basalt.vdisk.store;

import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

import io.basalt.vdisk.frame.BlockFrame;

/**
 * Creating, listing, removing and resizing vdisks (the parts of {@link VdiskStore} that change
 * which vdisks exist and how large they are). Each change is one fsync'd batch under the
 * catalog's lock; a resize also holds the vdisk's state lock exclusively, so no write is half
 * inside the old size and half outside the new one.
 */
final class Namespace {
    private final Catalog catalog;
    private final StoreDb db;
    private final InstantSource clock;

    Namespace(Catalog catalog, InstantSource clock) {
        this.catalog = catalog;
        this.db = catalog.db();
        this.clock = clock;
    }

    VdiskInfo create(String name, long sizeBytes, int blockSizeBytes, int grainSizeBytes) {
        return create(name, sizeBytes, blockSizeBytes, grainSizeBytes, null);
    }

    /** With {@code replicaRecord} not null: created a read-only replica, in the same batch ({@link Replicas}). */
    VdiskInfo create(String name, long sizeBytes, int blockSizeBytes, int grainSizeBytes, byte[] replicaRecord) {
        Catalog.checkName("vdisk name", name);
        checkGeometry(sizeBytes, blockSizeBytes, grainSizeBytes);
        synchronized (catalog.lock) {
            catalog.checkNameFree(name);
            long id = catalog.nextId();
            VdiskInfo info = new VdiskInfo(id, name, sizeBytes, blockSizeBytes, grainSizeBytes, 1, Optional.empty(), 0, clock.millis());
            try (WriteBatch batch = new WriteBatch()) {
                batch.put(db.meta, Keys.meta('V', id), DescriptorCodec.encode(info));
                batch.put(db.meta, Keys.name(name), Keys.vdiskPrefix(id));
                batch.put(db.meta, Keys.meta('I'), Keys.vdiskPrefix(id + 1));
                if (replicaRecord != null) {
                    Replicas.put(batch, db, id, replicaRecord);
                }
                catalog.writeSync(batch);
                db.extents.requestReclaim();
            } catch (RocksDBException e) {
                throw Catalog.storeError("create " + name, e);
            }
            return info;
        }
    }

    List<VdiskInfo> list() {
        List<VdiskInfo> out = catalog.descriptors();
        out.sort((a, b) -> a.name().compareTo(b.name()));
        return out;
    }

    /** Removes a vdisk. Refused while it has snapshots, clones or open handles. */
    void remove(String name) {
        synchronized (catalog.lock) {
            VdiskState st = catalog.stateByName(name);
            int handles = st.openHandles.get();
            if (handles > 0) {
                throw new StoreException("vdisk " + name + " is open (" + handles + " handles); close it first");
            }
            List<SnapshotInfo> snaps = catalog.snapshotsOf(st.id);
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
                batch.delete(db.meta, Fences.key(info.id()));
                batch.delete(db.meta, Replicas.key(info.id()));
                // Collections of its removed snapshots still queued: nothing of it is left to collect.
                batch.deleteRange(db.meta, Keys.meta('G', info.id()), Keys.meta('G', info.id() + 1));
                if (info.parent().isPresent()) {
                    VdiskInfo.ParentLink p = info.parent().get();
                    batch.delete(db.meta, Keys.meta('C', p.vdiskId(), p.epoch(), info.id()));
                }
                catalog.writeSync(batch);
            } catch (RocksDBException e) {
                throw Catalog.storeError("remove " + name, e);
            }
            catalog.forget(info.id());
        }
    }

    /** Grows, or shrinks when no data lies past the new end. */
    VdiskInfo resize(String name, long newSizeBytes) {
        synchronized (catalog.lock) {
            VdiskState st = catalog.stateByName(name);
            long stamp = st.lock.writeLock();
            try {
                VdiskInfo v = st.info();
                checkGeometry(newSizeBytes, v.blockSizeBytes(), v.grainSizeBytes());
                if (newSizeBytes < v.sizeBytes()) {
                    checkNothingPastEnd(st, v, newSizeBytes);
                    deallocatePastEnd(st, v, newSizeBytes);
                }
                VdiskInfo resized = v.withSize(newSizeBytes);
                catalog.putDescriptor(resized);
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
            for (long from = firstGrain; from < v.grainCount(); from += VdiskStore.SCAN_CHUNK_GRAINS_MAX) {
                long to = Math.min(v.grainCount() - 1, from + VdiskStore.SCAN_CHUNK_GRAINS_MAX - 1);
                for (long g : GrainIndex.grainsPresent(db, st, from, to)) {
                    ChainReader.Located loc = reader.locate(g);
                    if (loc != null && BlockFrame.isMapped(loc.frame())) {
                        GrainWrites.deallocateOps(db, st, reader, g, loc, ops);
                    }
                }
            }
            GroupCommitter.addTo(batch, ops);
            catalog.writeSync(batch);
        } catch (RocksDBException e) {
            throw Catalog.storeError("resize " + v.name(), e);
        }
    }

    private void checkNothingPastEnd(VdiskState st, VdiskInfo v, long newSizeBytes) {
        int grainSize = v.grainSizeBytes();
        long boundaryGrain = newSizeBytes / grainSize;
        int boundaryOffset = (int) (newSizeBytes % grainSize);
        try (ChainReader reader = st.reader(db, v.headEpoch())) {
            for (long from = boundaryGrain; from < v.grainCount(); from += VdiskStore.SCAN_CHUNK_GRAINS_MAX) {
                long to = Math.min(v.grainCount() - 1, from + VdiskStore.SCAN_CHUNK_GRAINS_MAX - 1);
                for (long g : GrainIndex.grainsPresent(db, st, from, to)) {
                    ChainReader.Located loc = reader.locate(g);
                    if (loc == null || !BlockFrame.isMapped(loc.frame())) {
                        continue;
                    }
                    int checkFrom = g == boundaryGrain ? boundaryOffset : 0;
                    byte[] grain = new byte[grainSize];
                    db.extents.decode(loc.frame(), grainSize, java.nio.ByteBuffer.wrap(grain), 0);
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

    static void checkGeometry(long sizeBytes, int blockSizeBytes, int grainSizeBytes) {
        if (blockSizeBytes != 512 && blockSizeBytes != 4096) {
            throw new IllegalArgumentException("block size: " + blockSizeBytes + " (expected: 512 or 4096)");
        }
        if (Integer.bitCount(grainSizeBytes) != 1 || grainSizeBytes < blockSizeBytes || grainSizeBytes > VdiskStore.GRAIN_SIZE_MAX_BYTES) {
            throw new IllegalArgumentException("grain size: " + grainSizeBytes + " (expected: a power of two, "
                    + blockSizeBytes + ".." + VdiskStore.GRAIN_SIZE_MAX_BYTES + ")");
        }
        if (sizeBytes <= 0 || sizeBytes > VdiskStore.SIZE_MAX_BYTES || sizeBytes % blockSizeBytes != 0) {
            throw new IllegalArgumentException("size: " + sizeBytes + " bytes (expected: a positive multiple of "
                    + blockSizeBytes + ", at most " + VdiskStore.SIZE_MAX_BYTES + ")");
        }
    }
}
