package io.basalt.cluster.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.TestCluster;
import io.basalt.vdisk.BlockDeviceException;

/**
 * A cluster whose disk fills up: on a small tmpfs (a real filesystem with a real size; mounting
 * needs root, which CI has), another file takes the space, and the nodes must refuse writes with
 * a clear "no space" error before their Raft logs or stores meet ENOSPC, keep serving reads and
 * unmaps, lose nothing, and write again once the space is back.
 */
class DiskFullTest {
    private static final int BLOCK = 512;
    private static final long TMPFS_BYTES = 2L << 30;
    private static final long RESERVE_BYTES = 512L << 20;
    @TempDir
    Path dir;
    private Path mount;
    private TestCluster cluster;

    @BeforeEach
    void mountTmpfs() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "mounting a tmpfs needs root (CI runs as root)");
        mount = Files.createDirectory(dir.resolve("fs"));
        run("mount", "-t", "tmpfs", "-o", "size=" + (TMPFS_BYTES >> 20) + "m", "basalt-diskfull-test", mount.toString());
    }

    @AfterEach
    void stop() throws Exception {
        try {
            if (cluster != null) {
                cluster.close();
            }
        } finally {
            if (mount != null) {
                run("umount", "-l", mount.toString());
            }
        }
    }

    private static void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
    }

    @Test
    void aFullDiskRefusesWritesClearlyKeepsReadsAndUnmapsAndLosesNothing() throws Exception {
        cluster = TestCluster.start(TestCluster.config("full", 3, 3, 3, TestCluster.fastTuning()), mount.resolve("cluster"), RESERVE_BYTES);
        cluster.client().createVdisk("disk0", 64L << 20, BLOCK, 4096);
        ClusterVdisk disk = cluster.client().open("disk0");
        Random r = new Random(7);
        byte[] before = new byte[64 << 10];
        r.nextBytes(before);
        // Spread over the stripes, so every PG holds some of it.
        long[] lbas = {0, 8 << 20 >> 9, 24 << 20 >> 9, 40 << 20 >> 9};
        for (long lba : lbas) {
            disk.write(lba, ByteBuffer.wrap(before), false).join();
        }

        // Something else takes the space: leave less free than the reserve.
        Path filler = mount.resolve("filler");
        long free = Files.getFileStore(mount).getUsableSpace();
        fill(filler, free - (RESERVE_BYTES - (128L << 20)));
        Thread.sleep(300); // the reserve rereads free space every 100 ms

        byte[] refused = new byte[4096];
        Arrays.fill(refused, (byte) 0x5a);
        for (long lba : lbas) {
            CompletionException e = assertThrows(CompletionException.class, () -> disk.write(lba, ByteBuffer.wrap(refused), false).join());
            BlockDeviceException full = assertInstanceOf(BlockDeviceException.class, e.getCause());
            assertEquals(BlockDeviceException.Kind.NO_SPACE, full.kind(), full.getMessage());
            assertTrue(full.getMessage().contains("MiB free on ") && full.getMessage().contains("reserve of 512 MiB"), full.getMessage());
        }
        // Opening the vdisk (a gateway starting) and reading go on, and see no trace of the
        // refused writes; unmaps (which free space) go on.
        try (ClusterVdisk again = cluster.client().open("disk0")) {
            for (long lba : lbas) {
                assertArrayEquals(before, bytes(again.read(lba, before.length / BLOCK).join()));
            }
        }
        disk.unmap(lbas[3], before.length / BLOCK).join();
        assertArrayEquals(new byte[before.length], bytes(disk.read(lbas[3], before.length / BLOCK).join()));

        // Space back: writes go on.
        Files.delete(filler);
        Thread.sleep(300);
        for (long lba : lbas) {
            disk.write(lba, ByteBuffer.wrap(refused), false).join();
        }
        for (long lba : lbas) {
            byte[] expected = lba == lbas[3] ? new byte[before.length] : before.clone();
            System.arraycopy(refused, 0, expected, 0, refused.length);
            assertArrayEquals(expected, bytes(disk.read(lba, before.length / BLOCK).join()));
        }
    }

    private static void fill(Path file, long bytes) throws IOException {
        ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long done = 0; done < bytes; ) {
                chunk.clear().limit((int) Math.min(chunk.capacity(), bytes - done));
                done += ch.write(chunk);
            }
        }
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }
}
