package io.basalt.node.host;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

import io.basalt.host.VmSpec;

/**
 * A VM as the cluster keeps it (config record {@code vm/NAME}, JSON): what it is (vCPUs, memory,
 * its vdisks, an optional direct kernel boot, its MAC), what the operator wants ({@code desired}:
 * running or stopped) and where it runs ({@code host}: the agent that owns it, "" for none), and
 * what that agent last reported ({@code state}, {@code message}, since {@code sinceMs}).
 * Any host can start any VM from it (docs/architecture.md, "Hosts and guests").
 */
public record VmRecord(String name, int vcpus, long memoryMiB, List<String> disks, String kernel, String initrd, String append,
                       String mac, Desired desired, String host, State state, String message, long sinceMs, List<Long> dimmsMiB,
                       List<io.basalt.host.HotVcpu> hotVcpus) {

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
        Objects.requireNonNull(desired, "desired");
        Objects.requireNonNull(state, "state");
        if (disks.isEmpty()) {
            throw new IllegalArgumentException("disks of vm " + name + ": none (expected: at least one --disk VDISK)");
        }
        if (!initrd.isEmpty() && kernel.isEmpty()) {
            throw new IllegalArgumentException("initrd of vm " + name + ": " + initrd + " without a kernel (expected: --kernel FILE too)");
        }
        // The spec's own checks (name, vCPUs, memory, MAC) apply to the record too.
        specOf(name, vcpus, memoryMiB, kernel, initrd, append, mac, disks, dimmsMiB, hotVcpus);
    }

    /** A new, stopped VM on no host. */
    public static VmRecord create(String name, int vcpus, long memoryMiB, List<String> disks, String kernel, String initrd, String append) {
        return new VmRecord(name, vcpus, memoryMiB, disks, kernel, initrd, append, VmSpec.macFor(name), Desired.STOPPED, "",
                State.STOPPED, "", System.currentTimeMillis(), List.of(), List.of());
    }

    /** QEMU's view of this VM with its disks reached at {@code diskUrls} (one per vdisk, in order). */
    public VmSpec spec(List<String> diskUrls) {
        return specOf(name, vcpus, memoryMiB, kernel, initrd, append, mac, diskUrls, dimmsMiB, hotVcpus);
    }

    private static VmSpec specOf(String name, int vcpus, long memoryMiB, String kernel, String initrd, String append, String mac,
                                 List<String> diskUrls, List<Long> dimmsMiB, List<io.basalt.host.HotVcpu> hotVcpus) {
        Optional<VmSpec.DirectBoot> boot = kernel.isEmpty() ? Optional.empty()
                : Optional.of(new VmSpec.DirectBoot(kernel, initrd.isEmpty() ? Optional.empty() : Optional.of(initrd), append));
        return new VmSpec(name, vcpus, memoryMiB, diskUrls, boot, mac, false, Optional.empty(), new io.basalt.host.GuestNetwork.None(), dimmsMiB, hotVcpus);
    }

    public VmRecord withDesired(Desired d) {
        return new VmRecord(name, vcpus, memoryMiB, disks, kernel, initrd, append, mac, d, host, state, message, sinceMs, dimmsMiB, hotVcpus);
    }

    public VmRecord onHost(String h) {
        return new VmRecord(name, vcpus, memoryMiB, disks, kernel, initrd, append, mac, desired, h, state, message, sinceMs, dimmsMiB, hotVcpus);
    }

    /** The agent's report: {@code s} since now, with {@code why} (empty when there is nothing to say). */
    public VmRecord reported(State s, String why) {
        long since = s == state ? sinceMs : System.currentTimeMillis();
        return new VmRecord(name, vcpus, memoryMiB, disks, kernel, initrd, append, mac, desired, host, s, why, since, dimmsMiB, hotVcpus);
    }

    /** Stopped: {@code newVcpus} and {@code newMemoryMiB} at its next boot (all boot memory: no modules). */
    public VmRecord withSize(int newVcpus, long newMemoryMiB) {
        return new VmRecord(name, newVcpus, newMemoryMiB, disks, kernel, initrd, append, mac, desired, host, state, message, sinceMs, List.of(), List.of());
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
                sinceMs, dimms, cpus);
    }
}
