package io.basalt.vdisk.store;

/**
 * A byte range of a vdisk seen as the grains it touches: the one place where a request's offset
 * and length become a first and last grain (what a write locks and a read visits) and, per
 * grain, the part of it inside the range.
 *
 * @param offsetBytes    where the range starts in the vdisk
 * @param lengthBytes    its length, at least one byte
 * @param grainSizeBytes the vdisk's grain size, a power of two
 */
record GrainRange(long offsetBytes, long lengthBytes, int grainSizeBytes) {
    GrainRange {
        if (offsetBytes < 0 || lengthBytes <= 0 || Integer.bitCount(grainSizeBytes) != 1) {
            throw new IllegalArgumentException("grain range: offset " + offsetBytes + ", length " + lengthBytes + " bytes, grain "
                    + grainSizeBytes + " bytes (expected: offset >= 0, length > 0, grain a power of two)");
        }
    }

    /** Blocks {@code [lba, lba + blockCount)} of {@code v}; {@code blockCount > 0}. */
    static GrainRange ofBlocks(VdiskInfo v, long lba, long blockCount) {
        return new GrainRange(lba * v.blockSizeBytes(), blockCount * v.blockSizeBytes(), v.grainSizeBytes());
    }

    long firstGrain() {
        return offsetBytes / grainSizeBytes;
    }

    long lastGrain() {
        return (offsetBytes + lengthBytes - 1) / grainSizeBytes;
    }

    long grainCount() {
        return lastGrain() - firstGrain() + 1;
    }

    /** True when the range is whole grains: no grain needs a read to merge a partial write. */
    boolean grainAligned() {
        return offsetBytes % grainSizeBytes == 0 && lengthBytes % grainSizeBytes == 0;
    }

    /** The part of {@code grain} (one of {@code [firstGrain, lastGrain]}) inside the range. */
    Piece piece(long grain) {
        if (grain < firstGrain() || grain > lastGrain()) {
            throw new IllegalArgumentException("grain: " + grain + " (expected: " + firstGrain() + ".." + lastGrain() + ")");
        }
        long grainStart = grain * grainSizeBytes;
        int from = (int) Math.max(0, offsetBytes - grainStart);
        int to = (int) Math.min(grainSizeBytes, offsetBytes + lengthBytes - grainStart);
        return new Piece(grain, from, to, grainStart + from - offsetBytes, from == 0 && to == grainSizeBytes);
    }

    /**
     * Bytes {@code [fromBytes, toBytes)} of {@code grain} are inside the range, at
     * {@code rangeOffsetBytes} from its start; {@code whole} when that is the entire grain.
     */
    record Piece(long grain, int fromBytes, int toBytes, long rangeOffsetBytes, boolean whole) {
        int lengthBytes() {
            return toBytes - fromBytes;
        }
    }
}
