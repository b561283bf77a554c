package io.basalt.vdisk.frame;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class BlockFrameTest {

    @Property(tries = 200)
    void roundTripsAnyGrain(@ForAll long seed, @ForAll @IntRange(min = 0, max = 3) int shape) {
        byte[] grain = grain(new Random(seed), shape, 4096);
        byte[] frame = BlockFrame.encode(grain, 0, grain.length);
        byte[] out = new byte[4096];
        BlockFrame.decode(frame, 4096, out, 0);
        assertArrayEquals(grain, out);
    }

    @Test
    void compressesOnlyWhenItSaves() {
        byte[] random = grain(new Random(1), 3, 4096);
        assertEquals(BlockFrame.Kind.RAW, BlockFrame.kind(BlockFrame.encode(random, 0, random.length)));
        byte[] text = "the quick brown fox ".repeat(300).substring(0, 4096).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        byte[] frame = BlockFrame.encode(text, 0, text.length);
        assertEquals(BlockFrame.Kind.LZ4, BlockFrame.kind(frame));
        assertTrue(frame.length < 1024, "compressed frame: " + frame.length + " bytes");
        assertEquals(BlockFrame.Kind.ZEROS, BlockFrame.kind(BlockFrame.encode(new byte[4096], 0, 4096)));
        assertEquals(BlockFrame.HEADER_BYTES, BlockFrame.encode(new byte[4096], 0, 4096).length);
    }

    /**
     * A flipped byte is either detected or harmless: it can change an LZ4 match offset inside a
     * run of equal bytes and still decode to the same grain. Never wrong data.
     */
    @Property(tries = 1000)
    void flippedByteIsDetectedOrHarmless(@ForAll long seed, @ForAll @IntRange(min = 1, max = 3) int shape) {
        Random rnd = new Random(seed);
        byte[] grain = grain(rnd, shape, 4096);
        byte[] frame = BlockFrame.encode(grain, 0, grain.length);
        int at = 2 + rnd.nextInt(frame.length - 2);
        frame[at] ^= (byte) (1 << rnd.nextInt(8));
        byte[] out = new byte[4096];
        try {
            BlockFrame.decode(frame, 4096, out, 0);
        } catch (FrameException e) {
            return;
        }
        assertArrayEquals(grain, out, "a corrupted frame decoded to different data without an error");
        assertEquals(BlockFrame.Kind.LZ4, BlockFrame.kind(frame), "only an LZ4 stream has harmless flips");
    }

    @Test
    void flippedRawByteIsAChecksumMismatch() {
        byte[] grain = grain(new Random(3), 3, 4096);
        byte[] frame = BlockFrame.encode(grain, 0, grain.length);
        frame[BlockFrame.HEADER_BYTES + 1000] ^= 4;
        FrameException e = assertThrows(FrameException.class, () -> BlockFrame.decode(frame, 4096, new byte[4096], 0));
        assertTrue(e.getMessage().startsWith("checksum mismatch"), e.getMessage());
    }

    @Test
    void rejectsUnknownVersionAndShortFrames() {
        assertThrows(FrameException.class, () -> BlockFrame.decode(new byte[3], 4096, new byte[4096], 0));
        byte[] frame = BlockFrame.encode(new byte[] {1, 2, 3, 4}, 0, 4);
        frame[0] = 9;
        FrameException e = assertThrows(FrameException.class, () -> BlockFrame.decode(frame, 4, new byte[4], 0));
        assertTrue(e.getMessage().contains("format version: 9"), e.getMessage());
    }

    static byte[] grain(Random rnd, int shape, int size) {
        byte[] b = new byte[size];
        switch (shape) {
            case 0 -> { }
            case 1 -> Arrays.fill(b, (byte) (1 + rnd.nextInt(255)));
            case 2 -> {
                for (int i = 0; i < size; i++) {
                    b[i] = (byte) ('a' + (i / 7 + rnd.nextInt(2)) % 4);
                }
            }
            default -> rnd.nextBytes(b);
        }
        if (shape != 0) {
            b[rnd.nextInt(size)] = 1;
        }
        return b;
    }
}
