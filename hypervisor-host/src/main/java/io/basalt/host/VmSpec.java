package io.basalt.host;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What one guest is: its name, vCPUs, memory, disks (an {@code iscsi://} URL or, in tests, a file
 * path, as QEMU's {@code -drive file=} takes them), optional direct kernel boot, and its MAC.
 * {@code paused} starts it with the vCPUs stopped; {@code incoming} (a URI such as
 * {@code tcp:0:4444} or {@code defer}) starts it waiting for a live migration; {@code network} is
 * its NIC's backend (none by default). {@code dimmsMiB} are the memory modules hot-plugged into it
 * so far, in order: part of {@code memoryMiB}, the rest is its boot memory. vCPUs can be hot-plugged
 * up to {@link #VCPUS_HOTPLUG_MAX} and memory up to {@link #MEMORY_HOTPLUG_MIB_MAX} more than the
 * boot memory, in {@link #DIMM_SLOTS} modules (the hot-plugged vCPUs are {@code hotVcpus}, part of {@code vcpus}), each a whole number of {@link #DIMM_MIB_MULTIPLE} MiB.
 * {@code diskSlots} are the PCI slots of the disks, one each, in the order of {@code disks}: a disk
 * hot-plugged into a running guest keeps its slot on a migration destination ({@link GuestDisks}).
 */
public record VmSpec(String name, int vcpus, long memoryMiB, List<String> disks, Optional<DirectBoot> boot,
                     String mac, boolean paused, Optional<String> incoming, GuestNetwork network, List<Long> dimmsMiB,
                     List<HotVcpu> hotVcpus, List<Integer> diskSlots) {
    /** VM names go into file names, QEMU options and, later, the meta group: keep them plain. */
    public static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_.-]{0,62}");
    public static final int VCPUS_MAX = 64;
    public static final long MEMORY_MIB_MIN = 16;
    public static final long MEMORY_MIB_MAX = 1L << 20;
    /** The vCPUs a guest can grow to while it runs (QEMU's {@code maxcpus}, the same on every host, as migration needs). */
    public static final int VCPUS_HOTPLUG_MAX = 16;
    /** Memory modules a running guest can take, and how much memory they may add in all. */
    public static final int DIMM_SLOTS = 8;
    public static final long MEMORY_HOTPLUG_MIB_MAX = 64L << 10;
    /** Linux onlines memory in 128 MiB blocks: a module of another size leaves a part unused. */
    public static final long DIMM_MIB_MULTIPLE = 128;
    /** The PCI slots disks go in: {@link #DISK_SLOTS_MAX} from {@link #DISK_SLOT_FIRST}, clear of the NIC, which QEMU puts in the first free slot (2). */
    public static final int DISK_SLOT_FIRST = 8;
    public static final int DISK_SLOTS_MAX = 16;
    private static final Pattern MAC = Pattern.compile("([0-9a-f]{2}:){5}[0-9a-f]{2}");

    /** A kernel, an optional initrd and the kernel command line, for QEMU's {@code -kernel/-initrd/-append}. */
    public record DirectBoot(String kernel, Optional<String> initrd, String append) {
        public DirectBoot {
            Objects.requireNonNull(kernel, "kernel");
            Objects.requireNonNull(initrd, "initrd");
            Objects.requireNonNull(append, "append");
        }
    }

    public VmSpec {
        Objects.requireNonNull(name, "name");
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("VM name: '" + name + "' (expected: " + NAME.pattern() + ")");
        }
        if (vcpus < 1 || vcpus > VCPUS_MAX) {
            throw new IllegalArgumentException("vcpus: " + vcpus + " (expected: 1.." + VCPUS_MAX + ") vm=" + name);
        }
        if (memoryMiB < MEMORY_MIB_MIN || memoryMiB > MEMORY_MIB_MAX) {
            throw new IllegalArgumentException("memory: " + memoryMiB + " MiB (expected: " + MEMORY_MIB_MIN + ".."
                    + MEMORY_MIB_MAX + ") vm=" + name);
        }
        disks = List.copyOf(disks);
        for (String disk : disks) {
            // QEMU's -drive splits its value at commas; a comma in a path or URL would change the option.
            if (disk.isEmpty() || disk.contains(",")) {
                throw new IllegalArgumentException("disk: '" + disk + "' (expected: a non-empty URL or path without ',') vm=" + name);
            }
        }
        Objects.requireNonNull(boot, "boot");
        Objects.requireNonNull(mac, "mac");
        if (!MAC.matcher(mac).matches()) {
            throw new IllegalArgumentException("mac: '" + mac + "' (expected: six lower-case hex pairs) vm=" + name);
        }
        Objects.requireNonNull(incoming, "incoming");
        Objects.requireNonNull(network, "network");
        diskSlots = List.copyOf(diskSlots);
        if (diskSlots.size() != disks.size() || Set.copyOf(diskSlots).size() != diskSlots.size()
                || diskSlots.stream().anyMatch(s -> s < DISK_SLOT_FIRST || s >= DISK_SLOT_FIRST + DISK_SLOTS_MAX)) {
            throw new IllegalArgumentException("disk slots: " + diskSlots + " for " + disks.size() + " disks (expected: one each, distinct, in "
                    + DISK_SLOT_FIRST + ".." + (DISK_SLOT_FIRST + DISK_SLOTS_MAX - 1) + ") vm=" + name);
        }
        dimmsMiB = List.copyOf(dimmsMiB);
        hotVcpus = List.copyOf(hotVcpus);
        if (hotVcpus.size() >= vcpus) {
            throw new IllegalArgumentException("hot-plugged vCPUs: " + hotVcpus.size() + " of " + vcpus + " (expected: fewer: one at least boots) vm=" + name);
        }
        long hotplugged = dimmsMiB.stream().mapToLong(Long::longValue).sum();
        if (dimmsMiB.size() > DIMM_SLOTS || dimmsMiB.stream().anyMatch(d -> d <= 0 || d % DIMM_MIB_MULTIPLE != 0)
                || hotplugged > MEMORY_HOTPLUG_MIB_MAX || memoryMiB - hotplugged < MEMORY_MIB_MIN) {
            throw new IllegalArgumentException("memory modules: " + dimmsMiB + " MiB of " + memoryMiB + " MiB (expected: at most " + DIMM_SLOTS
                    + " of whole " + DIMM_MIB_MULTIPLE + " MiB, at most " + MEMORY_HOTPLUG_MIB_MAX + " MiB in all, leaving at least "
                    + MEMORY_MIB_MIN + " MiB boot memory) vm=" + name);
        }
    }

    /** The vCPUs the guest booted with: {@code vcpus} less the hot-plugged ones. */
    public int bootVcpus() {
        return vcpus - hotVcpus.size();
    }

    /** The memory the guest booted with: {@code memoryMiB} less the hot-plugged modules. */
    public long bootMemoryMiB() {
        return memoryMiB - dimmsMiB.stream().mapToLong(Long::longValue).sum();
    }

    /** The slots of {@code count} disks plugged in at boot, one after the other: the first disk is the guest's vda. */
    public static List<Integer> compactSlots(int count) {
        return java.util.stream.IntStream.range(DISK_SLOT_FIRST, DISK_SLOT_FIRST + count).boxed().toList();
    }

    /** A spec with the MAC derived from the name, running at start, not waiting for a migration. */
    public static VmSpec of(String name, int vcpus, long memoryMiB, List<String> disks, Optional<DirectBoot> boot) {
        return new VmSpec(name, vcpus, memoryMiB, disks, boot, macFor(name), false, Optional.empty(), new GuestNetwork.None(), List.of(), List.of(),
                compactSlots(disks.size()));
    }

    /** The same VM started with its vCPUs stopped ({@code -S}). */
    public VmSpec startPaused() {
        return new VmSpec(name, vcpus, memoryMiB, disks, boot, mac, true, incoming, network, dimmsMiB, hotVcpus, diskSlots);
    }

    /** The same VM started waiting for a live migration on {@code uri}. */
    public VmSpec incomingOn(String uri) {
        return new VmSpec(name, vcpus, memoryMiB, disks, boot, mac, paused, Optional.of(uri), network, dimmsMiB, hotVcpus, diskSlots);
    }

    /** The same VM with its NIC on {@code n}. */
    public VmSpec withNetwork(GuestNetwork n) {
        return new VmSpec(name, vcpus, memoryMiB, disks, boot, mac, paused, incoming, n, dimmsMiB, hotVcpus, diskSlots);
    }

    /**
     * A MAC that depends on the name only, so a VM keeps it on every host and across restarts:
     * QEMU's 52:54:00 prefix (locally administered, unicast) and three bytes of the name's SHA-256.
     */
    public static String macFor(String name) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(name.getBytes(StandardCharsets.UTF_8));
            return "52:54:00:" + HexFormat.ofDelimiter(":").formatHex(digest, 0, 3);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java runtime", e);
        }
    }
}
