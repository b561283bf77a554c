package io.basalt.vdisk.store;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

import io.basalt.vdisk.frame.BlockFrame;
import io.basalt.vdisk.frame.FrameException;

/**
 * The engine's side of a scrub (docs/decisions/scrub-and-repair.md): walks every stored grain
 * version of a store in key order, in steps of a bounded number of bytes, and decodes each frame
 * (which verifies its CRC32C); and replaces one version's frame by compare-and-set, the repair.
 *
 * <p>A repair never invents data: {@link #replaceIf} only installs a frame that decodes, and only
 * while the key still holds the exact bytes the caller found bad. It runs under the grain's lock,
 * the lock every write of the engine and the snapshot GC hold from their read to their commit,
 * so a write or a GC step that lands in between wins and the repair is dropped. A replicated
 * log's own write ordering (one applying thread) is the caller's to hold as well.
 */
public final class GrainScrub {
    private GrainScrub() {}

    /** One stored version: the engine vdisk id, the grain index and the epoch of the version. */
    public record GrainKey(long vdiskId, long grain, long epoch) {
        public GrainKey {
            if (vdiskId < 0 || grain < 0 || epoch < 0) {
                throw new IllegalArgumentException("grain key: vdisk id " + vdiskId + " grain " + grain + " epoch " + epoch + " (expected: all >= 0)");
            }
        }

        /** The first key of vdisk {@code vdiskId}. */
        public static GrainKey first(long vdiskId) {
            return new GrainKey(vdiskId, 0, Long.MAX_VALUE);
        }

        byte[] bytes() {
            return Keys.block(vdiskId, grain, epoch);
        }

        static GrainKey of(byte[] key) {
            return new GrainKey(Keys.blockVdisk(key), Keys.blockGrain(key), Keys.blockEpoch(key));
        }
    }

    /** A version whose frame does not decode: where, why, and a copy of its bytes for the compare of a repair. */
    public static final class BadGrain {
        private final GrainKey key;
        private final String vdiskName;
        private final String reason;
        private final byte[] frame;

        BadGrain(GrainKey key, String vdiskName, String reason, byte[] frame) {
            this.key = key;
            this.vdiskName = vdiskName;
            this.reason = reason;
            this.frame = frame.clone();
        }

        public GrainKey key() {
            return key;
        }

        public String vdiskName() {
            return vdiskName;
        }

        public String reason() {
            return reason;
        }

        public byte[] frame() {
            return frame.clone();
        }

        @Override
        public String toString() {
            return vdiskName + " grain " + key.grain() + " epoch " + key.epoch() + ": " + reason;
        }
    }

    /**
     * What one step examined: versions checked, bytes of frames read, the bad ones, and where the
     * next step starts (empty: the scan reached the end of the store, or of the one vdisk asked for).
     */
    public record Step(long grainsChecked, long bytesRead, List<BadGrain> bad, Optional<GrainKey> next) {
        public Step {
            bad = List.copyOf(bad);
        }
    }

    /**
     * Checks versions from {@code from} on, in key order, until about {@code bytesMax} bytes of
     * frames were read (at least one version); only vdisk {@code onlyVdiskId}'s when it is not -1.
     */
    public static Step scan(VdiskStore store, GrainKey from, long bytesMax, long onlyVdiskId) {
        if (bytesMax <= 0) {
            throw new IllegalArgumentException("bytesMax: " + bytesMax + " (expected: > 0)");
        }
        StoreDb db = store.db();
        Map<Long, VdiskInfo> infos = new HashMap<>();
        List<BadGrain> bad = new ArrayList<>();
        long checked = 0;
        long bytes = 0;
        try (RocksIterator it = db.db.newIterator(db.blocks, db.scanReadOptions)) {
            for (it.seek(from.bytes()); it.isValid() && bytes < bytesMax; it.next()) {
                GrainKey key = GrainKey.of(it.key());
                if (onlyVdiskId != -1 && key.vdiskId() != onlyVdiskId) {
                    return new Step(checked, bytes, bad, Optional.empty());
                }
                byte[] frame = it.value();
                bytes += frame.length;
                VdiskInfo info = infos.computeIfAbsent(key.vdiskId(), id -> descriptor(db, id));
                if (info == null) {
                    continue; // a removed vdisk whose versions are being deleted: nothing reads them
                }
                checked++;
                String reason = check(db, frame, info.grainSizeBytes());
                if (reason != null) {
                    bad.add(new BadGrain(key, info.name(), reason, frame));
                }
            }
            it.status();
            Optional<GrainKey> next = Optional.empty();
            if (it.isValid()) {
                GrainKey k = GrainKey.of(it.key());
                next = onlyVdiskId == -1 || k.vdiskId() == onlyVdiskId ? Optional.of(k) : Optional.empty();
            }
            return new Step(checked, bytes, bad, next);
        } catch (RocksDBException e) {
            throw Catalog.storeError("scrub scan from " + from, e);
        }
    }

    /** {@link #check(byte[], int)} for a frame of this store: an extent frame's data is read and checked. */
    static String check(StoreDb db, byte[] frame, int grainBytes) {
        try {
            db.extents.decode(frame, grainBytes, java.nio.ByteBuffer.allocate(grainBytes), 0);
            return null;
        } catch (FrameException e) {
            return e.getMessage();
        } catch (io.basalt.vdisk.BlockDeviceException e) {
            return "extent data unreadable: " + e.getMessage();
        }
    }

