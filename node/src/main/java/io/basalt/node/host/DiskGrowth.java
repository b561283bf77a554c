package io.basalt.node.host;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

import io.basalt.host.GuestDisks;
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
    private final Map<String, Map<String, Long>> given = new HashMap<>();
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
        Map<String, Long> sizes = given.computeIfAbsent(vm, k -> new HashMap<>());
        // A disk detached meanwhile is forgotten; one attached is looked at for the first time.
        sizes.keySet().retainAll(local.disks().stream().map(ServedDisk::vdisk).toList());
        for (ServedDisk served : local.disks()) {
            String disk = served.vdisk();
            BlockDevice device = served.device();
            long now = store.sizeBytes(disk);
            if (now > device.sizeBytes()) {
                device.refreshSize();
            }
            long before = sizes.getOrDefault(disk, 0L);
            if (before == 0) {
                // First look (a start, a migration in, an attach): QEMU opened the disk at about this
                // size; asking for the device's size is harmless when QEMU already has it.
                resize(vm, local, served.slot(), device.sizeBytes());
                sizes.put(disk, device.sizeBytes());
            } else if (device.sizeBytes() > before) {
                resize(vm, local, served.slot(), device.sizeBytes());
                sizes.put(disk, device.sizeBytes());
                say.accept("vm " + vm + ": disk " + disk + " grew from " + Sizes.format(before) + " to " + Sizes.format(device.sizeBytes())
                        + " (block_resize: the guest sees it now)");
            } else if (now < before && shrinkSaid.add(vm + "/" + disk)) {
                say.accept("vm " + vm + " on host " + host + ": disk " + disk + " shrank to " + Sizes.format(now) + " under the running guest,"
                        + " which keeps seeing " + Sizes.format(before) + " until its next start");
            }
        }
    }

    private static void resize(String vm, HostAgent.LocalVm local, int slot, long sizeBytes) {
        try {
            local.guest().qmp().blockResize(GuestDisks.nodeName(slot), sizeBytes);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (io.basalt.host.qmp.QmpException e) {
            throw new IllegalStateException("vm " + vm + ": block_resize of " + GuestDisks.nodeName(slot) + " to " + sizeBytes + ": "
                    + e.getMessage(), e);
        }
    }
}
