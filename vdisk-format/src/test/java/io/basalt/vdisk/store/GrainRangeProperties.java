package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;

/** {@link GrainRange}: the pieces of its grains tile the range exactly, in order. */
class GrainRangeProperties {
    @Property
    void piecesTileTheRangeInOrder(@ForAll @LongRange(min = 0, max = 1L << 40) long offsetBytes,
                                   @ForAll @IntRange(min = 1, max = 1 << 22) int lengthBytes,
                                   @ForAll @IntRange(min = 9, max = 20) int grainShift) {
        int grainSize = 1 << grainShift;
        GrainRange range = new GrainRange(offsetBytes, lengthBytes, grainSize);
        long covered = 0;
        for (long g = range.firstGrain(); g <= range.lastGrain(); g++) {
            GrainRange.Piece p = range.piece(g);
            assertEquals(covered, p.rangeOffsetBytes(), "piece of grain " + g + " does not follow the one before");
            assertTrue(p.fromBytes() >= 0 && p.fromBytes() < p.toBytes() && p.toBytes() <= grainSize, p.toString());
            assertEquals(offsetBytes + covered, g * grainSize + p.fromBytes(), "piece of grain " + g + " is not where the range is");
            assertEquals(p.fromBytes() == 0 && p.toBytes() == grainSize, p.whole());
            covered += p.lengthBytes();
        }
        assertEquals(lengthBytes, covered);
        assertEquals(range.grainCount(), range.lastGrain() - range.firstGrain() + 1);
        assertEquals(offsetBytes % grainSize == 0 && lengthBytes % grainSize == 0, range.grainAligned());
    }

    @Example
    void aGrainOutsideTheRangeHasNoPieceAndAnEmptyRangeIsRefused() {
        GrainRange range = new GrainRange(4096, 8192, 4096);
        assertEquals(1, range.firstGrain());
        assertEquals(2, range.lastGrain());
        IllegalArgumentException outside = assertThrows(IllegalArgumentException.class, () -> range.piece(3));
        assertEquals("grain: 3 (expected: 1..2)", outside.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new GrainRange(0, 0, 4096));
        assertThrows(IllegalArgumentException.class, () -> new GrainRange(0, 512, 3000));
    }
}
