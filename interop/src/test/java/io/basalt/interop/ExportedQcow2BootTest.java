package io.basalt.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.basalt.host.BootDisk;
import io.basalt.host.GuestImage;
import io.basalt.host.GuestImage.Kernel;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.VdiskStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The acceptance line "a qcow2 exported from Basalt boots the test guest under QEMU": a vdisk is
 * made bootable (SYSLINUX's MBR, a FAT partition holding SYSLINUX, the host's kernel and a
 * busybox initramfs; {@link BootDisk}), exported with {@link ImageExport} as qcow2, and QEMU
 * boots the qcow2 file itself ({@code -accel tcg}, no {@code -kernel}, no iSCSI): SeaBIOS reads
 * the MBR from the image, SYSLINUX the kernel. The guest's /init reads a random nonce that is
 * only on the disk, writes a marker line naming it, and prints it on the console; the marker is
 * then read back out of the qcow2 file after QEMU exits.
 *
 * <p>Skips only when QEMU or a kernel is missing, as the iSCSI target's {@code GuestBootTest};
 * a missing syslinux, mtools or dosfstools fails naming the package.
 */
class ExportedQcow2BootTest {
    private static final int BLOCK_SIZE_BYTES = BootDisk.BLOCK_SIZE_BYTES;
    private static final long DISK_SIZE_BYTES = 64L << 20;
    private static final long BOOT_PARTITION_LBA = 2048;
    private static final long BOOT_PARTITION_BLOCK_COUNT = 65536;
    private static final long HEADER_LBA = BOOT_PARTITION_LBA + BOOT_PARTITION_BLOCK_COUNT;
    private static final long MARKER_LBA = HEADER_LBA + 4096;
    private static final int IMAGE_WRITE_BYTES_MAX = 1 << 20;
    /** A TCG boot takes 10-30 s here; the machine is shared. */
    private static final Duration BOOT_TIMEOUT = Duration.ofSeconds(300);
    private static final Duration POLL_INTERVAL = Duration.ofMillis(200);
    private static final Pattern GUEST_OK = Pattern.compile("BASALT-GUEST-OK nonce=(\\S+)");

    @TempDir
    Path tmp;

    @Test
    void qcow2ExportOfABootableVdiskBootsUnderQemuAndKeepsTheGuestsWrite() throws Exception {
        String qemu = BootDisk.which("qemu-system-x86_64");
        assumeTrue(qemu != null, "qemu-system-x86_64 is not installed (Debian: apt-get install qemu-system-x86, see scripts/install-test-deps.sh)");
        Kernel kernel = Kernel.find(Path.of("/boot"), Path.of("/lib/modules"));
        assumeTrue(kernel != null, "no kernel image /boot/vmlinuz-VERSION with /lib/modules/VERSION/modules.dep (Debian: apt-get install linux-image-amd64, see scripts/install-test-deps.sh)");
        Path initrd = tmp.resolve("initrd.cpio");
        Files.write(initrd, GuestImage.virtioDiskInitramfs(kernel, ExportedQcow2BootTest::initScript));
        Path partition = BootDisk.bootPartition(tmp, kernel.image(), initrd, BOOT_PARTITION_LBA, BOOT_PARTITION_BLOCK_COUNT);
        String nonce = HexFormat.of().toHexDigits(new Random().nextLong());

        Path image = tmp.resolve("guest.qcow2");
        try (VdiskStore store = VdiskStore.open(tmp.resolve("store"))) {
            store.create("guest", DISK_SIZE_BYTES);
            try (BlockDevice disk = store.open("guest")) {
                writeFile(disk, BOOT_PARTITION_LBA, partition);
                disk.write(0, BootDisk.masterBootRecord(BOOT_PARTITION_LBA, BOOT_PARTITION_BLOCK_COUNT), true).join();
                disk.write(HEADER_LBA, block("BASALT-GUEST-DISK v1 nonce=" + nonce + " marker_lba=" + MARKER_LBA), true).join();
                disk.flush().join();
                ImageExport.Result r = ImageExport.export(disk, image, ImageFormat.QCOW2, false, done -> { });
                assertTrue(r.dataClusterCount() > 0 && r.fileBytes() < DISK_SIZE_BYTES,
                        "export wrote " + r.dataClusterCount() + " clusters, file " + r.fileBytes() + " bytes (expected: thin)");
            }
        }
        assertEquals("", firstLine(image, MARKER_LBA), "marker block in the exported image before boot");

        String console = boot(qemu, image);

        Matcher ok = GUEST_OK.matcher(console);
        assertTrue(ok.find(), "no OK line in:\n" + tail(console));
        assertEquals(nonce, ok.group(1), "nonce the guest read from its disk");
        assertTrue(BootDisk.SYSLINUX_LOADED_KERNEL.matcher(console).find(),
                "console shows no SYSLINUX banner and 'Loading /vmlinuz... ok' (kernel not loaded from the image?):\n" + tail(console));
        assertEquals("BASALT-GUEST-WROTE nonce=" + nonce, firstLine(image, MARKER_LBA), "marker the guest wrote, read from the qcow2 file");
    }

