package io.basalt.iscsi;

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
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Boots a real Linux guest under {@code qemu-system-x86_64 -accel tcg} whose disk is a Basalt
 * vdisk served by {@link IscsiTarget} on an ephemeral loopback port, and checks that the guest
 * read its disk, wrote to it, read its write back, and that the write reached the store.
 *
 * <p>Everything comes from files already on the machine (Debian packages): the host's kernel from
 * {@code /boot}, the virtio modules it needs from {@code /lib/modules}, and {@code busybox-static}.
 * The test packs them into a tiny initramfs (a newc cpio written here in Java, so no root and no
 * {@code cpio} binary are needed) whose {@code /init} is the script in {@link #initScript}. The
 * guest's only disk is {@code iscsi://127.0.0.1:PORT/IQN/0} on virtio-blk, through QEMU's own
 * iSCSI initiator (libiscsi, Debian package qemu-block-extra). Two ways to start the guest:
 * <ul>
 *   <li>from the disk: an MBR (syslinux's {@code mbr.bin}) and a FAT partition holding SYSLINUX,
 *       the kernel and the initramfs are written into the vdisk; SeaBIOS reads the boot sector
 *       over iSCSI, and SYSLINUX loads kernel and initramfs from the vdisk;
 *   <li>with {@code -kernel}/{@code -initrd}: QEMU loads them from host files and only the data
 *       lives on the vdisk (fewer moving parts, fewer packages).
 * </ul>
 *
 * <p>The data the test writes before boot, after the partition: a header line at
 * {@link #HEADER_LBA} naming a random nonce, where a random payload lies and its SHA-256. The
 * guest must find the header, hash the payload, write {@code BASALT-GUEST-WROTE nonce=N sha256=S}
 * at {@link #MARKER_LBA}, read it back with O_DIRECT, and only then print
 * {@code BASALT-GUEST-OK nonce=N sha256=S} on its serial console. The nonce is on the disk only
 * (not on the kernel command line), so the line cannot come from anywhere but a guest that read
 * the disk through our target.
 */
class GuestBootTest {

    private static final String IQN = "iqn.2026-11.io.basalt:guest-boot";
    private static final int BLOCK_SIZE_BYTES = 512;
    private static final long DISK_SIZE_BYTES = 64L << 20;
    /** The FAT boot partition: LBA 2048 (the usual 1 MiB alignment), 32 MiB. */
    private static final long BOOT_PARTITION_LBA = 2048;
    private static final long BOOT_PARTITION_BLOCK_COUNT = 65536;
    /** Guest test data lives after the boot partition, in both ways of booting. */
    private static final long HEADER_LBA = BOOT_PARTITION_LBA + BOOT_PARTITION_BLOCK_COUNT;
    private static final long PAYLOAD_LBA = HEADER_LBA + 64;
    private static final int PAYLOAD_BLOCK_COUNT = 256;
    private static final long MARKER_LBA = HEADER_LBA + 4096;
    private static final int IMAGE_WRITE_BLOCK_COUNT_MAX = 2048;
    /** A TCG boot of this kernel and initramfs takes 10-30 s here; the machine is shared. */
    private static final Duration BOOT_TIMEOUT = Duration.ofSeconds(300);
    private static final Duration POLL_INTERVAL = Duration.ofMillis(200);

    private static final Pattern GUEST_OK = Pattern.compile("BASALT-GUEST-OK nonce=(\\S+) sha256=(\\S+)");

    @TempDir
    Path tmp;

    @Test
    void guestBootsFromItsIscsiDiskViaSyslinuxAndItsWriteLandsInTheVdisk() throws Exception {
        String qemu = BootDisk.which("qemu-system-x86_64");
        assumeTrue(qemu != null, "qemu-system-x86_64 is not installed (Debian: apt-get install qemu-system-x86 qemu-block-extra, see scripts/install-test-deps.sh)");
        Kernel kernel = Kernel.find(Path.of("/boot"), Path.of("/lib/modules"));
        assumeTrue(kernel != null, "no kernel image /boot/vmlinuz-VERSION with /lib/modules/VERSION/modules.dep (Debian: apt-get install linux-image-amd64, see scripts/install-test-deps.sh)");
        Path initrd = buildInitramfs(kernel);
        Path partition = BootDisk.bootPartition(tmp, kernel.image(), initrd, BOOT_PARTITION_LBA, BOOT_PARTITION_BLOCK_COUNT);

        String console = bootGuest(qemu, disk -> {
            writeImage(disk, BOOT_PARTITION_LBA, partition);
            disk.write(0, BootDisk.masterBootRecord(BOOT_PARTITION_LBA, BOOT_PARTITION_BLOCK_COUNT), true).join();
        }, List.of("-boot", "c"));
        assertTrue(BootDisk.SYSLINUX_LOADED_KERNEL.matcher(console).find(),
                "console shows no SYSLINUX banner and 'Loading /vmlinuz... ok' (kernel not loaded from the disk?):\n" + tail(console));
    }

    @Test
    void guestWithHostKernelReadsAndWritesItsIscsiDiskAndItsWriteLandsInTheVdisk() throws Exception {
        String qemu = BootDisk.which("qemu-system-x86_64");
        assumeTrue(qemu != null, "qemu-system-x86_64 is not installed (Debian: apt-get install qemu-system-x86 qemu-block-extra, see scripts/install-test-deps.sh)");
        Kernel kernel = Kernel.find(Path.of("/boot"), Path.of("/lib/modules"));
        assumeTrue(kernel != null, "no kernel image /boot/vmlinuz-VERSION with /lib/modules/VERSION/modules.dep (Debian: apt-get install linux-image-amd64, see scripts/install-test-deps.sh)");
        Path initrd = buildInitramfs(kernel);

        bootGuest(qemu, disk -> { }, List.of("-kernel", kernel.image().toString(), "-initrd", initrd.toString(),
                "-append", GuestImage.KERNEL_COMMAND_LINE));
    }

    /** What the test puts on the vdisk besides the guest's data (boot code, or nothing). */
    private interface DiskSetup {
        void write(BlockDevice disk) throws IOException;
    }

    /**
     * Creates the vdisk, lays down boot code and the guest's data, serves it over iSCSI, boots
     * QEMU with {@code bootArgs}, waits for the guest's OK line and checks it, then checks the
     * guest's write through the engine. Returns the serial console text.
     */
    private String bootGuest(String qemu, DiskSetup setup, List<String> bootArgs) throws Exception {
        Random random = new Random();
        String nonce = HexFormat.of().toHexDigits(random.nextLong());
        byte[] payload = new byte[PAYLOAD_BLOCK_COUNT * BLOCK_SIZE_BYTES];
        random.nextBytes(payload);
        String payloadSha256 = sha256(payload);
        String expectedMarker = "BASALT-GUEST-WROTE nonce=" + nonce + " sha256=" + payloadSha256;

        try (VdiskStore store = VdiskStore.open(tmp.resolve("store"))) {
            store.create("guest", DISK_SIZE_BYTES);
            try (BlockDevice disk = store.open("guest")) {
                setup.write(disk);
                writeGuestData(disk, nonce, payload, payloadSha256);
                assertEquals("", firstLine(disk, MARKER_LBA), "marker block before boot");
                String console;
                try (IscsiTarget target = IscsiTarget.builder().portal("127.0.0.1", 0).addTarget(IQN, Map.of(0, disk)).start()) {
                    String url = "iscsi://127.0.0.1:" + target.localAddress().getPort() + "/" + IQN + "/0";
                    long startNanos = System.nanoTime();
                    console = runQemuUntilMarker(qemu, bootArgs, url);
                    System.out.printf("guest boot (%s): marker after %.1f s%n", String.join(" ", bootArgs.subList(0, 2)),
                            (System.nanoTime() - startNanos) / 1e9);
                }
                Matcher ok = GUEST_OK.matcher(console);
                assertTrue(ok.find(), "no OK line in:\n" + tail(console));
                assertEquals(nonce, ok.group(1), "nonce the guest read from its disk");
                assertEquals(payloadSha256, ok.group(2), "SHA-256 of the payload as the guest read it");
                assertEquals(expectedMarker, firstLine(disk, MARKER_LBA), "marker the guest wrote, read through the engine");
                return console;
            }
        }
    }

    /** The data the guest's init expects: header, payload after it, marker block empty. */
    private static void writeGuestData(BlockDevice disk, String nonce, byte[] payload, String payloadSha256) {
        String header = "BASALT-GUEST-DISK v1 nonce=" + nonce + " payload_lba=" + PAYLOAD_LBA
                + " payload_blocks=" + PAYLOAD_BLOCK_COUNT + " payload_sha256=" + payloadSha256
                + " marker_lba=" + MARKER_LBA + "\n";
        ByteBuffer headerBlock = ByteBuffer.allocate(BLOCK_SIZE_BYTES).put(header.getBytes(StandardCharsets.US_ASCII)).position(0);
        disk.write(PAYLOAD_LBA, ByteBuffer.wrap(payload), true).join();
        disk.write(HEADER_LBA, headerBlock, true).join();
        disk.flush().join();
    }

    /** Copies a file whose size is a whole number of blocks to the disk at {@code lba}. */
    private static void writeImage(BlockDevice disk, long lba, Path image) throws IOException {
        byte[] bytes = Files.readAllBytes(image);
        assertEquals(0, bytes.length % BLOCK_SIZE_BYTES, "image size of " + image + " in bytes: " + bytes.length + " (expected: multiple of " + BLOCK_SIZE_BYTES + ")");
        int chunkBytes = IMAGE_WRITE_BLOCK_COUNT_MAX * BLOCK_SIZE_BYTES;
        for (int offset = 0; offset < bytes.length; offset += chunkBytes) {
            int length = Math.min(chunkBytes, bytes.length - offset);
            disk.write(lba + offset / BLOCK_SIZE_BYTES, ByteBuffer.wrap(bytes, offset, length).slice(), false).join();
        }
        disk.flush().join();
    }

    private Path buildInitramfs(Kernel kernel) throws IOException {
        Path initrd = tmp.resolve("initrd.cpio");
        Files.write(initrd, GuestImage.virtioDiskInitramfs(kernel, GuestBootTest::initScript));
        return initrd;
    }

    /** Text of one block up to its first newline or NUL. */
    private static String firstLine(BlockDevice disk, long lba) {
        ByteBuffer block = disk.read(lba, 1).join();
        byte[] bytes = new byte[block.remaining()];
        block.get(bytes);
        int end = 0;
        while (end < bytes.length && bytes[end] != '\n' && bytes[end] != 0) {
            end++;
        }
        return new String(bytes, 0, end, StandardCharsets.US_ASCII);
    }

    /**
     * Runs QEMU until the guest prints its OK line, and returns the console text. Fails on the
     * guest's FAIL line, on QEMU exiting first, and after {@link #BOOT_TIMEOUT}; QEMU is always
     * stopped.
     */
    private String runQemuUntilMarker(String qemu, List<String> bootArgs, String url) throws IOException, InterruptedException {
        Path console = tmp.resolve("console.log");
        Path qemuLog = tmp.resolve("qemu.log");
        Files.createFile(console);
        List<String> command = GuestImage.qemuCommand(qemu, console, url);
        command.addAll(bootArgs);
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(qemuLog.toFile()).start();
        try {
            long deadlineNanos = System.nanoTime() + BOOT_TIMEOUT.toNanos();
            while (true) {
                String text = Files.readString(console, StandardCharsets.ISO_8859_1);
                if (GUEST_OK.matcher(text).find()) {
                    return text;
                }
                Matcher fail = GuestImage.GUEST_FAIL.matcher(text);
                if (fail.find()) {
                    throw new AssertionError("guest reported: " + fail.group() + diagnostics(console, qemuLog));
                }
                if (!process.isAlive()) {
                    throw new AssertionError("qemu exited with " + process.exitValue() + " before the guest's marker line" + diagnostics(console, qemuLog));
                }
                if (System.nanoTime() - deadlineNanos > 0) {
                    throw new AssertionError("no guest marker line after " + BOOT_TIMEOUT.toSeconds() + " s" + diagnostics(console, qemuLog));
                }
                Thread.sleep(POLL_INTERVAL.toMillis());
            }
        } finally {
            if (process.isAlive()) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    private static String diagnostics(Path console, Path qemuLog) throws IOException {
        return "\n--- serial console (tail) ---\n" + tail(Files.readString(console, StandardCharsets.ISO_8859_1))
                + "\n--- qemu output ---\n" + tail(Files.readString(qemuLog, StandardCharsets.ISO_8859_1));
    }

    /**
     * The guest's /init (busybox ash). Any step that goes wrong prints BASALT-GUEST-FAIL with the
     * reason and powers off, so the test fails at once with that reason rather than timing out.
     */
    static String initScript(List<String> moduleFiles) {
        return GuestImage.initPrelude(moduleFiles) + """
                set -- $(dd if=/dev/vda bs=512 skip=%d count=1 iflag=direct 2>/dev/null | head -n 1)
                [ "$1 $2" = "BASALT-GUEST-DISK v1" ] || fail "header: '$1 $2' (expected: 'BASALT-GUEST-DISK v1')"
                nonce=${3#nonce=}; lba=${4#payload_lba=}; blocks=${5#payload_blocks=}
                want=${6#payload_sha256=}; marker_lba=${7#marker_lba=}
                got=$(dd if=/dev/vda bs=512 skip=$lba count=$blocks iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
                [ "$got" = "$want" ] || fail "payload sha256=$got (expected: $want)"
                line="BASALT-GUEST-WROTE nonce=$nonce sha256=$got"
                echo "$line" | dd of=/dev/vda bs=512 seek=$marker_lba count=1 conv=sync,fsync 2>/dev/null || fail "write at lba $marker_lba"
                back=$(dd if=/dev/vda bs=512 skip=$marker_lba count=1 iflag=direct 2>/dev/null | head -n 1)
                [ "$back" = "$line" ] || fail "read back at lba $marker_lba: '$back' (expected: '$line')"
                echo "BASALT-GUEST-OK nonce=$nonce sha256=$got"
                sync
                poweroff -f
                sleep 60
                """.formatted(HEADER_LBA);
    }

    private static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String tail(String s) {
        return s.length() <= 6000 ? s : s.substring(s.length() - 6000);
    }
}