    /** Why {@code frame} does not decode as a grain of {@code grainBytes}, or null when it does. */
    public static String check(byte[] frame, int grainBytes) {
        try {
            BlockFrame.decode(frame, grainBytes, new byte[grainBytes], 0);
            return null;
        } catch (FrameException e) {
            return e.getMessage();
        }
    }

    /** The grain size of engine vdisk {@code vdiskId}; empty when it does not exist. */
    public static Optional<Integer> grainSizeBytes(VdiskStore store, long vdiskId) {
        return Optional.ofNullable(descriptor(store.db(), vdiskId)).map(VdiskInfo::grainSizeBytes);
    }

    /** The engine id of vdisk {@code name}; empty when there is none. */
    public static Optional<Long> vdiskId(VdiskStore store, String name) {
        StoreDb db = store.db();
        try {
            byte[] id = db.db.get(db.meta, Keys.name(name));
            return id == null ? Optional.empty() : Optional.of(Keys.getLong(id, 0));
        } catch (RocksDBException e) {
            throw Catalog.storeError("look up " + name, e);
        }
    }

    /** The stored frame of {@code key}, as it is now; empty when the version is not stored. */
    public static Optional<byte[]> frame(VdiskStore store, GrainKey key) {
        StoreDb db = store.db();
        try {
            return Optional.ofNullable(db.db.get(db.blocks, db.grainReadOptions, key.bytes()));
        } catch (RocksDBException e) {
            throw Catalog.storeError("read frame " + key, e);
        }
    }

    /** The key of the newest stored version of engine vdisk {@code vdiskId}'s grain {@code grain}; empty when none is stored. */
    public static Optional<GrainKey> newestVersion(VdiskStore store, long vdiskId, long grain) {
        StoreDb db = store.db();
        try (RocksIterator it = db.db.newIterator(db.blocks, db.scanReadOptions)) {
            it.seek(new GrainKey(vdiskId, grain, Long.MAX_VALUE).bytes()); // epochs are stored newest first
            if (!it.isValid()) {
                it.status();
                return Optional.empty();
            }
            GrainKey k = GrainKey.of(it.key());
            return k.vdiskId() == vdiskId && k.grain() == grain ? Optional.of(k) : Optional.empty();
        } catch (RocksDBException e) {
            throw Catalog.storeError("newest version of vdisk id " + vdiskId + " grain " + grain, e);
        }
    }

    public enum Replaced {
        /** The key held the expected bytes and now holds the replacement (fsync'd). */
        REPLACED,
        /** The key no longer held the expected bytes (a write, an unmap or a GC step came first): nothing written. */
        CHANGED
    }

    /**
     * Installs {@code replacement} at {@code key} if the key still holds exactly {@code expected},
     * under the grain's lock, fsync'd. The replacement must decode as a grain of the vdisk.
     */
    public static Replaced replaceIf(VdiskStore store, GrainKey key, byte[] expected, byte[] replacement) {
        int grainBytes = grainSizeBytes(store, key.vdiskId())
                .orElseThrow(() -> new StoreException("repair of " + key + ": vdisk id " + key.vdiskId() + " does not exist"));
        String bad = check(replacement, grainBytes);
        if (bad != null) {
            throw new IllegalArgumentException("repair of " + key + " with a frame that does not decode: " + bad);
        }
        StoreDb db = store.db();
        int[] locks = store.grainLocks().lock(key.vdiskId(), key.grain(), key.grain());
        try {
            byte[] now = db.db.get(db.blocks, db.grainReadOptions, key.bytes());
            if (!Arrays.equals(now, expected)) {
                return Replaced.CHANGED;
            }
            db.db.put(db.blocks, db.syncWriteOptions(), key.bytes(), replacement);
            return Replaced.REPLACED;
        } catch (RocksDBException e) {
            throw Catalog.storeError("repair " + key, e);
        } finally {
            store.grainLocks().unlock(locks);
        }
    }

    /**
     * Fault injection for tests and the bit-rot nemesis: overwrites the stored frame of an
     * existing {@code key} with {@code frame}, as a disk that rots under RocksDB's checksums
     * would. Never called by the product's own paths.
     */
    public static void overwriteForTest(VdiskStore store, GrainKey key, byte[] frame) {
        StoreDb db = store.db();
        int[] locks = store.grainLocks().lock(key.vdiskId(), key.grain(), key.grain());
        try {
            if (db.db.get(db.blocks, db.grainReadOptions, key.bytes()) == null) {
                throw new IllegalArgumentException("no stored version at " + key);
            }
            db.db.put(db.blocks, db.syncWriteOptions(), key.bytes(), frame);
        } catch (RocksDBException e) {
            throw Catalog.storeError("overwrite " + key, e);
        } finally {
            store.grainLocks().unlock(locks);
        }
    }

    private static VdiskInfo descriptor(StoreDb db, long vdiskId) {
        try {
            byte[] bytes = db.db.get(db.meta, Keys.meta('V', vdiskId));
            return bytes == null ? null : DescriptorCodec.decodeVdisk(bytes);
        } catch (RocksDBException e) {
            throw Catalog.storeError("read descriptor " + vdiskId, e);
        }
    }
}
