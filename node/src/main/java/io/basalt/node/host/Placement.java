package io.basalt.node.host;

import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Where a VM goes: among the given live hosts not in maintenance, the one with the most free
 * memory that has room for it (vCPUs and memory, counting the VMs the records place on each and
 * want running); ties go to the name first in order, so every agent that asks gets the same answer.
 */
public final class Placement {
    private Placement() {}

    /** Free memory (MiB) and vCPUs of {@code host}, counting the running-wanted VMs placed on it other than {@code except}. */
    record Free(long memoryMiB, int vcpus) {}

    static Free free(HostRecord host, List<VmRecord> vms, String except) {
        long memory = host.memoryMiB();
        int vcpus = host.vcpus();
        for (VmRecord vm : vms) {
            if (vm.host().equals(host.name()) && vm.desired() == VmRecord.Desired.RUNNING && !vm.name().equals(except)) {
                memory -= vm.memoryMiB();
                vcpus -= vm.vcpus();
            }
        }
        return new Free(memory, vcpus);
    }

    /** The host for {@code vm} among {@code liveHosts}; empty when none has room. */
    public static Optional<HostRecord> choose(VmRecord vm, List<HostRecord> liveHosts, List<VmRecord> vms) {
        return liveHosts.stream()
                .filter(h -> !h.maintenance())
                .filter(h -> fits(vm, free(h, vms, vm.name())))
                .max(Comparator.<HostRecord>comparingLong(h -> free(h, vms, vm.name()).memoryMiB())
                        .thenComparing(HostRecord::name, Comparator.reverseOrder()));
    }

    static boolean fits(VmRecord vm, Free free) {
        return free.memoryMiB() >= vm.memoryMiB() && free.vcpus() >= vm.vcpus();
    }
}
