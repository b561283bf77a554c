package io.basalt.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import io.basalt.vdisk.store.Vdisk;
import io.basalt.vdisk.store.VdiskStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutates header, descriptor, grain directory, grain table and marker bytes of small VMDKs
 * (qemu-img's monolithicSparse and streamOptimized, and Basalt's streamOptimized with its footer;
 * seeded) and checks the promise: an import either fails with one clear {@link InteropException},
 * or yields exactly what {@code qemu-img convert -O raw} makes of the same file.
 */
class VmdkFuzzTest {
    /** {@code -Dfuzz.seed=N -Dfuzz.cases=N} replays a printed seed or searches longer. */
    private static final long SEED = Long.getLong("fuzz.seed", 20261207L);
    private static final int CASES = Integer.getInteger("fuzz.cases", 300);
    private static final long SIZE_BYTES = 1L << 20;
    /** Above this a mutated capacity is compared by its first bytes and its size only (both read holes as zeros). */
    private static final long COMPARED_BYTES_MAX = 64L << 20;

    @TempDir Path dir;

    @Test
    void mutatedImagesFailCleanlyOrImportAsQemuReadsThem() throws IOException {
        QemuImg.assumeInstalled();
        List<byte[]> bases = List.of(qemuBase("monolithicSparse"), qemuBase("streamOptimized"), ourStream());
        SplittableRandom random = new SplittableRandom(SEED);
        int refused = 0;
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < CASES; i++) {
            List<Long> offsets = new ArrayList<>();
            byte[] mutated = mutate(bases.get(i % bases.size()), random, offsets);
            Path file = dir.resolve("case.vmdk");
            Files.write(file, mutated);
            String replay = "case " + i + " (seed " + SEED + ", base " + i % bases.size() + ", bytes " + offsets + ")";
            byte[] ours;
            long ourSize;
            try (ImageSource s = ImageSource.open(file, ImageFormat.VMDK)) {
                ourSize = s.sizeBytes();
                ours = new byte[(int) Math.min(ourSize, COMPARED_BYTES_MAX)];
                s.read(0, ours, 0, ours.length);
            } catch (InteropException e) {
                if (e.getMessage().contains("\n") || !e.getMessage().startsWith(file.toString())) {
                    failures.add(replay + ": not one line naming the file: " + e.getMessage());
                }
                refused++;
                continue;
            } catch (RuntimeException e) {
                failures.add(replay + ": not an InteropException: " + e);
                continue;
            }
            Path out = dir.resolve("qemu.raw");
            Files.deleteIfExists(out);
            QemuImg.Outcome q = QemuImg.run("convert", "-f", "vmdk", "-O", "raw", file.toString(), out.toString());
            if (!q.ok()) {
                failures.add(replay + ": we imported " + ourSize + " bytes but qemu-img refuses the file: " + q.output().strip());
                continue;
            }
            if (Files.size(out) != ourSize) {
                failures.add(replay + ": virtual size " + ourSize + " (qemu-img: " + Files.size(out) + ")");
                continue;
            }
            byte[] theirs = new byte[ours.length];
            try (var ch = java.nio.channels.FileChannel.open(out)) {
                ch.read(ByteBuffer.wrap(theirs), 0);
            }
            if (!Arrays.equals(ours, theirs)) {
                failures.add(replay + ": imported bytes differ from qemu-img's at offset " + Arrays.mismatch(ours, theirs));
            }
        }
        assertEquals(List.of(), failures, failures.size() + " of " + CASES + " cases broke the promise");
        assertTrue(refused > 0 && refused < CASES, "refused " + refused + " of " + CASES);
    }

    private byte[] qemuBase(String subformat) throws IOException {
        Path raw = dir.resolve(subformat + ".raw");
        Disks.writeRawFile(raw, SIZE_BYTES, new SplittableRandom(subformat.hashCode()), 6);
        Path image = dir.resolve(subformat + ".vmdk");
        QemuImg.ok("convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=" + subformat, raw.toString(), image.toString());
        return Files.readAllBytes(image);
    }

    private byte[] ourStream() throws IOException {
        try (VdiskStore store = Disks.store(dir.resolve("store"))) {
            store.create("d", SIZE_BYTES);
            try (Vdisk v = store.open("d")) {
                Disks.writeRandomExtents(v, new SplittableRandom(6), 6);
                Path image = dir.resolve("ours.vmdk");
                ImageExport.export(v, image, ImageFormat.VMDK, true, done -> { });
                return Files.readAllBytes(image);
            }
        }
    }

    /** Changes 1 to 4 bytes in the header, the descriptor, the grain directory, the first grain table, a grain marker or the footer. */
    private static byte[] mutate(byte[] base, SplittableRandom random, List<Long> offsets) {
        byte[] b = base.clone();
        ByteBuffer buf = ByteBuffer.wrap(base).order(ByteOrder.LITTLE_ENDIAN);
        long gdOffset = buf.getLong(56);
        if (gdOffset == VmdkHeader.GD_AT_END) {
            gdOffset = buf.getLong(base.length - 1024 + 56);
        }
        long gd = gdOffset * 512;
        long gt = Integer.toUnsignedLong(buf.getInt((int) gd)) * 512;
        long grain = firstGrain(buf, gt) * 512;
        int count = 1 + random.nextInt(4);
        for (int i = 0; i < count; i++) {
            long at = switch (random.nextInt(7)) {
                case 0, 1 -> random.nextInt(80); // the header fields
                case 2 -> 512 + random.nextInt(400); // the descriptor
                case 3 -> gd + random.nextInt(8);
                case 4 -> gt + random.nextInt(64);
                case 5 -> grain + random.nextInt(16); // a stream's grain marker, or the start of a grain
                default -> base.length - 1536 + random.nextInt(1536); // a stream's footer, or the last grain
            };
            if (at <= 0 || at >= b.length) {
                continue;
            }
            offsets.add(at);
            b[(int) at] = switch (random.nextInt(3)) {
                case 0 -> (byte) (b[(int) at] ^ (1 << random.nextInt(8)));
                case 1 -> (byte) random.nextInt(256);
                default -> (byte) (random.nextBoolean() ? 0 : 0xff);
            };
        }
        return b;
    }

    private static long firstGrain(ByteBuffer buf, long gt) {
        for (int i = 0; i < VmdkHeader.GTES_PER_GT; i++) {
            long sector = Integer.toUnsignedLong(buf.getInt((int) gt + 4 * i));
            if (sector > 1) {
                return sector;
            }
        }
        throw new AssertionError("no grain in the first grain table");
    }
}
