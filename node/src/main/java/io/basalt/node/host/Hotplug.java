package io.basalt.node.host;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import io.basalt.host.GuestProcess;
import io.basalt.host.HotVcpu;
import io.basalt.host.VmSpec;
import io.basalt.host.qmp.HotpluggableCpu;
import io.basalt.host.qmp.Qmp;
import io.basalt.host.qmp.QmpException;

/**
 * {@code basalt vm set} on a running VM: vCPUs added with {@code device_add} into the free slots
 * {@code query-hotpluggable-cpus} lists, memory added as one {@code pc-dimm} module on a RAM
 * backend. The record keeps the modules in order, so a destination of a later migration starts
 * with the same ones (docs/architecture.md, "Hosts and guests"). Only growing: a guest gives vCPUs
 * and memory back only by a restart ({@code vm stop}, {@code vm set}, {@code vm start}).
 */
final class Hotplug {
    private Hotplug() {}

    /** What was plugged in, for the line the CLI prints. */
    record Change(String vm, int vcpusFrom, int vcpusTo, long memoryMiBFrom, long memoryMiBTo) {
        String line() {
            return "vm " + vm + ": " + vcpusFrom + " → " + vcpusTo + " vCPUs, " + memoryMiBFrom + " → " + memoryMiBTo + " MiB (hot-plugged)";
        }
    }

    /** Grows {@code vm}, running on {@code agent}, to {@code vcpus} and {@code memoryMiB}; refuses a shrink or what does not fit. */
    static Change grow(HostAgent agent, String vm, int vcpus, long memoryMiB) throws InterruptedException {
        if (!agent.busy().add(vm)) {
            throw new IllegalStateException("vm " + vm + " on " + agent.name() + ": a start, stop or migration is under way (expected: try again when it ends)");
        }
        try {
            HostAgent.LocalVm local = agent.vms().get(vm);
            if (local == null) {
                throw new IllegalStateException("vm " + vm + ": not running on " + agent.name());
            }
            VmRecord now = agent.inventory().vm(vm).orElseThrow();
            int addVcpus = vcpus - now.vcpus();
            long addMiB = memoryMiB - now.memoryMiB();
            check(agent, now, addVcpus, addMiB);
            Qmp qmp = local.guest().qmp();
            List<HotVcpu> added = new ArrayList<>();
            if (addVcpus > 0) {
                List<HotpluggableCpu> free = qmp.queryHotpluggableCpus().stream().filter(c -> !c.plugged())
                        .sorted(Comparator.comparing(c -> c.props().toString())).toList();
                for (int i = 0; i < addVcpus; i++) {
                    HotpluggableCpu slot = free.get(i);
                    qmp.deviceAdd(slot.type(), GuestProcess.vcpuId(now.vcpus() + i), slot.props());
                    added.add(new HotVcpu(slot.type(), slot.props()));
                }
            }
            if (addMiB > 0) {
                int index = now.dimmsMiB().size();
                qmp.objectAdd("memory-backend-ram", GuestProcess.memoryBackendId(index), Map.of("size", addMiB << 20));
                qmp.deviceAdd("pc-dimm", GuestProcess.dimmId(index), Map.of("memdev", GuestProcess.memoryBackendId(index)));
            }
            VmRecord grown = agent.inventory().updateVm(vm, r -> r.hotplugged(added, addMiB));
            agent.vms().put(vm, local.with(grown, local.disks()));
            Change c = new Change(vm, now.vcpus(), grown.vcpus(), now.memoryMiB(), grown.memoryMiB());
            agent.say(c.line() + " on " + agent.name());
            return c;
        } catch (QmpException e) {
            throw new IllegalStateException("vm " + vm + " on " + agent.name() + ": QMP: " + e.getMessage(), e);
        } finally {
            agent.busy().remove(vm);
        }
    }

    private static void check(HostAgent agent, VmRecord now, int addVcpus, long addMiB) {
        String vm = now.name();
        if (addVcpus < 0 || addMiB < 0) {
            throw new IllegalArgumentException("vm " + vm + ": " + (now.vcpus() + addVcpus) + " vCPUs, " + (now.memoryMiB() + addMiB)
                    + " MiB (expected: at least its " + now.vcpus() + " vCPUs and " + now.memoryMiB() + " MiB while it runs; to shrink it, stop it first)");
        }
        if (now.vcpus() + addVcpus > VmSpec.VCPUS_HOTPLUG_MAX) {
            throw new IllegalArgumentException("--vcpus " + (now.vcpus() + addVcpus) + " (expected: at most " + VmSpec.VCPUS_HOTPLUG_MAX
                    + " while it runs; more needs a restart)");
        }
        if (addMiB > 0 && (addMiB % VmSpec.DIMM_MIB_MULTIPLE != 0 || now.dimmsMiB().size() >= VmSpec.DIMM_SLOTS)) {
            throw new IllegalArgumentException("--memory " + (now.memoryMiB() + addMiB) + "M: adds " + addMiB + " MiB (expected: a whole number of "
                    + VmSpec.DIMM_MIB_MULTIPLE + " MiB, " + (VmSpec.DIMM_SLOTS - now.dimmsMiB().size()) + " modules left)");
        }
        HostRecord host = agent.inventory().host(agent.name()).orElseThrow();
        Placement.Free free = Placement.free(host, agent.inventory().vms(), vm);
        if (free.vcpus() < now.vcpus() + addVcpus || free.memoryMiB() < now.memoryMiB() + addMiB) {
            throw new IllegalArgumentException("vm " + vm + " on " + agent.name() + ": " + free.vcpus() + " vCPUs and " + free.memoryMiB()
                    + " MiB free for it (it would need " + (now.vcpus() + addVcpus) + " vCPUs, " + (now.memoryMiB() + addMiB) + " MiB)");
        }
    }
}
