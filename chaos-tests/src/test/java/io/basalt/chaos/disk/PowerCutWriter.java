package io.basalt.chaos.disk;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;

import io.basalt.vdisk.store.Vdisk;
import io.basalt.vdisk.store.VdiskStore;

/**
 * The child process of {@link PowerCutTest}: a stream of big writes (256 KiB to 1 MiB, grain
 * aligned) to one vdisk, one at a time, with a flush after every few MiB. It prints
 * "I seq grain grains" before each write, "A seq" once the engine completed it, and "F seq" once
 * a flush that began after write {@code seq} completed has returned, so every write up to
 * {@code seq} is flushed. Runs until killed.
 *
 * <p>Each 4 KiB unit (a "grain" here) holds its write's sequence number, its index and words
 * derived from both, so the parent can tell for every unit which write put it there and whether
 * it is whole. The vdisk's own grain size is the fourth argument: 4 KiB keeps the data in
 * RocksDB's tables, 64 KiB puts it in blob files, and a write then covers its first and last
 * engine grains only in part (read, modify, write). The fifth argument "true" puts the data of
 * big aligned writes in extent files (VdiskStore.Options#extents).
 */
public final class PowerCutWriter {
    static final String VDISK = "cut";
    static final int GRAIN_BYTES = 4096;
    static final long SIZE_BYTES = 64L << 20;
    static final int WRITE_GRAINS_MIN = 64;   // 256 KiB
    static final int WRITE_GRAINS_MAX = 256;  // 1 MiB
    static final long FLUSH_EVERY_BYTES = 6L << 20;

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        long seq = Long.parseLong(args[1]);
        Random rnd = new Random(Long.parseLong(args[2]));
        int engineGrainBytes = Integer.parseInt(args[3]);
        boolean extents = Boolean.parseBoolean(args[4]);
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false);
        VdiskStore store = VdiskStore.open(dir, VdiskStore.Options.defaults().withExtents(extents));
        if (!store.exists(VDISK)) {
            store.create(VDISK, SIZE_BYTES, 512, engineGrainBytes);
        }
        Vdisk disk = store.open(VDISK);
        long grains = SIZE_BYTES / GRAIN_BYTES;
        long sinceFlushBytes = 0;
        for (; ; seq++) {
            int count = WRITE_GRAINS_MIN + rnd.nextInt(WRITE_GRAINS_MAX - WRITE_GRAINS_MIN + 1);
            long grain = rnd.nextLong(grains - count + 1);
            out.println("I " + seq + " " + grain + " " + count);
            out.flush();
            disk.write(grain * (GRAIN_BYTES / 512), ByteBuffer.wrap(pattern(seq, grain, count)), false).join();
            out.println("A " + seq);
            out.flush();
            sinceFlushBytes += (long) count * GRAIN_BYTES;
            if (sinceFlushBytes >= FLUSH_EVERY_BYTES) {
                disk.flush().join();
                out.println("F " + seq);
                out.flush();
                sinceFlushBytes = 0;
            }
        }
    }

    static byte[] pattern(long seq, long grain, int count) {
        byte[] data = new byte[count * GRAIN_BYTES];
        for (int i = 0; i < count; i++) {
            fillGrain(data, i * GRAIN_BYTES, seq, grain + i);
        }
        return data;
    }

    static void fillGrain(byte[] b, int at, long seq, long grain) {
        ByteBuffer view = ByteBuffer.wrap(b, at, GRAIN_BYTES);
        view.putLong(seq).putLong(grain);
        long x = seq * 0x9E3779B97F4A7C15L ^ grain;
        while (view.hasRemaining()) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            view.putLong(x);
        }
    }
}
