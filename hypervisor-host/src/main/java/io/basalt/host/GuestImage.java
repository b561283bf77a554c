package io.basalt.host;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A tiny Linux guest for QEMU, built from files Debian packages put on the machine: the host's
 * kernel from {@code /boot}, the modules it needs from {@code /lib/modules}, {@code busybox-static},
 * packed into an initramfs written here in Java (no root, no {@code cpio} binary). The guest of
 * {@code basalt demo} and of the guest tests (the iSCSI target's boot test, the hosts' tests).
 */
public final class GuestImage {
    /** What a guest needs to see a virtio disk; the 8250 serial console is built into Debian's kernel. */
    public static final List<String> VIRTIO_DISK_MODULES = List.of("virtio_pci", "virtio_blk");
    /** Debian's busybox-static. */
    public static final Path BUSYBOX = Path.of("/bin/busybox");

    /** Serial console, no reboot loop on a panic, kernel errors (KERN_ERR and worse, e.g. I/O errors) on the console. */
    public static final String KERNEL_COMMAND_LINE = "console=ttyS0 panic=-1 loglevel=4";
    /** What a guest's /init prints (from {@link #initPrelude}'s {@code fail}) when a step goes wrong, before it powers off. */
    public static final Pattern GUEST_FAIL = Pattern.compile("BASALT-GUEST-FAIL[^\\r\\n]*");

    private GuestImage() {}

    /**
     * QEMU under TCG ({@code /dev/kvm} hangs here) with one small CPU, no devices but the serial
     * console (to {@code console}) and one virtio disk at {@code driveUrl} (an {@code iscsi://}
     * URL: QEMU's own initiator); the caller adds how to boot.
     */
    public static List<String> qemuCommand(String qemu, Path console, String driveUrl) {
        return new ArrayList<>(List.of(qemu, "-accel", "tcg", "-m", "256", "-smp", "1",
                "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                "-serial", "file:" + console,
                "-drive", "file=" + driveUrl + ",format=raw,if=virtio"));
    }

    /**
     * The start of a guest's /init (busybox ash): busybox's applets, /proc, /sys, /dev, /tmp, a
     * {@code fail} function that prints BASALT-GUEST-FAIL with the reason and powers off (so a
     * test fails at once with that reason rather than timing out), the modules loaded in order,
     * and a wait for /dev/vda. The caller's steps follow.
     */
    public static String initPrelude(List<String> moduleFiles) {
        return """
                #!/bin/busybox sh
                /bin/busybox --install -s /bin
                export PATH=/bin
                mount -t proc proc /proc
                mount -t sysfs sysfs /sys
                mount -t devtmpfs devtmpfs /dev
                mkdir -p /tmp
                fail() { echo "BASALT-GUEST-FAIL $*"; sync; poweroff -f; sleep 60; }
                for m in %s; do insmod /lib/modules/$m || fail "insmod $m"; done
                i=0
                while [ ! -b /dev/vda ]; do
                  i=$((i + 1)); [ $i -gt 300 ] && fail "no /dev/vda after 30 s"
                  sleep 0.1
                done
                """.formatted(String.join(" ", moduleFiles));
    }

    /** An initramfs of {@link #BUSYBOX}, {@code kernel}'s virtio disk modules and the {@code init} script made of their names. */
    public static byte[] virtioDiskInitramfs(Kernel kernel, Function<List<String>, String> init) throws IOException {
        if (!Files.isExecutable(BUSYBOX)) {
            throw new IOException("busybox: " + BUSYBOX + " missing (expected: Debian package busybox-static)");
        }
        return initramfs(BUSYBOX, kernel.modulesInLoadOrder(VIRTIO_DISK_MODULES), init);
    }

    /**
     * A newc cpio archive: busybox as /bin/busybox, the modules under /lib/modules, and /init,
     * the script {@code init} makes of the module file names (in load order).
     */
    public static byte[] initramfs(Path busybox, List<Path> modules, Function<List<String>, String> init) throws IOException {
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
        cpio.file("init", 0755, init.apply(names).getBytes(StandardCharsets.US_ASCII));
        return cpio.finish();
    }

    /** The host's kernel image and its module tree, for one kernel version. */
    public record Kernel(String version, Path image, Path moduleDir) {

        /** The newest /boot/vmlinuz-VERSION that has a module tree, or null if there is none. */
        public static Kernel find(Path boot, Path modulesRoot) throws IOException {
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
        public List<Path> modulesInLoadOrder(List<String> names) throws IOException {
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
                    if (!isBuiltin) {
                        throw new IOException("module " + name + ": neither in " + moduleDir + "/modules.dep nor built in (kernel " + version + ")");
                    }
                    continue;
                }
                addWithDependencies(relative, deps, ordered);
            }
            List<Path> files = new ArrayList<>();
            for (String relative : ordered) {
                if (!relative.endsWith(".ko")) {
                    throw new IOException("module file " + relative + " is compressed (expected: plain .ko, which busybox insmod loads)");
                }
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
    public static final class Cpio {
        private static final int S_IFDIR = 0040000;
        private static final int S_IFREG = 0100000;
        private static final int S_IFCHR = 0020000;
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private int inode = 1;

        public void directory(String name) {
            entry(name, S_IFDIR | 0755, 0, 0, new byte[0]);
        }

        public void charDevice(String name, int major, int minor) {
            entry(name, S_IFCHR | 0600, major, minor, new byte[0]);
        }

        public void file(String name, int permissions, byte[] data) {
            entry(name, S_IFREG | permissions, 0, 0, data);
        }

        public byte[] finish() {
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
}
