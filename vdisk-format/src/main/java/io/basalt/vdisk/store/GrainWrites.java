package io.basalt.vdisk.store;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;

import io.basalt.vdisk.frame.BlockFrame;

/**
 * The changes a write makes to the head of one vdisk, as {@link GroupCommitter.Op}s: new grain
 * versions (whole grains encoded, partial ones read and merged), zeros and deallocations, each
 * with its change-index entry. Pure preparation: the caller holds the grains' locks and commits
 * the ops (see {@link WritePaths}).
 */
final class GrainWrites {
    private static final byte[] EMPTY = new byte[0];

    /** What a zeroing request does to the grains it covers wholly: write zeros, or deallocate. */
    enum Mode { ZEROES, UNMAP }

    private final VdiskView view;
    private final StoreDb db;
    private final GrainReads reads;

    GrainWrites(VdiskView view, GrainReads reads) {
        this.view = view;
        this.db = view.db();
        this.reads = reads;
    }

    /** The changes that write {@code data} at {@code lba}: whole grains encoded, partial ones merged. */
    void dataOps(VdiskInfo v, long lba, byte[] data, List<GroupCommitter.Op> ops) {
        GrainRange range = new GrainRange(lba * v.blockSizeBytes(), data.length, v.grainSizeBytes());
        int grainSize = v.grainSizeBytes();
        ChainReader reader = null;
        Lz4Probe lz4 = new Lz4Probe();
        try {
            for (long g = range.firstGrain(); g <= range.lastGrain(); g++) {
                GrainRange.Piece piece = range.piece(g);
                int dataPos = (int) piece.rangeOffsetBytes();
                byte[] frame;
                if (piece.whole()) {
                    frame = lz4.encode(data, dataPos, grainSize);
                } else {
                    if (reader == null) {
                        reader = view.state().reader(db, v.headEpoch());
                    }
                    byte[] grain = new byte[grainSize];
                    reads.decodeGrain(reader, g, ByteBuffer.wrap(grain), 0);
                    System.arraycopy(data, dataPos, grain, piece.fromBytes(), piece.lengthBytes());
                    frame = BlockFrame.encode(grain, 0, grainSize);
                }
                put(ops, v, g, frame);
            }
        } finally {
            if (reader != null) {
                reader.close();
            }
        }
    }

    /** The changes that zero or deallocate blocks {@code [lba, lba + blockCount)}, {@code blockCount > 0}. */
    void zeroOps(VdiskInfo v, long lba, long blockCount, Mode mode, List<GroupCommitter.Op> ops) {
        GrainRange range = GrainRange.ofBlocks(v, lba, blockCount);
        try (ChainReader reader = view.state().reader(db, v.headEpoch())) {
            for (long g : grainsToTouch(mode, range)) {
                zeroGrain(ops, reader, v, range.piece(g), mode);
            }
        }
    }

    /**
     * The grains of the range an unmap must visit: only those some level of the chain holds a
     * version of (the rest already read as deallocated zeros). Write-zeroes visits all.
     */
    private long[] grainsToTouch(Mode mode, GrainRange range) {
        if (mode != Mode.UNMAP) {
            long[] all = new long[(int) range.grainCount()];
            for (int i = 0; i < all.length; i++) {
                all[i] = range.firstGrain() + i;
            }
            return all;
        }
        return GrainIndex.grainsPresent(db, view.state(), range.firstGrain(), range.lastGrain());
    }

    /** Zeroes or deallocates the part of a grain inside the range. */
    private void zeroGrain(List<GroupCommitter.Op> ops, ChainReader reader, VdiskInfo v, GrainRange.Piece piece, Mode mode) {
        int grainSize = v.grainSizeBytes();
        long g = piece.grain();
        ChainReader.Located loc = reader.locate(g);
        boolean mapped = loc != null && BlockFrame.isMapped(loc.frame());
        if (mode == Mode.UNMAP && !mapped) {
            return; // already deallocated: nothing to do
        }
        if (!piece.whole()) {
            byte[] grain = new byte[grainSize];
            reads.decodeGrain(reader, g, ByteBuffer.wrap(grain), 0);
            Arrays.fill(grain, piece.fromBytes(), piece.toBytes(), (byte) 0);
            put(ops, v, g, BlockFrame.encode(grain, 0, grainSize));
        } else if (mode == Mode.ZEROES) {
            put(ops, v, g, BlockFrame.encode(new byte[grainSize], 0, grainSize));
        } else {
            deallocateOps(db, view.state(), reader, g, loc, ops);
        }
    }

    /**
     * The changes that deallocate mapped grain {@code g} (its visible version {@code loc}) at the
     * head; shared with a shrink. If the only version is the head's own and nothing below can
     * show through (no older version, no parent), deleting it is enough; otherwise a tombstone
     * at head hides what lies below. The caller holds the state lock, so the head does not move.
     */
    static void deallocateOps(StoreDb db, VdiskState state, ChainReader reader, long g, ChainReader.Located loc,
                              List<GroupCommitter.Op> ops) {
        VdiskInfo v = state.info();
        long head = v.headEpoch();
        boolean onlyHeadVersion = loc.level() == 0 && loc.epoch() == head
                && reader.olderThan(loc, g) == null && !state.isClone();
        ops.add(new GroupCommitter.Op(db.blocks, Keys.block(v.id(), g, head), onlyHeadVersion ? null : BlockFrame.tombstone()));
        ops.add(new GroupCommitter.Op(db.changes, Keys.change(v.id(), head, g), onlyHeadVersion ? null : EMPTY));
    }

    private void put(List<GroupCommitter.Op> ops, VdiskInfo v, long g, byte[] frame) {
        ops.add(new GroupCommitter.Op(db.blocks, Keys.block(v.id(), g, v.headEpoch()), frame));
        ops.add(new GroupCommitter.Op(db.changes, Keys.change(v.id(), v.headEpoch(), g), EMPTY));
    }
}