    /** Runs QEMU on the qcow2 file until the guest's OK line and its power-off; QEMU is always stopped. */
    private String boot(String qemu, Path image) throws IOException, InterruptedException {
        Path console = tmp.resolve("console.log");
        Path qemuLog = tmp.resolve("qemu.log");
        Files.createFile(console);
        List<String> command = new ArrayList<>(List.of(qemu, "-accel", "tcg", "-m", "256", "-smp", "1",
                "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                "-serial", "file:" + console,
                "-drive", "file=" + image + ",format=qcow2,if=virtio", "-boot", "c"));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(qemuLog.toFile()).start();
        try {
            long deadlineNanos = System.nanoTime() + BOOT_TIMEOUT.toNanos();
            while (process.isAlive()) {
                String text = Files.readString(console, StandardCharsets.ISO_8859_1);
                Matcher fail = GuestImage.GUEST_FAIL.matcher(text);
                if (fail.find()) {
                    throw new AssertionError("guest reported: " + fail.group() + diagnostics(console, qemuLog));
                }
                if (System.nanoTime() - deadlineNanos > 0) {
                    throw new AssertionError("guest did not power off within " + BOOT_TIMEOUT.toSeconds() + " s" + diagnostics(console, qemuLog));
                }
                Thread.sleep(POLL_INTERVAL.toMillis());
            }
            // The guest powers off after its write is synced: QEMU has closed the image when it exits.
            String text = Files.readString(console, StandardCharsets.ISO_8859_1);
            assertTrue(GUEST_OK.matcher(text).find(), "qemu exited with " + process.exitValue() + " before the guest's OK line"
                    + diagnostics(console, qemuLog));
            return text;
        } finally {
            if (process.isAlive()) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    /** The guest's /init: read the header, write the marker, read it back, say OK, power off. */
    static String initScript(List<String> moduleFiles) {
        return GuestImage.initPrelude(moduleFiles) + """
                set -- $(dd if=/dev/vda bs=512 skip=%d count=1 iflag=direct 2>/dev/null | head -n 1)
                [ "$1 $2" = "BASALT-GUEST-DISK v1" ] || fail "header: '$1 $2' (expected: 'BASALT-GUEST-DISK v1')"
                nonce=${3#nonce=}; marker_lba=${4#marker_lba=}
                line="BASALT-GUEST-WROTE nonce=$nonce"
                echo "$line" | dd of=/dev/vda bs=512 seek=$marker_lba count=1 conv=sync,fsync 2>/dev/null || fail "write at lba $marker_lba"
                back=$(dd if=/dev/vda bs=512 skip=$marker_lba count=1 iflag=direct 2>/dev/null | head -n 1)
                [ "$back" = "$line" ] || fail "read back at lba $marker_lba: '$back' (expected: '$line')"
                echo "BASALT-GUEST-OK nonce=$nonce"
                sync
                poweroff -f
                sleep 60
                """.formatted(HEADER_LBA);
    }

    private static ByteBuffer block(String line) {
        return ByteBuffer.allocate(BLOCK_SIZE_BYTES).put((line + "\n").getBytes(StandardCharsets.US_ASCII)).position(0);
    }

    private static void writeFile(BlockDevice disk, long lba, Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        assertEquals(0, bytes.length % BLOCK_SIZE_BYTES, "size of " + file + " in bytes: " + bytes.length + " (expected: multiple of " + BLOCK_SIZE_BYTES + ")");
        for (int offset = 0; offset < bytes.length; offset += IMAGE_WRITE_BYTES_MAX) {
            int length = Math.min(IMAGE_WRITE_BYTES_MAX, bytes.length - offset);
            disk.write(lba + offset / BLOCK_SIZE_BYTES, ByteBuffer.wrap(bytes, offset, length).slice(), false).join();
        }
    }

    /** Text of one block of the qcow2 image, read with the importer's reader, up to its first newline or NUL. */
    private static String firstLine(Path image, long lba) {
        byte[] bytes = new byte[BLOCK_SIZE_BYTES];
        try (ImageSource source = ImageSource.open(image, ImageFormat.QCOW2)) {
            source.read(lba * BLOCK_SIZE_BYTES, bytes, 0, BLOCK_SIZE_BYTES);
        }
        int end = 0;
        while (end < bytes.length && bytes[end] != '\n' && bytes[end] != 0) {
            end++;
        }
        return new String(bytes, 0, end, StandardCharsets.US_ASCII);
    }

    private static String diagnostics(Path console, Path qemuLog) throws IOException {
        return "\n--- serial console (tail) ---\n" + tail(Files.readString(console, StandardCharsets.ISO_8859_1))
                + "\n--- qemu output ---\n" + tail(Files.readString(qemuLog, StandardCharsets.ISO_8859_1));
    }

    private static String tail(String s) {
        return s.length() <= 6000 ? s : s.substring(s.length() - 6000);
    }
}
