package io.basalt.node.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.LongPredicate;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.host.Accelerator;
import io.basalt.node.config.EmbeddedConfigs;
import io.basalt.node.locks.EmbeddedLocks;
import io.basalt.node.locks.LockedStore;
import io.basalt.vdisk.store.VdiskStore;

/**
 * {@code basalt vm set} on a running guest: a vCPU and 256 MiB hot-plugged are seen by the guest
 * (/proc/cpuinfo, /proc/meminfo) without a restart; a shrink is refused; and the grown guest still
 * migrates live (the destination starts with the same module and vCPU count) and keeps them.
 */
class HostHotplugTest {
    private static final Duration STEP = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    @Test
    void aRunningGuestGetsAVcpu256MiBAndAGrownDiskAndKeepsThemAcrossAMigration() throws Exception {
        String qemu = HostAgentMigrationTest.which("qemu-system-x86_64");
        assumeTrue(qemu != null, "needs qemu-system-x86_64 (qemu-system-x86, qemu-block-extra): scripts/install-test-deps.sh");
        SequenceGuest guest = SequenceGuest.build(dir);
        assumeTrue(guest != null, "no kernel image in /boot with its modules (linux-image-amd64): scripts/install-test-deps.sh");
        try (VdiskStore store = VdiskStore.open(dir.resolve("store"));
             EmbeddedLocks locks = EmbeddedLocks.open(store).startLeaseMonitor()) {
            store.create("h1-disk", 64L << 20, 512, 4096);
            LockedStore locked = LockedStore.embedded(store, locks);
            Inventory inventory = new Inventory(EmbeddedConfigs.open(store));
            VmControl control = new VmControl(inventory, locks);
            inventory.createVm(guest.record("h1", 128, "h1-disk"));
            PrintWriter out = new PrintWriter(System.out, true);
            try (HostAgent a = HostAgent.start("host-a", locked, inventory, options(qemu, "a"), out);
                 HostAgent b = HostAgent.start("host-b", locked, inventory, options(qemu, "b"), out)) {
                assertEquals("started vm h1 on host-a", control.start("h1", Optional.of("host-a")));
                Path consoleA = dir.resolve("run-a/h1/console.log");
                Path consoleB = dir.resolve("run-b/h1/console.log");
                awaitHardware(consoleA, cpus -> cpus == 1, kb -> kb > 0);
                long memKb = SequenceGuest.hardware(consoleA)[1];

                String line = a.apiClient().set("h1", 2, 384);
                assertEquals("vm h1: 1 → 2 vCPUs, 128 → 384 MiB (hot-plugged)", line);
                awaitHardware(consoleA, cpus -> cpus == 2, kb -> kb >= memKb + 250_000);
                VmRecord grown = inventory.vm("h1").orElseThrow();
                assertEquals(List.of(256L), grown.dimmsMiB());
                IllegalArgumentException shrink = assertThrows(IllegalArgumentException.class, () -> a.apiClient().set("h1", 1, 384));
                assertTrue(shrink.getMessage().contains("to shrink it, stop it first"), shrink.getMessage());

                long grownBytes = (64L << 20) + (64L << 20);
                store.resize("h1-disk", grownBytes);
                awaitDisk(consoleA, grownBytes / 512);

                String moved = control.migrate("h1", "host-b");
                assertTrue(moved.startsWith("migrated h1 from host-a to host-b: downtime "), moved);
                assertEquals(Set.of("h1"), b.running());
                awaitHardware(consoleB, cpus -> cpus == 2, kb -> kb >= memKb + 250_000);
                assertEquals(grownBytes / 512, SequenceGuest.hardware(consoleB)[2], "the grown disk on host-b");
                HostAgentMigrationTest.assertRamCounterAndUptimeNeverRestarted(List.of(consoleA, consoleB));
                control.stop("h1", true);
            }
        }
    }

    private static void awaitHardware(Path console, LongPredicate cpus, LongPredicate memKb) throws Exception {
        long deadline = System.nanoTime() + STEP.toNanos();
        while (true) {
            long[] hw = SequenceGuest.hardware(console);
            if (cpus.test(hw[0]) && memKb.test(hw[1])) {
                return;
            }
            assertTrue(System.nanoTime() < deadline, "the guest's hardware did not become as expected within " + STEP + ": last seen cpus=" + hw[0]
                    + " memkb=" + hw[1] + " in " + console);
            Thread.sleep(200);
        }
    }

    /** Waits until the guest's kernel sees its disk at {@code sectors} (no reboot: the uptime check after the migration covers that). */
    private static void awaitDisk(Path console, long sectors) throws Exception {
        long deadline = System.nanoTime() + STEP.toNanos();
        while (SequenceGuest.hardware(console)[2] != sectors) {
            assertTrue(System.nanoTime() < deadline, "the guest did not see its disk grow to " + sectors + " sectors within " + STEP
                    + ": last seen " + SequenceGuest.hardware(console)[2] + " in " + console);
            Thread.sleep(200);
        }
    }

    private HostAgent.Options options(String qemu, String tag) {
        return new HostAgent.Options(qemu, Accelerator.TCG, dir.resolve("run-" + tag), 4, 2048, 3000, Duration.ofMillis(200),
                Duration.ofSeconds(2), Duration.ofSeconds(10), Optional.empty());
    }
}
