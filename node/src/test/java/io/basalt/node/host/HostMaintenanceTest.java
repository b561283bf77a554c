package io.basalt.node.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.host.Accelerator;
import io.basalt.node.config.EmbeddedConfigs;
import io.basalt.node.locks.EmbeddedLocks;
import io.basalt.node.locks.LockedStore;
import io.basalt.vdisk.store.VdiskStore;

/**
 * {@code basalt host maintenance}: three guests started on host-a are all migrated live to host-b
 * (none restarts: each keeps its one boot and its uptime), host-a takes no new VM while in
 * maintenance, and takes VMs again after {@code --exit}.
 */
class HostMaintenanceTest {
    private static final List<String> VMS = List.of("m1", "m2", "m3");

    @TempDir
    Path dir;

    @Test
    void maintenanceEmptiesAHostOfThreeRunningGuestsWithoutRestartingAny() throws Exception {
        String qemu = HostAgentMigrationTest.which("qemu-system-x86_64");
        assumeTrue(qemu != null, "needs qemu-system-x86_64 (qemu-system-x86, qemu-block-extra): scripts/install-test-deps.sh");
        SequenceGuest guest = SequenceGuest.build(dir);
        assumeTrue(guest != null, "no kernel image in /boot with its modules (linux-image-amd64): scripts/install-test-deps.sh");
        PrintWriter agentsOut = new PrintWriter(System.out, true);
        try (VdiskStore store = VdiskStore.open(dir.resolve("store"));
             EmbeddedLocks locks = EmbeddedLocks.open(store).startLeaseMonitor()) {
            LockedStore locked = LockedStore.embedded(store, locks);
            Inventory inventory = new Inventory(EmbeddedConfigs.open(store));
            VmControl control = new VmControl(inventory, locks);
            for (String vm : VMS) {
                store.create(vm + "-disk", 64L << 20, 512, 4096);
                inventory.createVm(guest.record(vm, 128, vm + "-disk"));
            }
            try (HostAgent a = HostAgent.start("host-a", locked, inventory, options(qemu, "a"), agentsOut);
                 HostAgent b = HostAgent.start("host-b", locked, inventory, options(qemu, "b"), agentsOut)) {
                for (String vm : VMS) {
                    assertEquals("started vm " + vm + " on host-a", control.start(vm, Optional.of("host-a")));
                }
                for (String vm : VMS) {
                    awaitSeq(consoles(vm), 10);
                }
                StringWriter said = new StringWriter();
                assertEquals(0, control.enterMaintenance("host-a", new PrintWriter(said, true)), said.toString());
                System.out.print(said);
                assertEquals(Set.copyOf(VMS), b.running(), said.toString());
                assertEquals(Set.of(), a.running());
                for (String vm : VMS) {
                    long before = SequenceGuest.ticks(consoles(vm)).stream().mapToLong(x -> (long) x[0]).max().orElse(0);
                    awaitSeq(consoles(vm), before + 5);
                    HostAgentMigrationTest.assertRamCounterAndUptimeNeverRestarted(consoles(vm));
                    assertEquals("host-b", inventory.vm(vm).orElseThrow().host());
                }
                assertTrue(said.toString().lines().filter(l -> l.matches("migrated m\\d from host-a to host-b: downtime \\d+ ms, total \\d+ ms")).count() == 3,
                        said.toString());

                store.create("m4-disk", 64L << 20, 512, 4096);
                inventory.createVm(guest.record("m4", 128, "m4-disk"));
                IllegalArgumentException refused = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> control.start("m4", Optional.of("host-a")));
                assertTrue(refused.getMessage().contains("--on host-a: the host is in maintenance"), refused.getMessage());
                control.exitMaintenance("host-a");
                assertEquals("started vm m4 on host-a", control.start("m4", Optional.of("host-a")));
                for (String vm : List.of("m1", "m2", "m3", "m4")) {
                    control.stop(vm, true);
                }
            }
        }
    }

    private List<Path> consoles(String vm) {
        return List.of(dir.resolve("run-a").resolve(vm).resolve("console.log"), dir.resolve("run-b").resolve(vm).resolve("console.log"));
    }

    private HostAgent.Options options(String qemu, String tag) {
        return new HostAgent.Options(qemu, Accelerator.TCG, dir.resolve("run-" + tag), 4, 1024, 3000, Duration.ofMillis(200),
                Duration.ofSeconds(2), Duration.ofSeconds(10), java.util.Optional.empty());
    }

    private static void awaitSeq(List<Path> consoles, long atLeast) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(180).toNanos();
        while (SequenceGuest.ticks(consoles).stream().mapToLong(x -> (long) x[0]).max().orElse(0) < atLeast) {
            assertTrue(System.nanoTime() < deadline, "the guest did not reach seq " + atLeast + ": " + consoles);
            Thread.sleep(100);
        }
    }
}
