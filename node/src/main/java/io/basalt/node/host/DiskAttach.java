package io.basalt.node.host;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import io.basalt.host.GuestDisks;
import io.basalt.host.qmp.QmpException;
import io.basalt.lock.LockMode;

/**
 * {@code basalt vm disk attach|detach} on a running VM, by the agent running it. Attach: the vdisk
 * locked exclusive by this host's session (as a start locks a VM's disks), exported on a loopback
 * iSCSI target of its own, plugged into the guest ({@code blockdev-add}, {@code device_add} of a
 * virtio-blk-pci in the next free PCI slot), then added to the VM's record, so a later migration,
 * HA restart or start carries it. Detach: the reverse, once the guest let go of the device; a guest
 * that does not let go leaves everything as it was and says so. The refusals that need no running
 * VM ({@link #checkAttach}, {@link #checkDetach}) serve a stopped VM's edit too.
 */
final class DiskAttach {
    private DiskAttach() {}

    /** What was attached or detached, for the line the CLI prints. {@code guestDisk} is the guest's likely name for it. */
    record Change(String vm, String vdisk, boolean attached, String guestDisk, int pciSlot, String host) {
        String line() {
            return attached
                    ? "attached vdisk " + vdisk + " to vm " + vm + " as " + guestDisk + " (PCI slot " + pciSlot + ", hot-plugged on " + host + ")"
                    : "detached vdisk " + vdisk + " from vm " + vm + " (PCI slot " + pciSlot + ", hot-unplugged on " + host + "; its lock released)";
        }
    }

    /** Refuses attaching {@code vdisk} to {@code vm} when it is a disk of {@code vm} or of another VM in {@code all}. */
    static void checkAttach(VmRecord vm, String vdisk, List<VmRecord> all) {
        Optional<VmRecord> owner = all.stream().filter(r -> r.disks().contains(vdisk)).findFirst();
        if (owner.isPresent()) {
            String whose = owner.get().name().equals(vm.name()) ? "this VM" : "vm " + owner.get().name();
            throw new IllegalArgumentException("vdisk " + vdisk + ": already attached to " + whose
                    + " (expected: a vdisk no VM has; basalt vm disk detach " + owner.get().name() + " " + vdisk + " first)");
        }
    }

    /** Refuses detaching {@code vdisk} from {@code vm} when it is not one of its disks, or is its boot disk. */
    static void checkDetach(VmRecord vm, String vdisk) {
        int i = vm.disks().indexOf(vdisk);
        if (i < 0) {
            throw new IllegalArgumentException("vdisk " + vdisk + ": not attached to vm " + vm.name() + " (its disks: "
                    + String.join(", ", vm.disks()) + ")");
        }
        if (i == 0) {
            throw new IllegalArgumentException("vdisk " + vdisk + ": the boot disk of vm " + vm.name()
                    + " (expected: another of its disks; the first stays while the VM exists)");
        }
    }

    /** The name the guest's kernel gives its {@code index}th virtio disk, counting from 0 (vda, vdb, ..., vdz, vdaa). */
    static String guestName(int index) {
        String letters = "";
        for (int n = index + 1; n > 0; n = (n - 1) / 26) {
            letters = (char) ('a' + (n - 1) % 26) + letters;
        }
        return "vd" + letters;
    }

    static Change attach(HostAgent agent, String vm, String vdisk) throws InterruptedException {
        HostAgent.LocalVm local = claim(agent, vm);
        try {
            VmRecord now = agent.inventory().existingVm(vm);
            checkAttach(now, vdisk, agent.inventory().vms());
            checkExists(agent, vdisk);
            int slot = now.freeDiskSlot();
            ServedDisk served = ServedDisk.serve(agent.store(), agent.session(), vm, vdisk, slot, LockMode.EXCLUSIVE);
            VmRecord attached;
            try {
                GuestDisks.attach(local.guest().qmp(), served.url(), slot);
                attached = agent.inventory().updateVm(vm, r -> r.withDisk(vdisk, slot));
            } catch (QmpException | RuntimeException e) {
                served.close();
                HostAgent.releaseQuietly(agent.session(), List.of(vdisk));
                throw e;
            }
            List<ServedDisk> disks = new ArrayList<>(local.disks());
            disks.add(served);
            agent.vms().put(vm, local.with(attached, disks));
            Change c = new Change(vm, vdisk, true, guestName(now.disks().size()), slot, agent.name());
            agent.say(c.line());
            return c;
        } catch (QmpException e) {
            throw new IllegalStateException("vm " + vm + " on " + agent.name() + ": attach of " + vdisk + ": " + e.getMessage(), e);
        } finally {
            agent.busy().remove(vm);
        }
    }

    /** Detaches {@code vdisk} from {@code vm}, waiting at most {@code timeout} for the guest to let go of it. */
    static Change detach(HostAgent agent, String vm, String vdisk, Duration timeout) throws InterruptedException {
        HostAgent.LocalVm local = claim(agent, vm);
        try {
            VmRecord now = agent.inventory().existingVm(vm);
            checkDetach(now, vdisk);
            ServedDisk served = local.disks().stream().filter(d -> d.vdisk().equals(vdisk)).findFirst().orElseThrow(
                    () -> new IllegalStateException("vm " + vm + " on " + agent.name() + ": its record has " + vdisk + " but its QEMU does not"));
            try {
                GuestDisks.detach(local.guest().qmp(), served.slot(), timeout);
            } catch (IllegalStateException e) {
                throw new IllegalStateException("vm " + vm + " on " + agent.name() + ": detach of " + vdisk + ": " + e.getMessage()
                        + "; the disk stays attached", e);
            }
            VmRecord detached = agent.inventory().updateVm(vm, r -> r.withoutDisk(vdisk));
            List<ServedDisk> disks = new ArrayList<>(local.disks());
            disks.remove(served);
            agent.vms().put(vm, local.with(detached, disks));
            served.close();
            HostAgent.releaseQuietly(agent.session(), List.of(vdisk));
            Change c = new Change(vm, vdisk, false, "", served.slot(), agent.name());
            agent.say(c.line());
            return c;
        } catch (QmpException e) {
            throw new IllegalStateException("vm " + vm + " on " + agent.name() + ": detach of " + vdisk + ": " + e.getMessage(), e);
        } finally {
            agent.busy().remove(vm);
        }
    }

    /** Marks {@code vm} busy (no start, stop or migration meanwhile) and returns it as it runs here; refused when it is busy or not here. */
    private static HostAgent.LocalVm claim(HostAgent agent, String vm) {
        if (!agent.busy().add(vm)) {
            throw new IllegalStateException("vm " + vm + " on " + agent.name() + ": a start, stop or migration is under way (expected: try again when it ends)");
        }
        HostAgent.LocalVm local = agent.vms().get(vm);
        if (local == null) {
            agent.busy().remove(vm);
            throw new IllegalStateException("vm " + vm + ": not running on " + agent.name());
        }
        return local;
    }

    private static void checkExists(HostAgent agent, String vdisk) {
        try {
            agent.store().sizeBytes(vdisk);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("vdisk " + vdisk + ": no such vdisk (expected: an existing vdisk; see basalt vdisk ls): "
                    + e.getMessage(), e);
        }
    }
}
