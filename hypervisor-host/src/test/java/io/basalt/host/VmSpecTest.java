package io.basalt.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class VmSpecTest {
    private static final VmSpec WEB1 = VmSpec.of("web1", 2, 512, List.of("iscsi://127.0.0.1:3260/iqn.2026-11.io.basalt:web1/0"),
            Optional.of(new VmSpec.DirectBoot("/boot/vmlinuz", Optional.of("/tmp/initrd"), "console=ttyS0")));

    @Test
    void macDependsOnTheNameOnlyAndIsLocallyAdministeredUnicast() {
        assertEquals(VmSpec.macFor("web1"), WEB1.mac());
        assertEquals(WEB1.mac(), VmSpec.of("web1", 1, 64, List.of(), Optional.empty()).mac());
        assertNotEquals(VmSpec.macFor("web1"), VmSpec.macFor("web2"));
        assertTrue(WEB1.mac().matches("52:54:00(:[0-9a-f]{2}){3}"), WEB1.mac());
    }

    @Test
    void rejectsBadValuesNamingThem() {
        IllegalArgumentException name = assertThrows(IllegalArgumentException.class,
                () -> VmSpec.of("Web 1", 1, 64, List.of(), Optional.empty()));
        assertTrue(name.getMessage().startsWith("VM name: 'Web 1' (expected: "), name.getMessage());
        IllegalArgumentException vcpus = assertThrows(IllegalArgumentException.class,
                () -> VmSpec.of("web1", 0, 64, List.of(), Optional.empty()));
        assertEquals("vcpus: 0 (expected: 1..64) vm=web1", vcpus.getMessage());
        IllegalArgumentException disk = assertThrows(IllegalArgumentException.class,
                () -> VmSpec.of("web1", 1, 64, List.of("/tmp/a,b"), Optional.empty()));
        assertEquals("disk: '/tmp/a,b' (expected: a non-empty URL or path without ',') vm=web1", disk.getMessage());
    }

    @Test
    void commandLineRunsTheSpecHeadlessWithQmpAndConsoleInTheRunDir() {
        List<String> args = GuestProcess.commandLine("qemu-system-x86_64", Accelerator.TCG, WEB1, Path.of("/run/basalt/web1"));
        String line = String.join(" ", args);
        assertEquals("qemu-system-x86_64 -name guest=web1,debug-threads=on -accel tcg -m 512M,slots=8,maxmem=66048M -smp 2,maxcpus=16"
                + " -nodefaults -no-user-config -display none -no-reboot"
                + " -chardev socket,id=qmp,path=/run/basalt/web1/qmp.sock,server=on,wait=off -mon chardev=qmp,mode=control"
                + " -chardev file,id=console,path=/run/basalt/web1/console.log,append=on -serial chardev:console"
                + " -blockdev driver=iscsi,node-name=disk-s8,transport=tcp,portal=127.0.0.1:3260,target=iqn.2026-11.io.basalt:web1,lun=0"
                + " -device virtio-blk-pci,drive=disk-s8,id=vdisk-s8,bus=pci.0,addr=0x8"
                + " -kernel /boot/vmlinuz -initrd /tmp/initrd -append console=ttyS0", line);
    }

    @Test
    void hotPluggedVcpusAndModulesAreOnTheCommandLineInTheirSlotsWithTheBootSizesUnchanged() {
        VmSpec grown = new VmSpec("web1", 3, 768, WEB1.disks(), Optional.empty(), WEB1.mac(), false, Optional.of("tcp:0:4444"),
                new GuestNetwork.None(), List.of(256L), List.of(new HotVcpu("qemu64-x86_64-cpu", java.util.Map.of("socket-id", 2L, "core-id", 0L, "thread-id", 0L))),
                List.of(8));
        String line = String.join(" ", GuestProcess.commandLine("qemu", Accelerator.TCG, grown, Path.of("/r")));
        assertTrue(line.contains(" -m 512M,slots=8,maxmem=66048M -smp 2,maxcpus=16 "), line);
        assertTrue(line.contains(" -device qemu64-x86_64-cpu,id=vcpu2,core-id=0,socket-id=2,thread-id=0"
                + " -object memory-backend-ram,id=mem0,size=256M -device pc-dimm,id=dimm0,memdev=mem0"), line);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new VmSpec("web1", 3, 768, WEB1.disks(), Optional.empty(),
                WEB1.mac(), false, Optional.empty(), new GuestNetwork.None(), List.of(200L), List.of(), List.of(8)));
        assertTrue(e.getMessage().startsWith("memory modules: [200] MiB of 768 MiB (expected: at most 8 of whole 128 MiB"), e.getMessage());
    }

    @Test
    void eachDiskIsABlockNodeUnderAVirtioDeviceInItsOwnPciSlot() {
        VmSpec two = new VmSpec("web1", 1, 512, List.of("iscsi://127.0.0.1:3260/iqn.2026-11.io.basalt:web1/0", "/tmp/data.img"), Optional.empty(),
                WEB1.mac(), false, Optional.empty(), new GuestNetwork.None(), List.of(), List.of(), List.of(8, 10));
        String line = String.join(" ", GuestProcess.commandLine("qemu", Accelerator.TCG, two, Path.of("/r")));
        assertTrue(line.contains(" -blockdev driver=file,node-name=disk-s10,filename=/tmp/data.img"
                + " -device virtio-blk-pci,drive=disk-s10,id=vdisk-s10,bus=pci.0,addr=0xa"), line);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new VmSpec("web1", 1, 512, two.disks(), Optional.empty(),
                WEB1.mac(), false, Optional.empty(), new GuestNetwork.None(), List.of(), List.of(), List.of(9, 9)));
        assertEquals("disk slots: [9, 9] for 2 disks (expected: one each, distinct, in 8..23) vm=web1", e.getMessage());
    }

    @Test
    void pausedAndIncomingSpecsStartStoppedAndWaiting() {
        List<String> args = GuestProcess.commandLine("qemu", Accelerator.KVM, WEB1.startPaused().incomingOn("tcp:0:4444"), Path.of("/r"));
        assertEquals(List.of("-S", "-incoming", "tcp:0:4444"), args.subList(args.size() - 3, args.size()));
        assertTrue(args.containsAll(List.of("-accel", "kvm")), args.toString());
    }

    @Test
    void rejectsARunDirWhoseSocketPathIsTooLong() {
        Path deep = Path.of("/" + "d".repeat(120));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GuestProcess.commandLine("qemu", Accelerator.TCG, WEB1, deep));
        assertEquals("QMP socket path: 130 bytes (expected: <= 107) run dir=" + deep, e.getMessage());
    }
}
