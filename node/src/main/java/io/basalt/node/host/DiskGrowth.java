package io.basalt.node.host;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

import io.basalt.host.GuestProcess;
import io.basalt.node.locks.LockedStore;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.Sizes;

/**
 * Passes a grown vdisk on to the running guest whose disk it is: when the namespace says a disk of
 * one of this host's VMs is larger than the size last given to its QEMU, the device behind the
 * VM's LUN picks the new size up (the LUN then raises CAPACITY DATA HAS CHANGED for the initiator),
 * and QMP {@code block_resize} makes QEMU read the capacity again and tell the guest (virtio-blk
 * config change: the guest's kernel logs the new size, no reboot). Works whoever resized it:
 * {@code basalt vdisk resize} from another process, the API, this host.
 *
 * <p>A shrink under a running guest is not passed on (the guest would lose the end of its disk
 * without knowing); it is logged once, and the guest sees it at its next start.
 */
final class DiskGrowth {
    private final String host;
    private final LockedStore store;
    private final Consumer<String> say;
    /** Per VM: the size of each disk as last given to its QEMU; absent until first looked at. */
    private final Map<String, long[]> given = new HashMap<>();
    /** VM/disk pairs whose shrink was already said. */
    private final Set<String> shrinkSaid = new java.util.HashSet<>();

    DiskGrowth(String host, LockedStore store, Consumer<String> say) {
        this.host = host;
        this.store = store;
        this.say = say;
    }

    /** Looks at every disk of {@code vms} (the VMs running here and not busy moving). */
    void check(Map<String, HostAgent.LocalVm> vms, Set<String> busy) {
        given.keySet().retainAll(vms.keySet());
        shrinkSaid.removeIf(k -> !vms.containsKey(k.substring(0, k.indexOf('/'))));
        for (Map.Entry<String, HostAgent.LocalVm> e : vms.entrySet()) {
            if (!busy.contains(e.getKey()) && e.getValue().guest().isAlive()) {
                try {
                    check(e.getKey(), e.getValue());
                } catch (RuntimeException failed) {
                    // One VM's failure (its QEMU refusing block_resize, a disk gone from the namespace)
                    // leaves the others checked; it is tried again at the next check.
                    say.accept("vm " + e.getKey() + " on host " + host + ": disk size check: " + failed.getMessage());
                }
            }
        }
    }

    private void check(String vm, HostAgent.LocalVm local) {
        List<String> disks = local.record().disks();
        long[] sizes = given.computeIfAbsent(vm, k -> new long[disks.size()]);
        for (int i = 0; i < disks.size(); i++) {
            String disk = disks.get(i);
            BlockDevice device = local.devices().get(i);
            long now = store.sizeBytes(disk);
            if (now > device.sizeBytes()) {
                device.refreshSize();
            }
            if (sizes[i] == 0) {
                // First look (a start, a migration in): QEMU opened the disk at about this size;
                // asking for the device's size is harmless when QEMU already has it.
                resize(vm, local, i, device.sizeBytes());
                sizes[i] = device.sizeBytes();
            } else if (device.sizeBytes() > sizes[i]) {
                long before = sizes[i];
                resize(vm, local, i, device.sizeBytes());
                sizes[i] = device.sizeBytes();
                say.accept("vm " + vm + ": disk " + disk + " grew from " + Sizes.format(before) + " to " + Sizes.format(sizes[i])
                        + " (block_resize: the guest sees it now)");
            } else if (now < sizes[i] && shrinkSaid.add(vm + "/" + disk)) {
                say.accept("vm " + vm + " on host " + host + ": disk " + disk + " shrank to " + Sizes.format(now) + " under the running guest,"
                        + " which keeps seeing " + Sizes.format(sizes[i]) + " until its next start");
            }
        }
    }

    private static void resize(String vm, HostAgent.LocalVm local, int disk, long sizeBytes) {
        try {
            local.guest().qmp().blockResize(GuestProcess.driveId(disk), sizeBytes);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (io.basalt.host.qmp.QmpException e) {
            throw new IllegalStateException("vm " + vm + ": block_resize of " + GuestProcess.driveId(disk) + " to " + sizeBytes + ": "
                    + e.getMessage(), e);
        }
    }
}
