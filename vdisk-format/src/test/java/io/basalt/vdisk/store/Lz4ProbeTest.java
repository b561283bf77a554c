package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

import io.basalt.vdisk.frame.BlockFrame;

class Lz4ProbeTest {
    private static final int GRAIN = 4096;

    @Test
    void compressibleGrainsAreAllCompressed() {
        byte[] data = text(16);
        assertArrayEquals(kinds(16, BlockFrame.Kind.LZ4), encodeAll(new Lz4Probe(), data, 16));
    }

    @Test
    void afterAnIncompressibleGrainOnlyEveryEighthIsTriedAndACompressingProbeResumes() {
        byte[] data = new byte[32 * GRAIN];
        new Random(5).nextBytes(data);
        byte[] text = text(24);
        System.arraycopy(text, 0, data, 8 * GRAIN, text.length); // grains 8..31 compress
        BlockFrame.Kind[] kinds = encodeAll(new Lz4Probe(), data, 32);
        // Grain 0 is tried and fails; 1..7 are not tried; grain 8 (the probe) compresses, so
        // every grain after it is tried again.
        for (int g = 0; g < 8; g++) {
            assertEquals(BlockFrame.Kind.RAW, kinds[g], "grain " + g);
        }
        for (int g = 8; g < 32; g++) {
            assertEquals(BlockFrame.Kind.LZ4, kinds[g], "grain " + g);
        }
    }

    @Test
    void compressibleGrainsBetweenProbesAreStoredRawAndStillDecode() {
        byte[] data = new byte[12 * GRAIN];
        System.arraycopy(random(6), 0, data, 0, GRAIN);
        byte[] text = text(11);
        System.arraycopy(text, 0, data, GRAIN, text.length);
        Lz4Probe probe = new Lz4Probe();
        List<byte[]> frames = new ArrayList<>();
        for (int g = 0; g < 12; g++) {
            frames.add(probe.encode(data, g * GRAIN, GRAIN));
        }
        assertEquals(BlockFrame.Kind.RAW, BlockFrame.kind(frames.get(3)), "grain 3 lies between probes");
        assertEquals(BlockFrame.Kind.LZ4, BlockFrame.kind(frames.get(8)), "grain 8 is the probe");
        for (int g = 0; g < 12; g++) {
            byte[] out = new byte[GRAIN];
            BlockFrame.decode(frames.get(g), GRAIN, out, 0);
            assertArrayEquals(Arrays.copyOfRange(data, g * GRAIN, (g + 1) * GRAIN), out, "grain " + g);
        }
    }

    @Test
    void zeroGrainsLeaveThePolicyAlone() {
        byte[] data = new byte[4 * GRAIN];
        System.arraycopy(random(7), 0, data, 0, GRAIN); // grain 0 random, 1..3 zero
        BlockFrame.Kind[] kinds = encodeAll(new Lz4Probe(), data, 4);
        assertArrayEquals(new BlockFrame.Kind[] {BlockFrame.Kind.RAW, BlockFrame.Kind.ZEROS, BlockFrame.Kind.ZEROS, BlockFrame.Kind.ZEROS}, kinds);
    }

    private static BlockFrame.Kind[] encodeAll(Lz4Probe probe, byte[] data, int grains) {
        BlockFrame.Kind[] kinds = new BlockFrame.Kind[grains];
        for (int g = 0; g < grains; g++) {
            kinds[g] = BlockFrame.kind(probe.encode(data, g * GRAIN, GRAIN));
        }
        return kinds;
    }

    private static byte[] random(long seed) {
        byte[] grain = new byte[GRAIN];
        new Random(seed).nextBytes(grain);
        return grain;
    }

    private static BlockFrame.Kind[] kinds(int count, BlockFrame.Kind kind) {
        BlockFrame.Kind[] all = new BlockFrame.Kind[count];
        Arrays.fill(all, kind);
        return all;
    }

    /** {@code grains} grains of text: compresses well under LZ4. */
    private static byte[] text(int grains) {
        byte[] out = new byte[grains * GRAIN];
        byte[] line = "the quick brown fox jumps over the lazy dog 0123456789\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        for (int i = 0; i < out.length; i++) {
            out[i] = line[i % line.length];
        }
        return out;
    }
}
