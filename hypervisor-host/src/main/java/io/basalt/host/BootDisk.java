package io.basalt.host;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * The pieces of a disk that SeaBIOS boots by itself (no {@code -kernel}): sector 0 holds
 * SYSLINUX's MBR code and one active FAT16 partition; the partition holds SYSLINUX, its config,
 * the kernel and the initramfs. Built from Debian packages (syslinux, syslinux-common, mtools,
 * dosfstools) without root: the partition is an image file, made with {@code mkfs.fat -C} and
 * filled with {@code mcopy}. Used by the guest tests that boot from a disk (the iSCSI target's,
 * and the qcow2 export's).
 */
public final class BootDisk {
    public static final int BLOCK_SIZE_BYTES = 512;
    /** SYSLINUX's MBR boot code (Debian package syslinux-common). */
    public static final Path SYSLINUX_MBR = Path.of("/usr/lib/syslinux/mbr/mbr.bin");
    /** What SYSLINUX prints once the kernel is loaded from the partition (after its banner). */
    public static final Pattern SYSLINUX_LOADED_KERNEL = Pattern.compile("SYSLINUX \\S+ .*\\R(?s:.*)Loading /vmlinuz\\.+ ?ok");
    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(60);
    private static final int MBR_CODE_BYTES_MAX = 440;

    private BootDisk() {}

    /**
     * Sector 0: SYSLINUX's MBR code and one active FAT16 (LBA) partition at {@code partitionLba}
     * of {@code partitionBlockCount} blocks. The MBR code loads the active partition's boot
     * sector, which SYSLINUX installed.
     */
    public static ByteBuffer masterBootRecord(long partitionLba, long partitionBlockCount) throws IOException {
        if (!Files.isRegularFile(SYSLINUX_MBR)) {
            throw new IOException(SYSLINUX_MBR + " missing (Debian: apt-get install syslinux-common, see scripts/install-test-deps.sh)");
        }
        byte[] code = Files.readAllBytes(SYSLINUX_MBR);
        if (code.length > MBR_CODE_BYTES_MAX) {
            throw new IOException(SYSLINUX_MBR + " size in bytes: " + code.length + " (expected: <= " + MBR_CODE_BYTES_MAX + ")");
        }
        ByteBuffer mbr = ByteBuffer.allocate(BLOCK_SIZE_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        mbr.put(code);
        mbr.position(446);
        // Status active, CHS start unused (LBA), type 0x0E FAT16 LBA, CHS end unused, LBA start, blocks.
        mbr.put(new byte[] {(byte) 0x80, (byte) 0xFE, (byte) 0xFF, (byte) 0xFF, 0x0E, (byte) 0xFE, (byte) 0xFF, (byte) 0xFF});
        mbr.putInt(Math.toIntExact(partitionLba)).putInt(Math.toIntExact(partitionBlockCount));
        mbr.position(510);
        mbr.put((byte) 0x55).put((byte) 0xAA);
        return mbr.position(0);
    }

    /**
     * A FAT16 image of the boot partition, {@code partitionBlockCount} blocks, to lie at
     * {@code partitionLba}, with SYSLINUX (serial console, no prompt), the kernel and the
     * initramfs; written to {@code dir/boot-partition.img}, tools' logs beside it.
     */
    public static Path bootPartition(Path dir, Path kernel, Path initrd, long partitionLba, long partitionBlockCount)
            throws IOException, InterruptedException {
        Path partition = dir.resolve("boot-partition.img");
        Path config = dir.resolve("syslinux.cfg");
        Files.writeString(config, """
                SERIAL 0 115200
                PROMPT 0
                TIMEOUT 0
                DEFAULT basalt
                LABEL basalt
                  LINUX /vmlinuz
                  INITRD /initrd.img
                  APPEND %s
                """.formatted(GuestImage.KERNEL_COMMAND_LINE), StandardCharsets.US_ASCII);
        long sizeKib = partitionBlockCount * BLOCK_SIZE_BYTES / 1024;
        // -h: hidden sectors, the partition's start, which the boot sector needs to find itself.
        tool(dir, "mkfs.fat", "dosfstools", "-C", "-F", "16", "-h", Long.toString(partitionLba), "-n", "BASALTBOOT",
                partition.toString(), Long.toString(sizeKib));
        tool(dir, "mcopy", "mtools", "-i", partition.toString(), config.toString(), "::/syslinux.cfg");
        tool(dir, "mcopy", "mtools", "-i", partition.toString(), kernel.toString(), "::/vmlinuz");
        tool(dir, "mcopy", "mtools", "-i", partition.toString(), initrd.toString(), "::/initrd.img");
        tool(dir, "syslinux", "syslinux", "--install", partition.toString());
        return partition;
    }

    /** Runs a host tool to completion (bounded); fails naming it, its package and its output. */
    private static void tool(Path dir, String name, String debianPackage, String... args) throws IOException, InterruptedException {
        String exe = which(name);
        if (exe == null) {
            throw new IOException(name + " is not installed (Debian: apt-get install " + debianPackage + ", see scripts/install-test-deps.sh)");
        }
        List<String> command = new ArrayList<>(List.of(exe));
        command.addAll(List.of(args));
        Path log = dir.resolve(name + ".log");
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            if (!process.waitFor(TOOL_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                throw new IOException(String.join(" ", command) + " ran past " + TOOL_TIMEOUT.toSeconds() + " s");
            }
            if (process.exitValue() != 0) {
                throw new IOException(String.join(" ", command) + " exit status: " + process.exitValue() + " (expected: 0); output:\n"
                        + Files.readString(log));
            }
        } finally {
            if (process.isAlive()) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    /** The executable on PATH, or in /usr/sbin and /sbin (mkfs.fat lives there; users' PATH may lack it); null if none. */
    public static String which(String name) {
        String path = System.getenv().getOrDefault("PATH", "") + File.pathSeparator + "/usr/sbin" + File.pathSeparator + "/sbin";
        for (String dir : path.split(File.pathSeparator)) {
            File f = new File(dir, name);
            if (f.canExecute()) {
                return f.getPath();
            }
        }
        return null;
    }
}
