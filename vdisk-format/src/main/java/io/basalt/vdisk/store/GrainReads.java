package io.basalt.vdisk.store;

import java.nio.ByteBuffer;

import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.frame.BlockFrame;
import io.basalt.vdisk.frame.FrameException;

/**
 * Reading blocks of one {@link VdiskView}: decoding the visible version of each grain of a
 * range, by point lookups through the clone chain or, for large reads, one iterator over the
 * vdisk's own keys. The caller holds the vdisk's state lock (shared), so the size and the head
 * epoch do not move under the read.
 */
final class GrainReads {
    private final VdiskView view;
    private final StoreDb db;

    GrainReads(VdiskView view) {
        this.view = view;
        this.db = view.db();
    }

    /** {@link #read(long, int, ByteBuffer, int, boolean)} into a new array. */
    byte[] read(long lba, int blockCount) {
        byte[] out = new byte[Math.multiplyExact(blockCount, view.info().blockSizeBytes())];
        read(lba, blockCount, ByteBuffer.wrap(out), 0, false);
        return out;
    }

    /**
     * Reads {@code blockCount} blocks at {@code lba} into {@code out} at absolute index {@code base}
     * (every byte of the range is written, zeros included). A read that spans several grains sees
     * one point in time: one iterator, or lookups under one RocksDB snapshot, so it never returns
     * part of a multi-grain write (see {@link Vdisk#writeAtomic}). With {@code cachedOnly} it reads
     * memtables and block cache only, and fails with RocksDB's {@code Incomplete} (see
     * {@link StoreDb#incomplete}) where it would have to read a file; it then never scans.
     */
    void read(long lba, int blockCount, ByteBuffer out, int base, boolean cachedOnly) {
        VdiskInfo v = view.info();
        if (Math.multiplyExact(blockCount, v.blockSizeBytes()) == 0) {
            return;
        }
        GrainRange range = GrainRange.ofBlocks(v, lba, blockCount);
        boolean scan = range.grainCount() >= Vdisk.SCAN_READ_GRAINS_MIN;
        if (scan && cachedOnly) {
            throw new IllegalStateException("cached-only read of " + range.grainCount() + " grains (expected: < "
                    + Vdisk.SCAN_READ_GRAINS_MIN + ") vdisk=" + view.name());
        }
        if (scan && !view.state().isClone()) {
            // One iterator is one consistent view; grains it did not find were never written: zeros.
            boolean[] done = scanOwnGrains(range, out, base, db.scanReadOptions);
            zeroMissing(done, range, out, base);
            return;
        }
        try (StoreDb.ReadView rv = range.grainCount() > 1 ? db.readView(cachedOnly) : null) {
            boolean[] done = scan ? scanOwnGrains(range, out, base, rv.scan()) : null;
            ReadOptions single = cachedOnly ? db.cachedGrainReadOptions : db.grainReadOptions;
            try (ChainReader reader = view.state().reader(db, view.readEpoch(), rv == null ? single : rv.grain())) {
                byte[] grainBuf = null;
                for (long g = range.firstGrain(); g <= range.lastGrain(); g++) {
                    if (done != null && done[(int) (g - range.firstGrain())]) {
                        continue;
                    }
                    GrainRange.Piece piece = range.piece(g);
                    int outPos = base + (int) piece.rangeOffsetBytes();
                    if (piece.whole()) {
                        decodeGrain(reader, g, out, outPos);
                    } else {
                        grainBuf = grainBuf == null ? new byte[range.grainSizeBytes()] : grainBuf;
                        decodeGrain(reader, g, ByteBuffer.wrap(grainBuf), 0);
                        out.put(outPos, grainBuf, piece.fromBytes(), piece.lengthBytes());
                    }
                }
            }
        }
    }

    /** Zero-fills the parts of {@code out} whose grains a scan did not find. */
    private static void zeroMissing(boolean[] done, GrainRange range, ByteBuffer out, int base) {
        for (int i = 0; i < done.length; i++) {
            if (!done[i]) {
                GrainRange.Piece piece = range.piece(range.firstGrain() + i);
                BlockFrame.fillZeros(out, base + (int) piece.rangeOffsetBytes(), piece.lengthBytes());
            }
        }
    }

    /**
     * Large reads: one iterator walks this vdisk's keys of the range's grains in order (newest
     * version of each grain first) and decodes the first version at or below the read epoch of
     * each, instead of one point lookup per grain. Returns which grains it found; a clone looks
     * the others up through its parents.
     */
    private boolean[] scanOwnGrains(GrainRange range, ByteBuffer out, int base, ReadOptions options) {
        long id = view.state().id;
        long epoch = view.readEpoch();
        long first = range.firstGrain();
        long last = range.lastGrain();
        boolean[] done = new boolean[(int) range.grainCount()];
        byte[] grainBuf = null;
        try (RocksIterator it = db.db.newIterator(db.blocks, options)) {
            for (it.seek(Keys.grainStart(id, first)); it.isValid(); it.next()) {
                byte[] key = it.key();
                long g = Keys.blockGrain(key);
                if (Keys.blockVdisk(key) != id || g > last) {
                    break;
                }
                int index = (int) (g - first);
                if (done[index] || Keys.blockEpoch(key) > epoch) {
                    continue; // an older version of a grain already read, or one newer than the read epoch
                }
                done[index] = true;
                GrainRange.Piece piece = range.piece(g);
                int outPos = base + (int) piece.rangeOffsetBytes();
                ChainReader.Located version = new ChainReader.Located(0, id, Keys.blockEpoch(key), it.value());
                if (piece.whole()) {
                    decodeFrame(version, g, out, outPos);
                } else {
                    grainBuf = grainBuf == null ? new byte[range.grainSizeBytes()] : grainBuf;
                    decodeFrame(version, g, ByteBuffer.wrap(grainBuf), 0);
                    out.put(outPos, grainBuf, piece.fromBytes(), piece.lengthBytes());
                }
            }
            try {
                it.status();
            } catch (RocksDBException e) {
                throw StoreErrors.blockDevice("block store read failed reading vdisk " + view.name() + " grains " + first + ".." + last, e);
            }
        }
        return done;
    }

    /** Decodes {@code version} of grain {@code g} into {@code out}; a frame that does not decode is CORRUPTION naming where. */
    private void decodeFrame(ChainReader.Located version, long g, ByteBuffer out, int outPos) {
        int grainSize = view.info().grainSizeBytes();
        try {
            db.extents.decode(version.frame(), grainSize, out, outPos);
        } catch (FrameException e) {
            long lba = g * grainSize / view.info().blockSizeBytes();
            throw new BlockDeviceException(BlockDeviceException.Kind.CORRUPTION, String.format(
                    "%s reading vdisk %s at lba %d (grain %d, epoch %d, vdisk id %d)",
                    e.getMessage(), view.name(), lba, g, version.epoch(), version.vdiskId()), e);
        }
    }

    /** Decodes the visible version of grain {@code g} into {@code out}; zeros when there is none. */
    void decodeGrain(ChainReader reader, long g, ByteBuffer out, int outPos) {
        int grainSize = view.info().grainSizeBytes();
        ChainReader.Located loc;
        try {
            loc = reader.locateFast(g);
        } catch (BlockDeviceException e) {
            long lba = g * grainSize / view.info().blockSizeBytes();
            throw new BlockDeviceException(e.kind(), e.getMessage() + " reading vdisk " + view.name() + " at lba " + lba + " (grain " + g + ")", e);
        }
        if (loc == null) {
            BlockFrame.fillZeros(out, outPos, grainSize);
            return;
        }
        decodeFrame(loc, g, out, outPos);
    }
}
