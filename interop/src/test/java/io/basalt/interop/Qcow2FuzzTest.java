package io.basalt.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutates header and table bytes of small qcow2 images (seeded) and checks the promise: an import
 * either fails with one clear {@link InteropException}, or yields exactly what {@code qemu-img
 * convert -O raw} makes of the same file. Never another exception, never a different disk.
 */
class Qcow2FuzzTest {
    /** {@code -Dfuzz.seed=N -Dfuzz.cases=N} replays a printed seed or searches longer. */
    private static final long SEED = Long.getLong("fuzz.seed", 20261207L);
    private static final int CASES = Integer.getInteger("fuzz.cases", 300);
    private static final long SIZE_BYTES = 1L << 20;
    /** Above this a mutated size is compared by its first bytes and its size only (both read holes as zeros). */
    private static final long COMPARED_BYTES_MAX = 64L << 20;

    @TempDir Path dir;

    @Test
    void mutatedImagesFailCleanlyOrImportAsQemuReadsThem() throws IOException {
        QemuImg.assumeInstalled();
        List<byte[]> bases = List.of(base("plain", false), base("compressed", true), base("v2", false));
        SplittableRandom random = new SplittableRandom(SEED);
        int refused = 0;
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < CASES; i++) {
            byte[] base = bases.get(i % bases.size());
            byte[] mutated = mutate(base, random);
            Path file = dir.resolve("case.qcow2");
            Files.write(file, mutated);
            String replay = "case " + i + " (seed " + SEED + ")";
            byte[] ours;
            long ourSize;
            try (ImageSource s = ImageSource.open(file, ImageFormat.QCOW2)) {
                ourSize = s.sizeBytes();
                ours = new byte[(int) Math.min(ourSize, COMPARED_BYTES_MAX)];
                s.read(0, ours, 0, ours.length);
            } catch (InteropException e) {
                assertTrue(!e.getMessage().contains("\n") && e.getMessage().startsWith(file.toString()), replay + ": " + e.getMessage());
                refused++;
                continue;
            } catch (RuntimeException e) {
                failures.add(replay + ": not an InteropException: " + e);
                continue;
            }
            Path out = dir.resolve("qemu.raw");
            Files.deleteIfExists(out);
            QemuImg.Outcome q = QemuImg.run("convert", "-f", "qcow2", "-O", "raw", file.toString(), out.toString());
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
        // Not an assertion of outcome counts (they depend on the mutations), only that both kinds occur.
        assertTrue(refused > 0 && refused < CASES, "refused " + refused + " of " + CASES);
    }

    private byte[] base(String name, boolean compress) throws IOException {
        Path raw = dir.resolve(name + ".raw");
        Disks.writeRawFile(raw, SIZE_BYTES, new SplittableRandom(name.hashCode()), 6);
        Path image = dir.resolve(name + ".qcow2");
        List<String> args = new ArrayList<>(List.of("convert", "-f", "raw", "-O", "qcow2", "-o",
                name.equals("v2") ? "compat=0.10,cluster_size=4096" : "cluster_size=4096"));
        if (compress) {
            args.add("-c");
        }
        args.addAll(List.of(raw.toString(), image.toString()));
        QemuImg.ok(args.toArray(String[]::new));
        return Files.readAllBytes(image);
    }

    /** Changes 1 to 4 bytes in the header, its extensions, the L1 table, an L2 table or the refcount table. */
    private static byte[] mutate(byte[] base, SplittableRandom random) {
        byte[] b = base.clone();
        ByteBuffer buf = ByteBuffer.wrap(base);
        long l1 = buf.getLong(40);
        long l2 = buf.getLong((int) l1) & 0x00fffffffffffe00L;
        long refcounts = buf.getLong(48);
        int count = 1 + random.nextInt(4);
        for (int i = 0; i < count; i++) {
            long at = switch (random.nextInt(6)) {
                case 0 -> random.nextInt(112); // the header fields
                case 1 -> random.nextInt(512); // and the extensions after them (feature names, backing format)
                case 2 -> l1 + random.nextInt(16);
                case 3 -> l2 + random.nextInt(64);
                default -> refcounts + random.nextInt(16);
            };
            if (at <= 0 || at >= b.length) {
                continue;
            }
            b[(int) at] = switch (random.nextInt(3)) {
                case 0 -> (byte) (b[(int) at] ^ (1 << random.nextInt(8)));
                case 1 -> (byte) random.nextInt(256);
                default -> (byte) (random.nextBoolean() ? 0 : 0xff);
            };
        }
        return b;
    }
}
