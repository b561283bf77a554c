package io.basalt.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.random.RandomGenerator;

import io.basalt.replication.stream.MirrorFrameCodec;
import io.basalt.vdisk.store.SnapshotInfo;
import io.basalt.vdisk.store.Vdisk;
import io.basalt.vdisk.store.VdiskStore;

/** Two embedded stores in one process, site A (the primary) and site B (the replica's), for tests. */
final class Sites implements AutoCloseable {
    static final String SITE_A = "site-a";
    /** No space reserve: tests share a disk with other builds. */
    private static final VdiskStore.Options OPTIONS = new VdiskStore.Options(64L << 20, 2, 0);

    final VdiskStore a;
    final VdiskStore b;
    final MirrorSender sender;
    final MirrorReceiver receiver;

    Sites(Path dir) {
        this.a = VdiskStore.open(dir.resolve("a"), OPTIONS);
        this.b = VdiskStore.open(dir.resolve("b"), OPTIONS);
        this.sender = new MirrorSender(a, SITE_A);
        this.receiver = new MirrorReceiver(b);
    }

    /** The stream from {@code from} (null: full) to {@code to} of {@code vdisk} on A, as bytes. */
    byte[] stream(String vdisk, String from, String to, long sequence) {
        return stream(sender, vdisk, from, to, sequence);
    }

    static byte[] stream(MirrorSender sender, String vdisk, String from, String to, long sequence) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        MirrorSender.Result r = sender.send(vdisk, from, to, sequence, out);
        assertEquals(out.size(), r.streamBytes());
        return out.toByteArray();
    }

    MirrorReceiver.Result apply(byte[] stream, String replica) {
        return receiver.receive(new ByteArrayInputStream(stream), replica);
    }

    /** Writes {@code count} random grains of random data (and unmaps every tenth) at random grain offsets. */
    static long writeRandomGrains(VdiskStore store, String vdisk, RandomGenerator random, int count) {
        try (Vdisk v = store.open(vdisk)) {
            int grain = v.info().grainSizeBytes();
            int blocksPerGrain = grain / v.logicalBlockSizeBytes();
            long grains = v.sizeBytes() / grain;
            for (int i = 0; i < count; i++) {
                long lba = random.nextLong(grains) * blocksPerGrain;
                if (i % 10 == 9) {
                    v.unmap(lba, blocksPerGrain).join();
                } else {
                    byte[] data = new byte[grain];
                    random.nextBytes(data);
                    v.write(lba, ByteBuffer.wrap(data), false).join();
                }
            }
            return (long) count * grain;
        }
    }

    /** Asserts that {@code specA} on A and {@code specB} on B read the same, byte for byte. */
    void assertSameBytes(String specA, String specB) {
        try (Vdisk x = a.open(specA); Vdisk y = b.open(specB)) {
            assertEquals(x.sizeBytes(), y.sizeBytes(), specA + " vs " + specB + ": size");
            int block = x.logicalBlockSizeBytes();
            int chunkBlocks = (1 << 20) / block;
            for (long lba = 0; lba < x.blockCount(); lba += chunkBlocks) {
                int n = (int) Math.min(chunkBlocks, x.blockCount() - lba);
                ByteBuffer bx = x.read(lba, n).join();
                ByteBuffer by = y.read(lba, n).join();
                if (!bx.equals(by)) {
                    int at = bx.mismatch(by);
                    throw new AssertionError(specA + " and " + specB + " differ at byte " + (lba * block + at));
                }
            }
        }
    }

    static List<String> snapshotNames(VdiskStore store, String vdisk) {
        List<String> names = new ArrayList<>();
        for (SnapshotInfo s : store.snapshots(vdisk)) {
            names.add(s.name());
        }
        return names;
    }

    /** The stream cut into its frames (each a whole envelope). */
    static List<byte[]> frames(byte[] stream) {
        List<byte[]> out = new ArrayList<>();
        for (int at = 0; at < stream.length; ) {
            int length = MirrorFrameCodec.frameLength(ByteBuffer.wrap(stream, at, MirrorFrameCodec.PREFIX_BYTES));
            out.add(Arrays.copyOfRange(stream, at, at + length));
            at += length;
        }
        return out;
    }

    static byte[] join(List<byte[]> frames) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        frames.forEach(out::writeBytes);
        return out.toByteArray();
    }

    @Override
    public void close() {
        try {
            a.close();
        } finally {
            b.close();
        }
    }
}
