package io.basalt.vdisk.store;

import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;

/**
 * The child process of {@link CrashTest}: writes self-describing blocks to a vdisk with many
 * writes in flight, never two overlapping at once, and prints "I seq lba blocks" before each
 * write is submitted and "A seq" once it is acknowledged. It runs until it is killed.
 *
 * <p>Each 512-byte block holds its write's sequence number, its LBA and bytes derived from both,
 * so the parent can tell for every block which write put it there and whether it is whole.
 * With a fourth argument "large", every second write is 1 MiB at a grain-aligned LBA (the
 * extent path, {@link ExtentWrites}).
 */
public final class CrashWriter {
    static final String VDISK = "crash";
    static final long SIZE_BYTES = 8L << 20;
    static final int BLOCK = 512;
    static final int INFLIGHT_MAX = 16;
    static final int WRITE_BLOCKS_MAX = 24; // up to three 4 KiB grains
    static final int LARGE_WRITE_BLOCKS = 2048; // 1 MiB

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        long seqBase = Long.parseLong(args[1]);
        Random rnd = new Random(Long.parseLong(args[2]));
        boolean large = args.length > 3 && args[3].equals("large");
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false);
        VdiskStore store = VdiskStore.open(dir, VdiskStore.Options.defaults().withExtents(large));
        if (!store.exists(VDISK)) {
            store.create(VDISK, SIZE_BYTES, BLOCK, 4096);
        }
        Vdisk disk = store.open(VDISK);
        Semaphore slots = new Semaphore(INFLIGHT_MAX);
        BitSet busy = new BitSet();
        long blocks = SIZE_BYTES / BLOCK;
        for (long seq = seqBase; ; seq++) {
            slots.acquire();
            boolean big = large && rnd.nextBoolean();
            int count = big ? LARGE_WRITE_BLOCKS : 1 + rnd.nextInt(WRITE_BLOCKS_MAX);
            long lba;
            while (true) {
                // The lock is let go between tries, so completing writes can free their blocks.
                synchronized (busy) {
                    lba = big ? rnd.nextLong((blocks - count) / 8) * 8 : rnd.nextLong(blocks - count);
                    if (busy.get((int) lba, (int) lba + count).cardinality() == 0) {
                        busy.set((int) lba, (int) lba + count);
                        break;
                    }
                }
                Thread.yield();
            }
            final long fseq = seq;
            final long flba = lba;
            synchronized (out) {
                out.println("I " + seq + " " + lba + " " + count);
                out.flush();
            }
            CompletableFuture<Void> f = disk.write(lba, ByteBuffer.wrap(pattern(seq, lba, count)), rnd.nextInt(8) == 0);
            f.whenComplete((ok, err) -> {
                if (err != null) {
                    err.printStackTrace();
                    System.exit(3);
                }
                synchronized (out) {
                    out.println("A " + fseq);
                    out.flush();
                }
                synchronized (busy) {
                    busy.clear((int) flba, (int) flba + count);
                }
                slots.release();
            });
        }
    }

    static byte[] pattern(long seq, long lba, int count) {
        byte[] data = new byte[count * BLOCK];
        for (int i = 0; i < count; i++) {
            fillBlock(data, i * BLOCK, seq, lba + i);
        }
        return data;
    }

    static void fillBlock(byte[] b, int at, long seq, long lba) {
        ByteBuffer view = ByteBuffer.wrap(b, at, BLOCK);
        view.putLong(seq).putLong(lba);
        long x = seq * 0x9E3779B97F4A7C15L ^ lba;
        while (view.hasRemaining()) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            view.putLong(x);
        }
    }
}
