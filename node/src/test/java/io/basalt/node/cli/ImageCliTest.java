package io.basalt.node.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code basalt vdisk export|import} on the embedded store: round trips, thinness, and refusals that leave nothing behind. */
class ImageCliTest {
    @TempDir
    Path dir;

    /** {@code basalt ARGS --data DIR/store}, checking the exit code. */
    private CliResult expect(int exit, String... args) {
        String[] withData = Arrays.copyOf(args, args.length + 2);
        withData[args.length] = "--data";
        withData[args.length + 1] = dir.resolve("store").toString();
        CliResult r = CliResult.run(withData);
        assertEquals(exit, r.exit(), String.join(" ", args) + ": " + r.out() + r.err());
        return r;
    }

    private CliResult ok(String... args) {
        return expect(0, args);
    }

    /** web1 of 20 MiB: 3 MiB of data at 1 MiB (in the snapshot s1), then 1 MiB more at 12 MiB (head only). */
    private byte[] makeDisk() throws Exception {
        ok("vdisk", "create", "web1", "--size", "20M");
        byte[] data = new byte[3 << 20];
        Random random = new Random(9);
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) ('a' + random.nextInt(4)); // compressible, never zero
        }
        Path in = dir.resolve("in.bin");
        Files.write(in, data);
        ok("vdisk", "write", "web1", "--offset", "1M", "--input", in.toString());
        ok("snap", "create", "web1@s1");
        Files.write(in, Arrays.copyOf(data, 1 << 20));
        ok("vdisk", "write", "web1", "--offset", "12M", "--input", in.toString());
        return data;
    }

    private byte[] readAll(String vdisk) throws Exception {
        Path out = dir.resolve("read.bin");
        ok("vdisk", "read", vdisk, "--length", "20M", "--output", out.toString());
        return Files.readAllBytes(out);
    }

    @Test
    void snapshotExportedAsCompressedQcow2ImportsAsTheSnapshot() throws Exception {
        makeDisk();
        Path image = dir.resolve("s1.qcow2");
        CliResult export = ok("vdisk", "export", "web1@s1", image.toString(), "-O", "qcow2", "--compress");
        assertTrue(export.out().startsWith("exported web1@s1 to " + image + ": qcow2, 20 MiB disk, 3 MiB of data in 48 clusters (48 compressed)"),
                export.out());
        assertTrue(Files.size(image) < (2 << 20), "compressed, and the holes stay out: " + Files.size(image));

        CliResult imported = ok("vdisk", "import", image.toString(), "web2");
        assertTrue(imported.out().startsWith("imported " + image + " (qcow2 v3, 64 KiB clusters, deflate) into web2: 20 MiB disk, 3 MiB written"),
                imported.out());
        assertArrayEquals(readAll("web1@s1"), readAll("web2"));
        assertTrue(ok("vdisk", "du", "web2").out().lines().anyMatch(l -> l.startsWith("web2 ") && l.contains("3 MiB")), "thin: only the data");
    }

    @Test
    void headExportedAsRawImportsByMagicAndAsRaw() throws Exception {
        makeDisk();
        Path image = dir.resolve("web1.img");
        ok("vdisk", "export", "web1", image.toString());
        assertEquals(20L << 20, Files.size(image));
        assertArrayEquals(readAll("web1"), Files.readAllBytes(image));

        ok("vdisk", "import", image.toString(), "web3", "-f", "raw");
        assertArrayEquals(readAll("web1"), readAll("web3"));
        CliResult auto = ok("vdisk", "import", image.toString(), "web4");
        assertTrue(auto.out().contains("(raw) into web4: 20 MiB disk, 4 MiB written"), auto.out());
    }

    @Test
    void vmdkOfBothKindsRoundTrips() throws Exception {
        makeDisk();
        for (String kind : new String[] {"monolithicSparse", "streamOptimized"}) {
            Path image = dir.resolve(kind + ".vmdk");
            if (kind.equals("streamOptimized")) {
                ok("vdisk", "export", "web1", image.toString(), "-O", "vmdk", "--compress");
            } else {
                ok("vdisk", "export", "web1", image.toString(), "-O", "vmdk");
            }
            CliResult imported = ok("vdisk", "import", image.toString(), kind, "-f", "vmdk");
            assertTrue(imported.out().contains("(vmdk " + kind + ", 64 KiB grains"), imported.out());
            assertArrayEquals(readAll("web1"), readAll(kind));
        }
    }

    @Test
    void refusalsNameTheValueAndLeaveNoVdiskOrFileBehind() throws Exception {
        makeDisk();
        Path image = dir.resolve("x.qcow2");
        CliResult compressRaw = expect(1, "vdisk", "export", "web1", image.toString(), "-O", "raw", "--compress");
        assertEquals("basalt vdisk export: --compress with -O raw (expected: -O qcow2, or -O vmdk for a streamOptimized VMDK)\n", compressRaw.err());
        CliResult badFormat = expect(1, "vdisk", "export", "web1", image.toString(), "-O", "vhd");
        assertTrue(badFormat.err().contains("format: 'vhd' (expected: "), badFormat.err());
        assertFalse(Files.exists(image), "a refused export writes no file");

        ok("vdisk", "export", "web1", image.toString(), "-O", "qcow2");
        byte[] whole = Files.readAllBytes(image);
        Files.write(image, Arrays.copyOf(whole, whole.length / 2));
        CliResult truncated = expect(1, "vdisk", "import", image.toString(), "web5");
        assertTrue(truncated.err().startsWith("basalt vdisk import: " + image + ": ") && truncated.err().lines().count() == 1, truncated.err());
        assertEquals("web1\n", ok("vdisk", "ls").out(), "a refused import creates no vdisk");

        Path odd = dir.resolve("odd.raw");
        Files.write(odd, new byte[1000]);
        CliResult oddSize = expect(1, "vdisk", "import", odd.toString(), "web6");
        assertTrue(oddSize.err().contains("image size: 1000 bytes (expected: a multiple of the block size 512)"), oddSize.err());
        byte[] before = readAll("web1");
        Files.write(odd, new byte[20 << 20]);
        CliResult exists = expect(1, "vdisk", "import", odd.toString(), "web1");
        assertTrue(exists.err().contains("web1"), exists.err());
        assertArrayEquals(before, readAll("web1"), "an import never writes into an existing vdisk");
    }
}
