package io.basalt.iscsi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.VdiskStore;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
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
 * {@code cpio} binary are needed) whose {@code /init} is the script in {@link #initScript}. QEMU
 * loads kernel and initramfs with {@code -kernel}/{@code -initrd}; the guest's only disk is
 * {@code iscsi://127.0.0.1:PORT/IQN/0} on virtio-blk, through QEMU's own iSCSI initiator
 * (libiscsi, Debian package qemu-block-extra).
 *
 * <p>The disk the test writes before boot: a header line at LBA 0 naming a random nonce, where a
 * random payload lies and its SHA-256. The guest must find the header, hash the payload, write
 * {@code BASALT-GUEST-WROTE nonce=N sha256=S} at {@link #MARKER_LBA}, read it back with O_DIRECT,
 * and only then print {@code BASALT-GUEST-OK nonce=N sha256=S} on its serial console. The nonce
 * is on the disk only (not on the kernel command line), so the line cannot come from anywhere but
 * a guest that read the disk through our target.
 */
class GuestBootTest {

    private static final String IQN = "iqn.2026-11.io.basalt:guest-boot";
    private static final int BLOCK_SIZE_BYTES = 512;
    private static final long DISK_SIZE_BYTES = 64L << 20;
    private static final long HEADER_LBA = 0;
    private static final long PAYLOAD_LBA = 64;
    private static final int PAYLOAD_BLOCK_COUNT = 256;
    private static final long MARKER_LBA = 4096;
    /** A TCG boot of this kernel and initramfs takes 10-30 s here; the machine is shared. */
    private static final Duration BOOT_TIMEOUT = Duration.ofSeconds(300);
    private static final Duration POLL_INTERVAL = Duration.ofMillis(200);
    /** Loaded in this order (each after its own dependencies) unless built into the kernel. */
    private static final List<String> GUEST_MODULES = List.of("virtio_pci", "virtio_blk");

    private static final Pattern GUEST_OK = Pattern.compile("BASALT-GUEST-OK nonce=(\\S+) sha256=(\\S+)");
    private static final Pattern GUEST_FAIL = Pattern.compile("BASALT-GUEST-FAIL[^\\r\\n]*");

    @TempDir
    Path tmp;

    @Test
    void guestBootsFromIscsiDiskAndItsWriteLandsInTheVdisk() throws Exception {
        String qemu = which("qemu-system-x86_64");
        assumeTrue(qemu != null, "qemu-system-x86_64 is not installed (Debian: apt-get install qemu-system-x86 qemu-block-extra, see scripts/install-test-deps.sh)");
        Kernel kernel = Kernel.find(Path.of("/boot"), Path.of("/lib/modules"));
        assumeTrue(kernel != null, "no kernel image /boot/vmlinuz-VERSION with /lib/modules/VERSION/modules.dep (Debian: apt-get install linux-image-amd64, see scripts/install-test-deps.sh)");
        Path busybox = Path.of("/bin/busybox");
        assertTrue(Files.isExecutable(busybox), "busybox: " + busybox + " missing (expected: Debian package busybox-static)");

        Path initrd = tmp.resolve("initrd.cpio");
        List<Path> modules = kernel.modulesInLoadOrder(GUEST_MODULES);
        Files.write(initrd, initramfs(busybox, modules));

        Random random = new Random();
        String nonce = HexFormat.of().toHexDigits(random.nextLong());
        byte[] payload = new byte[PAYLOAD_BLOCK_COUNT * BLOCK_SIZE_BYTES];
        random.nextBytes(payload);
        String payloadSha256 = sha256(payload);
        String expectedMarker = "BASALT-GUEST-WROTE nonce=" + nonce + " sha256=" + payloadSha256;

        try (VdiskStore store = VdiskStore.open(tmp.resolve("store"))) {
            store.create("guest", DISK_SIZE_BYTES);
            try (BlockDevice disk = store.open("guest")) {
                writeGuestDisk(disk, nonce, payload, payloadSha256);
                assertEquals("", firstLine(disk, MARKER_LBA), "marker block before boot");
                try (IscsiTarget target = IscsiTarget.builder().portal("127.0.0.1", 0).addTarget(IQN, Map.of(0, disk)).start()) {
                    String url = "iscsi://127.0.0.1:" + target.localAddress().getPort() + "/" + IQN + "/0";
                    long startNanos = System.nanoTime();
                    Matcher ok = bootAndAwaitMarker(qemu, kernel.image(), initrd, url);
                    System.out.printf("guest boot: kernel %s, marker after %.1f s%n", kernel.version(),
                            (System.nanoTime() - startNanos) / 1e9);
                    assertEquals(nonce, ok.group(1), "nonce the guest read from its disk");
                    assertEquals(payloadSha256, ok.group(2), "SHA-256 of the payload as the guest read it");
                }
                assertEquals(expectedMarker, firstLine(disk, MARKER_LBA), "marker the guest wrote, read through the engine");
            }
        }
    }

    /** The disk the guest's init expects: header at LBA 0, payload after it, marker block empty. */
    private static void writeGuestDisk(BlockDevice disk, String nonce, byte[] payload, String payloadSha256) {
        String header = "BASALT-GUEST-DISK v1 nonce=" + nonce + " payload_lba=" + PAYLOAD_LBA
                + " payload_blocks=" + PAYLOAD_BLOCK_COUNT + " payload_sha256=" + payloadSha256
                + " marker_lba=" + MARKER_LBA + "\n";
        ByteBuffer headerBlock = ByteBuffer.allocate(BLOCK_SIZE_BYTES).put(header.getBytes(StandardCharsets.US_ASCII)).position(0);
        disk.write(PAYLOAD_LBA, ByteBuffer.wrap(payload), true).join();
        disk.write(HEADER_LBA, headerBlock, true).join();
        disk.flush().join();
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
     * Runs QEMU until the guest prints its OK line, and returns the match. Fails on the guest's
     * FAIL line, on QEMU exiting first, and after {@link #BOOT_TIMEOUT}; QEMU is always stopped.
     */
    private Matcher bootAndAwaitMarker(String qemu, Path kernel, Path initrd, String url) throws IOException, InterruptedException {
        Path console = tmp.resolve("console.log");
        Path qemuLog = tmp.resolve("qemu.log");
        Files.createFile(console);
        List<String> command = List.of(qemu,
                "-accel", "tcg", "-m", "256", "-smp", "1",
                "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                "-serial", "file:" + console,
                "-kernel", kernel.toString(), "-initrd", initrd.toString(),
                "-append", "console=ttyS0 panic=-1 loglevel=4",
                "-drive", "file=" + url + ",format=raw,if=virtio");
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(qemuLog.toFile()).start();
        try {
            long deadlineNanos = System.nanoTime() + BOOT_TIMEOUT.toNanos();
            while (true) {
                String text = Files.readString(console, StandardCharsets.ISO_8859_1);
                Matcher ok = GUEST_OK.matcher(text);
                if (ok.find()) {
                    return ok;
                }
                Matcher fail = GUEST_FAIL.matcher(text);
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
        return """
                #!/bin/busybox sh
                /bin/busybox --install -s /bin
                export PATH=/bin
                mount -t proc proc /proc
                mount -t sysfs sysfs /sys
                mount -t devtmpfs devtmpfs /dev
                fail() { echo "BASALT-GUEST-FAIL $*"; sync; poweroff -f; sleep 60; }
                for m in %s; do insmod /lib/modules/$m || fail "insmod $m"; done
                i=0
                while [ ! -b /dev/vda ]; do
                  i=$((i + 1)); [ $i -gt 300 ] && fail "no /dev/vda after 30 s"
                  sleep 0.1
                done
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
                """.formatted(String.join(" ", moduleFiles), HEADER_LBA);
    }

    /** A newc cpio archive: busybox as /bin/busybox, the modules under /lib/modules, /init. */
    static byte[] initramfs(Path busybox, List<Path> modules) throws IOException {
        Cpio cpio = new Cpio();
        for (String dir : List.of("bin", "dev", "proc", "sys", "lib", "lib/modules")) {
            cpio.directory(dir);
        }
        // The kernel opens /dev/console for init's stdio before init can mount devtmpfs.
        cpio.charDevice("dev/console", 5, 1);
        cpio.file("bin/busybox", 0755, Files.readAllBytes(busybox));
        List<String> names = new ArrayList<>();
        for (Path module : modules) {
            String name = module.getFileName().toString();
            cpio.file("lib/modules/" + name, 0644, Files.readAllBytes(module));
            names.add(name);
        }
        cpio.file("init", 0755, initScript(names).getBytes(StandardCharsets.US_ASCII));
        return cpio.finish();
    }

    /** The host's kernel image and its module tree, for one kernel version. */
    record Kernel(String version, Path image, Path moduleDir) {

        /** The newest /boot/vmlinuz-VERSION that has a module tree, or null if there is none. */
        static Kernel find(Path boot, Path modulesRoot) throws IOException {
            if (!Files.isDirectory(boot)) {
                return null;
            }
            try (Stream<Path> images = Files.list(boot)) {
                return images.filter(p -> p.getFileName().toString().startsWith("vmlinuz-"))
                        .sorted((a, b) -> b.getFileName().toString().compareTo(a.getFileName().toString()))
                        .map(p -> {
                            String version = p.getFileName().toString().substring("vmlinuz-".length());
                            return new Kernel(version, p, modulesRoot.resolve(version));
                        })
                        .filter(k -> Files.isRegularFile(k.moduleDir.resolve("modules.dep")))
                        .findFirst().orElse(null);
            }
        }

        /**
         * Module files for the named modules with their dependencies first, per modules.dep;
         * modules built into the kernel (modules.builtin) need no file.
         */
        List<Path> modulesInLoadOrder(List<String> names) throws IOException {
            Map<String, List<String>> deps = new java.util.HashMap<>();
            for (String line : Files.readAllLines(moduleDir.resolve("modules.dep"))) {
                int colon = line.indexOf(':');
                if (colon > 0) {
                    String rest = line.substring(colon + 1).strip();
                    deps.put(line.substring(0, colon), rest.isEmpty() ? List.of() : List.of(rest.split("\\s+")));
                }
            }
            Path builtinFile = moduleDir.resolve("modules.builtin");
            List<String> builtin = Files.exists(builtinFile) ? Files.readAllLines(builtinFile) : List.of();
            Set<String> ordered = new LinkedHashSet<>();
            for (String name : names) {
                String relative = deps.keySet().stream().filter(m -> moduleName(m).equals(name)).findFirst().orElse(null);
                if (relative == null) {
                    boolean isBuiltin = builtin.stream().anyMatch(m -> moduleName(m).equals(name));
                    assertTrue(isBuiltin, "module " + name + ": neither in " + moduleDir + "/modules.dep nor built in (kernel " + version + ")");
                    continue;
                }
                addWithDependencies(relative, deps, ordered);
            }
            List<Path> files = new ArrayList<>();
            for (String relative : ordered) {
                assertTrue(relative.endsWith(".ko"), "module file " + relative + " is compressed (expected: plain .ko, which busybox insmod loads)");
                files.add(moduleDir.resolve(relative));
            }
            return files;
        }

        private static void addWithDependencies(String relative, Map<String, List<String>> deps, Set<String> ordered) {
            for (String dep : deps.getOrDefault(relative, List.of())) {
                addWithDependencies(dep, deps, ordered);
            }
            ordered.add(relative);
        }

        /** "kernel/drivers/block/virtio_blk.ko" to "virtio_blk" (dashes and underscores are one). */
        private static String moduleName(String relative) {
            String file = relative.substring(relative.lastIndexOf('/') + 1);
            return file.substring(0, file.indexOf(".ko")).replace('-', '_');
        }
    }

    /** Writes the "newc" cpio format the kernel unpacks as initramfs (see the kernel's initramfs docs). */
    static final class Cpio {
        private static final int S_IFDIR = 0040000;
        private static final int S_IFREG = 0100000;
        private static final int S_IFCHR = 0020000;
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private int inode = 1;

        void directory(String name) {
            entry(name, S_IFDIR | 0755, 0, 0, new byte[0]);
        }

        void charDevice(String name, int major, int minor) {
            entry(name, S_IFCHR | 0600, major, minor, new byte[0]);
        }

        void file(String name, int permissions, byte[] data) {
            entry(name, S_IFREG | permissions, 0, 0, data);
        }

        byte[] finish() {
            entry("TRAILER!!!", 0, 0, 0, new byte[0]);
            return out.toByteArray();
        }

        private void entry(String name, int mode, int rdevMajor, int rdevMinor, byte[] data) {
            byte[] nameBytes = (name + "\0").getBytes(StandardCharsets.US_ASCII);
            int nlink = (mode & S_IFDIR) != 0 ? 2 : 1;
            int[] fields = {inode++, mode, 0, 0, nlink, 0, data.length, 0, 0, rdevMajor, rdevMinor, nameBytes.length, 0};
            StringBuilder header = new StringBuilder("070701");
            for (int field : fields) {
                header.append(String.format("%08x", field));
            }
            out.writeBytes(header.toString().getBytes(StandardCharsets.US_ASCII));
            out.writeBytes(nameBytes);
            pad();
            out.writeBytes(data);
            pad();
        }

        private void pad() {
            while (out.size() % 4 != 0) {
                out.write(0);
            }
        }
    }

    private static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String which(String name) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            File f = new File(dir, name);
            if (f.canExecute()) {
                return f.getPath();
            }
        }
        return null;
    }

    private static String tail(String s) {
        return s.length() <= 6000 ? s : s.substring(s.length() - 6000);
    }
}
