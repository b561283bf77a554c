package io.basalt.node.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.node.config.EmbeddedConfigs;
import io.basalt.node.locks.EmbeddedLocks;
import io.basalt.vdisk.store.VdiskStore;

/** {@code basalt vm disk attach|detach} on stopped VMs (no QEMU): the record's edits and the refusals, which a running VM's agent makes too. */
class VmDiskAttachTest {
    @TempDir
    Path dir;

    @Test
    void aStoppedVmGetsAndLosesADiskAndTheRefusalsNameTheValue() throws Exception {
        try (VdiskStore store = VdiskStore.open(dir.resolve("store"));
             EmbeddedLocks locks = EmbeddedLocks.open(store)) {
            Inventory inventory = new Inventory(EmbeddedConfigs.open(store));
            VmControl control = new VmControl(inventory, locks);
            inventory.createVm(VmRecord.create("web1", 1, 128, List.of("web1-boot"), "", "", ""));
            inventory.createVm(VmRecord.create("web2", 1, 128, List.of("web2-boot"), "", "", ""));

            assertEquals("attached vdisk data to vm web1 (stopped): disks web1-boot, data from its next start", control.attachDisk("web1", "data"));
            assertEquals(List.of("web1-boot", "data"), inventory.existingVm("web1").disks());
            assertEquals(List.of(8, 9), inventory.existingVm("web1").diskSlots());

            IllegalArgumentException again = assertThrows(IllegalArgumentException.class, () -> control.attachDisk("web1", "data"));
            assertTrue(again.getMessage().startsWith("vdisk data: already attached to this VM"), again.getMessage());
            IllegalArgumentException other = assertThrows(IllegalArgumentException.class, () -> control.attachDisk("web2", "data"));
            assertTrue(other.getMessage().startsWith("vdisk data: already attached to vm web1"), other.getMessage());
            IllegalArgumentException boot = assertThrows(IllegalArgumentException.class, () -> control.detachDisk("web1", "web1-boot", Duration.ofSeconds(1)));
            assertTrue(boot.getMessage().startsWith("vdisk web1-boot: the boot disk of vm web1"), boot.getMessage());
            IllegalArgumentException notThere = assertThrows(IllegalArgumentException.class, () -> control.detachDisk("web2", "data", Duration.ofSeconds(1)));
            assertEquals("vdisk data: not attached to vm web2 (its disks: web2-boot)", notThere.getMessage());
            assertEquals(List.of("web2-boot"), inventory.existingVm("web2").disks(), "a refused edit changes nothing");

            assertEquals("detached vdisk data from vm web1 (stopped): disks web1-boot", control.detachDisk("web1", "data", Duration.ofSeconds(1)));
            assertEquals(List.of("web1-boot"), inventory.existingVm("web1").disks());
            assertEquals("attached vdisk data to vm web2 (stopped): disks web2-boot, data from its next start", control.attachDisk("web2", "data"));
        }
    }

    @Test
    void theGuestNamesItsDisksInOrder() {
        assertEquals(List.of("vda", "vdb", "vdz", "vdaa", "vdab"),
                List.of(DiskAttach.guestName(0), DiskAttach.guestName(1), DiskAttach.guestName(25), DiskAttach.guestName(26), DiskAttach.guestName(27)));
    }

    @Test
    void slotsStayWhereTheyWereWhileItRunsAndCloseUpWhenStopped() {
        VmRecord vm = VmRecord.create("web1", 1, 128, List.of("a"), "", "", "").withDisk("b", 9).withDisk("c", 10).withoutDisk("b");
        assertEquals(List.of(8, 10), vm.diskSlots());
        assertEquals(9, vm.freeDiskSlot());
        assertEquals(List.of(8, 9), vm.withCompactSlots().diskSlots());
    }
}
