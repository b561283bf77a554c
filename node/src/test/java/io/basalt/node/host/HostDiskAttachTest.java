package io.basalt.node.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.LongPredicate;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.host.Accelerator;
import io.basalt.lock.HostSessionClient;
import io.basalt.lock.LockMode;
import io.basalt.node.config.EmbeddedConfigs;
import io.basalt.node.locks.EmbeddedLocks;
import io.basalt.node.locks.LockedStore;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.VdiskStore;

/**
 * {@code basalt vm disk attach|detach} on a running TCG guest: the attached vdisk appears in the
 * guest as vdb at its size and takes a write the guest reads back; it stays through a live
 * migration; a guest that does not let go (paused) keeps it and the detach says so; a detach
 * removes it from the guest and frees its lock for another opener.
 */
class HostDiskAttachTest {
    private static final Duration STEP = Duration.ofSeconds(120);
    private static final long DATA_BYTES = 16L << 20;

    @TempDir
    Path dir;

    @Test
    void aDiskAttachedToARunningGuestIsSeenWrittenMigratedAndDetachedWithItsLockFreed() throws Exception {
        String qemu = HostAgentMigrationTest.which("qemu-system-x86_64");
        assumeTrue(qemu != null, "needs qemu-system-x86_64 (qemu-system-x86, qemu-block-extra): scripts/install-test-deps.sh");
        SequenceGuest guest = SequenceGuest.build(dir);
        assumeTrue(guest != null, "no kernel image in /boot with its modules (linux-image-amd64): scripts/install-test-deps.sh");
        try (VdiskStore store = VdiskStore.open(dir.resolve("store"));
             EmbeddedLocks locks = EmbeddedLocks.open(store).startLeaseMonitor()) {
            store.create("h1-disk", 64L << 20, 512, 4096);
            store.create("h1-data", DATA_BYTES, 512, 4096);
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
                awaitVdb(consoleA, s -> s == 0);

                assertEquals("attached vdisk h1-data to vm h1 as vdb (PCI slot 9, hot-plugged on host-a)", control.attachDisk("h1", "h1-data"));
                awaitVdb(consoleA, s -> s == DATA_BYTES / 512);
                awaitConsole(consoleA, "BASALT-VDB-READ BASALT-VDB-WROTE ");
                assertEquals(List.of("h1-disk", "h1-data"), inventory.existingVm("h1").disks());
                IllegalArgumentException twice = assertThrows(IllegalArgumentException.class, () -> control.attachDisk("h1", "h1-data"));
                assertTrue(twice.getMessage().startsWith("vdisk h1-data: already attached to this VM"), twice.getMessage());
                IllegalArgumentException boot = assertThrows(IllegalArgumentException.class,
                        () -> control.detachDisk("h1", "h1-disk", Duration.ofSeconds(5)));
                assertTrue(boot.getMessage().startsWith("vdisk h1-disk: the boot disk of vm h1"), boot.getMessage());

                String moved = control.migrate("h1", "host-b");
                assertTrue(moved.startsWith("migrated h1 from host-a to host-b: downtime "), moved);
                assertEquals(Set.of("h1"), b.running());
                awaitVdb(consoleB, s -> s == DATA_BYTES / 512);

                // A paused guest cannot answer the eject: the detach gives up, and the disk stays in the record.
                b.vms().get("h1").guest().qmp().stop();
                IOException held = assertThrows(IOException.class, () -> control.detachDisk("h1", "h1-data", Duration.ofSeconds(2)));
                assertTrue(held.getMessage().contains("the guest did not release device vdisk-s9 within 2000 ms"), held.getMessage());
                assertTrue(held.getMessage().contains("the disk stays attached"), held.getMessage());
                assertEquals(List.of("h1-disk", "h1-data"), inventory.existingVm("h1").disks());
                b.vms().get("h1").guest().qmp().cont();

                assertEquals("detached vdisk h1-data from vm h1 (PCI slot 9, hot-unplugged on host-b; its lock released)",
                        control.detachDisk("h1", "h1-data", Duration.ofSeconds(60)));
                awaitVdb(consoleB, s -> s == 0);
                assertEquals(List.of("h1-disk"), inventory.existingVm("h1").disks());
                try (HostSessionClient other = HostSessionClient.open(locks, "other-opener", 3000, System::nanoTime)) {
                    other.acquire("h1-data", LockMode.EXCLUSIVE);
                    try (BlockDevice data = store.open("h1-data")) {
                        ByteBuffer block = data.read(0, 1).join();
                        byte[] bytes = new byte[block.remaining()];
                        block.get(bytes);
                        assertTrue(new String(bytes, StandardCharsets.US_ASCII).startsWith("BASALT-VDB-WROTE "), "the guest's write landed on h1-data");
                    }
                    other.release("h1-data");
                }
                HostAgentMigrationTest.assertRamCounterAndUptimeNeverRestarted(List.of(consoleA, consoleB));
                control.stop("h1", true);
            }
        }
    }

    private static void awaitVdb(Path console, LongPredicate sectors) throws Exception {
        long deadline = System.nanoTime() + STEP.toNanos();
        while (!sectors.test(SequenceGuest.hardware(console)[3]) || SequenceGuest.hardware(console)[0] == 0) {
            assertTrue(System.nanoTime() < deadline, "the guest's vdb did not become as expected within " + STEP + ": last seen "
                    + SequenceGuest.hardware(console)[3] + " sectors in " + console);
            Thread.sleep(200);
        }
    }

    private static void awaitConsole(Path console, String text) throws Exception {
        long deadline = System.nanoTime() + STEP.toNanos();
        while (!Files.exists(console) || !Files.readString(console, StandardCharsets.ISO_8859_1).contains(text)) {
            assertTrue(System.nanoTime() < deadline, "'" + text + "' not on " + console + " within " + STEP);
            Thread.sleep(200);
        }
    }

    private HostAgent.Options options(String qemu, String tag) {
        return new HostAgent.Options(qemu, Accelerator.TCG, dir.resolve("run-" + tag), 4, 2048, 3000, Duration.ofMillis(200),
                Duration.ofSeconds(2), Duration.ofSeconds(10), Optional.empty());
    }
}
