package io.basalt.node.host;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

import io.basalt.host.VmSpec;

/**
 * A VM as the cluster keeps it (config record {@code vm/NAME}, JSON): what it is (vCPUs, memory,
 * its vdisks, an optional direct kernel boot, its MAC), what the operator wants ({@code desired}:
 * running or stopped) and where it runs ({@code host}: the agent that owns it, "" for none), and
 * what that agent last reported ({@code state}, {@code message}, since {@code sinceMs}). Each disk
 * has its guest PCI slot ({@code diskSlots}, in the order of {@code disks}): a disk attached while
 * the guest ran keeps its slot until the guest's next boot, so a migration destination plugs it in
 * where the guest has it.
 * Any host can start any VM from it (docs/architecture.md, "Hosts and guests").
 */
public record VmRecord(String name, int vcpus, long memoryMiB, List<String> disks, String kernel, String initrd, String append,
                       String mac, Desired desired, String host, State state, String message, long sinceMs, List<Long> dimmsMiB,
                       List<io.basalt.host.HotVcpu> hotVcpus, List<Integer> diskSlots) {

    /** What the operator asked for. */
    public enum Desired { RUNNING, STOPPED }

    /** What the owning agent last reported. */
    public enum State { STOPPED, STARTING, RUNNING, MIGRATING, FAILED }

    public VmRecord {
        Objects.requireNonNull(name, "name");
        disks = List.copyOf(disks);
        kernel = Objects.requireNonNullElse(kernel, "");
        initrd = Objects.requireNonNullElse(initrd, "");
        append = Objects.requireNonNullElse(append, "");
        host = Objects.requireNonNullElse(host, "");
        message = Objects.requireNonNullElse(message, "");
        dimmsMiB = dimmsMiB == null ? List.of() : List.copyOf(dimmsMiB);    // records written before hot-plug have none
        hotVcpus = hotVcpus == null ? List.of() : List.copyOf(hotVcpus);
        diskSlots = diskSlots == null ? VmSpec.compactSlots(disks.size()) : List.copyOf(diskSlots);    // records written before disk attach have none
        Objects.requireNonNull(desired, "desired");
        Objects.requireNonNull(state, "state");
        if (disks.isEmpty()) {
            throw new IllegalArgumentException("disks of vm " + name + ": none (expected: at least one --disk VDISK)");
        }
        if (!initrd.isEmpty() && kernel.isEmpty()) {
            throw new IllegalArgumentException("initrd of vm " + name + ": " + initrd + " without a kernel (expected: --kernel FILE too)");
        }
        // The spec's own checks (name, vCPUs, memory, MAC) apply to the record too.
        specOf(name, vcpus, memoryMiB, kernel, initrd, append, mac, disks, dimmsMiB, hotVcpus, diskSlots);
    }

    /** A new, stopped VM on no host. */
    public static VmRecord create(String name, int vcpus, long memoryMiB, List<String> disks, String kernel, String initrd, String append) {
        return new VmRecord(name, vcpus, memoryMiB, disks, kernel, initrd, append, VmSpec.macFor(name), Desired.STOPPED, "",
                State.STOPPED, "", System.currentTimeMillis(), List.of(), List.of(), VmSpec.compactSlots(disks.size()));
    }

    /** QEMU's view of this VM with its disks reached at {@code diskUrls} (one per vdisk, in order). */
    public VmSpec spec(List<String> diskUrls) {
        return specOf(name, vcpus, memoryMiB, kernel, initrd, append, mac, diskUrls, dimmsMiB, hotVcpus, diskSlots);
    }

    private static VmSpec specOf(String name, int vcpus, long memoryMiB, String kernel, String initrd, String append, String mac,
                                 List<String> diskUrls, List<Long> dimmsMiB, List<io.basalt.host.HotVcpu> hotVcpus,
                                 List<Integer> diskSlots) {
        Optional<VmSpec.DirectBoot> boot = kernel.isEmpty() ? Optional.empty()
                : Optional.of(new VmSpec.DirectBoot(kernel, initrd.isEmpty() ? Optional.empty() : Optional.of(initrd), append));
        return new VmSpec(name, vcpus, memoryMiB, diskUrls, boot, mac, false, Optional.empty(), new io.basalt.host.GuestNetwork.None(), dimmsMiB, hotVcpus, diskSlots);
    }

    public VmRecord withDesired(Desired d) {
        return new VmRecord(name, vcpus, memoryMiB, disks, kernel, initrd, append, mac, d, host, state, message, sinceMs, dimmsMiB, hotVcpus, diskSlots);
    }

    public VmRecord onHost(String h) {
        return new VmRecord(name, vcpus, memoryMiB, disks, kernel, initrd, append, mac, desired, h, state, message, sinceMs, dimmsMiB, hotVcpus, diskSlots);
    }

    /** The agent's report: {@code s} since now, with {@code why} (empty when there is nothing to say). */
    public VmRecord reported(State s, String why) {
        long since = s == state ? sinceMs : System.currentTimeMillis();
        return new VmRecord(name, vcpus, memoryMiB, disks, kernel, initrd, append, mac, desired, host, s, why, since, dimmsMiB, hotVcpus, diskSlots);
    }

    /** Stopped: {@code newVcpus} and {@code newMemoryMiB} at its next boot (all boot memory: no modules). */
    public VmRecord withSize(int newVcpus, long newMemoryMiB) {
        return new VmRecord(name, newVcpus, newMemoryMiB, disks, kernel, initrd, append, mac, desired, host, state, message, sinceMs, List.of(), List.of(),
                VmSpec.compactSlots(disks.size()));
    }

    /** Running: the vCPUs {@code added} and a module of {@code addedMiB} (none when 0) plugged in. */
    public VmRecord hotplugged(List<io.basalt.host.HotVcpu> added, long addedMiB) {
        List<Long> dimms = new java.util.ArrayList<>(dimmsMiB);
        if (addedMiB > 0) {
            dimms.add(addedMiB);
        }
        List<io.basalt.host.HotVcpu> cpus = new java.util.ArrayList<>(hotVcpus);
        cpus.addAll(added);
        return new VmRecord(name, vcpus + added.size(), memoryMiB + addedMiB, disks, kernel, initrd, append, mac, desired, host, state, message,
                sinceMs, dimms, cpus, diskSlots);
    }

    /** With {@code vdisk} added as its last disk, in PCI slot {@code slot}. */
    public VmRecord withDisk(String vdisk, int slot) {
        List<String> d = new java.util.ArrayList<>(disks);
        d.add(vdisk);
        List<Integer> slots = new java.util.ArrayList<>(diskSlots);
        slots.add(slot);
        return new VmRecord(name, vcpus, memoryMiB, d, kernel, initrd, append, mac, desired, host, state, message, sinceMs, dimmsMiB, hotVcpus, slots);
    }

    /** Without {@code vdisk} (and its slot); the others keep theirs. */
    public VmRecord withoutDisk(String vdisk) {
        int i = disks.indexOf(vdisk);
        if (i < 0) {
            throw new IllegalArgumentException("vdisk " + vdisk + ": not a disk of vm " + name + " (its disks: " + String.join(", ", disks) + ")");
        }
        List<String> d = new java.util.ArrayList<>(disks);
        d.remove(i);
        List<Integer> slots = new java.util.ArrayList<>(diskSlots);
        slots.remove(i);
        return new VmRecord(name, vcpus, memoryMiB, d, kernel, initrd, append, mac, desired, host, state, message, sinceMs, dimmsMiB, hotVcpus, slots);
    }

    /** The PCI slot the next attached disk takes: the lowest one free. */
    public int freeDiskSlot() {
        for (int slot = VmSpec.DISK_SLOT_FIRST; slot < VmSpec.DISK_SLOT_FIRST + VmSpec.DISK_SLOTS_MAX; slot++) {
            if (!diskSlots.contains(slot)) {
                return slot;
            }
        }
        throw new IllegalArgumentException("vm " + name + ": " + disks.size() + " disks (expected: at most " + VmSpec.DISK_SLOTS_MAX + ")");
    }

    /** Its disks in slots one after the other, as a boot plugs them in: for a stopped VM, whose next boot names them in order. */
    public VmRecord withCompactSlots() {
        return new VmRecord(name, vcpus, memoryMiB, disks, kernel, initrd, append, mac, desired, host, state, message, sinceMs, dimmsMiB, hotVcpus,
                VmSpec.compactSlots(disks.size()));
    }
}
