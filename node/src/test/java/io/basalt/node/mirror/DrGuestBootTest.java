package io.basalt.node.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.host.Accelerator;
import io.basalt.host.GuestImage;
import io.basalt.interop.ImageExport;
import io.basalt.interop.ImageFormat;
import io.basalt.interop.ImageImport;
import io.basalt.interop.ImageSource;
import io.basalt.node.TestProcesses;
import io.basalt.node.host.GuestFileSystem;
import io.basalt.node.host.HostAgent;
import io.basalt.node.host.Inventory;
import io.basalt.node.host.SequenceGuest;
import io.basalt.node.host.VmRecord;
import io.basalt.node.locks.EmbeddedLocks;
import io.basalt.node.locks.LockedStore;
import io.basalt.vdisk.store.Vdisk;
import io.basalt.vdisk.store.VdiskStore;

/**
 * Disaster recovery with a real guest: on site a a VM runs from two vdisks, its boot disk (the
 * sequence it writes to blocks) and an ext4 disk it appends synced numbers to; both are mirrored
 * to site b as one consistency group every 500 ms. While rounds go on, the disks' lock holder
 * moves: the guest migrates live to a second host of site a and back. Site a is lost at once (its QEMU SIGKILLed,
 * its agent and mirror link gone, no orderly stop). Site b fails the group over, unplanned, and
 * boots the same guest from the replicas on its own host agent: the guest mounts its file system
 * (the kernel replays the journal), counts on from the last number the replica holds, which is
 * no earlier than what it had synced before the last round, and after it is killed in turn the
 * file system checks clean ({@code e2fsck -fn}) and /seq has no gap.
 */
class DrGuestBootTest {
    private static final String GROUP = "g1";
    private static final String DISK = "g1-disk";
    private static final String FS = "g1-fs";
    private static final long INTERVAL_MS = 500;
    private static final Duration STEP = Duration.ofSeconds(120);
    private static final Pattern FS_SEQ = Pattern.compile("BASALT-FS (\\d+)");
    private static final Pattern FS_RESUME = Pattern.compile("BASALT-FS-RESUME from=(\\d+)");

    @TempDir
    Path dir;

    @Test
    void aGuestBootsAtSiteBFromItsReplicasAfterSiteAIsLostAndItsFileSystemChecksClean() throws Exception {
        String qemu = TestProcesses.which("qemu-system-x86_64");
        assumeTrue(qemu != null, "needs qemu-system-x86_64 (qemu-system-x86): scripts/install-test-deps.sh");
        SequenceGuest guest = SequenceGuest.build(dir);
        assumeTrue(guest != null, "no kernel image in /boot with its modules (linux-image-amd64): scripts/install-test-deps.sh");
        GuestFileSystem fs = GuestFileSystem.find();
        assumeTrue(fs != null, GuestFileSystem.MISSING);
        byte[] secret = new byte[32];
        Arrays.fill(secret, (byte) 9);
        PrintWriter out = new PrintWriter(System.out, true);
        VmRecord vm = VmRecord.create("g1", 1, 128, List.of(DISK, FS), guest.kernel().toString(), guest.initrd().toString(),
                GuestImage.KERNEL_COMMAND_LINE + " basalt.fs=vdb");
        Path consoleA = dir.resolve("run-a/g1/console.log");
        Path consoleB = dir.resolve("run-b/g1/console.log");
        try (TwoSites sites = new TwoSites(dir.resolve("sites"), secret, secret)) {
            TwoSites.Site a = sites.a;
            TwoSites.Site b = sites.b;
            a.store.create(DISK, 64L << 20, 512, 4096);
            Path image = dir.resolve("g1-fs.img");
            fs.make(image, "g1fs", "32M");
            importRaw(image, a.store, FS);
            MirrorGroups.create(a.store, a.config, new MirrorConfig.Group(GROUP, b.name, INTERVAL_MS, List.of(DISK, FS)));

            long syncedBeforeLoss;
            try (EmbeddedLocks locks = EmbeddedLocks.open(a.store).startLeaseMonitor()) {
                Inventory inventory = new Inventory(a.configs);
                inventory.createVm(vm);
                HostAgent host = HostAgent.start("host-a", LockedStore.embedded(a.store, locks), inventory, options(qemu, "a"), out);
                HostAgent other = HostAgent.start("host-c", LockedStore.embedded(a.store, locks), inventory, options(qemu, "c"), out);
                try {
                    inventory.updateVm("g1", r -> r.onHost("host-a").withDesired(VmRecord.Desired.RUNNING));
                    await("the guest on site a appends to its file system", () -> last(FS_SEQ, consoleA) >= 10, consoleA);
                    // The disks' lock holder moves while rounds go on: the guest migrates live to host-c and back.
                    for (String to : List.of("host-c", "host-a")) {
                        String line = (to.equals("host-c") ? host : other).apiClient().migrate("g1", to);
                        System.out.println("[dr-boot] site a: " + line);
                        long round = b.service.groups.consistentRound(List.of(DISK, FS)).orElse(0);
                        await("a group round after the move to " + to, () -> b.service.groups.consistentRound(List.of(DISK, FS)).orElse(0) > round, consoleA);
                    }
                    syncedBeforeLoss = Math.max(last(FS_SEQ, consoleA), last(FS_SEQ, dir.resolve("run-c/g1/console.log")));
                    long round = b.service.groups.consistentRound(List.of(DISK, FS)).orElse(0);
                    await("two more group rounds complete on site b", () -> b.service.groups.consistentRound(List.of(DISK, FS)).orElse(0) >= round + 2, consoleA);
                } finally {
                    // Site a is lost: its QEMU dies first, with no orderly stop; then its agents and its mirror link go.
                    ProcessHandle.current().descendants().filter(p -> p.info().command().orElse("").contains("qemu-system")).forEach(ProcessHandle::destroyForcibly);
                    other.close();
                    host.close();
                }
            }
            a.stop();

            List<Dr.Outcome> failover = b.service.failoverGroup(GROUP, false);
            failover.forEach(o -> o.lines().forEach(l -> System.out.println("[dr-boot] " + l)));
            String at = failover.getFirst().snapshot();
            assertEquals(List.of(at, at), failover.stream().map(Dr.Outcome::snapshot).toList(), "both disks come up at the group's round");

            long resumedFrom;
            long lastOnB;
            try (EmbeddedLocks locks = EmbeddedLocks.open(b.store).startLeaseMonitor()) {
                Inventory inventory = new Inventory(b.configs);
                inventory.createVm(vm);
                HostAgent host = HostAgent.start("host-b", LockedStore.embedded(b.store, locks), inventory, options(qemu, "b"), out);
                try {
                    long bootNs = System.nanoTime();
                    inventory.updateVm("g1", r -> r.onHost("host-b").withDesired(VmRecord.Desired.RUNNING));
                    await("the guest on site b mounts its file system from the replica", () -> last(FS_RESUME, consoleB) >= 0, consoleB);
                    resumedFrom = last(FS_RESUME, consoleB);
                    await("the guest on site b appends to its file system", () -> last(FS_SEQ, consoleB) >= resumedFrom + 10, consoleB);
                    System.out.printf("[dr-boot] site b: the guest resumed its file at %d (site a had synced %d before the last rounds), "
                            + "ran 10 more within %d ms of the start%n", resumedFrom, syncedBeforeLoss, (System.nanoTime() - bootNs) / 1_000_000);
                    lastOnB = last(FS_SEQ, consoleB);
                } finally {
                    ProcessHandle.current().descendants().filter(p -> p.info().command().orElse("").contains("qemu-system")).forEach(ProcessHandle::destroyForcibly);
                    host.close();
                }
            }
            assertTrue(resumedFrom >= syncedBeforeLoss, "the replica holds /seq up to " + resumedFrom
                    + ", but the guest had synced " + syncedBeforeLoss + " before two more rounds completed");

            Path raw = dir.resolve("g1-fs-site-b.raw");
            exportRaw(b.store, FS, raw);
            int lines = fs.check(raw, lastOnB);
            System.out.println("[dr-boot] the guest's ext4 on site b: e2fsck -fn clean; /seq 1.." + lines + " with no gap");
            long lastSeq = SequenceGuest.lastSeq(consoleB);
            try (Vdisk disk = b.store.open(DISK)) {
                List<String> boots = SequenceGuest.checkSequenceOnDisk(disk, lastSeq);
                assertEquals(2, new LinkedHashSet<>(boots).size(), "the boot disk holds the run of site a's guest, then site b's: " + new LinkedHashSet<>(boots));
            }
        }
    }

    private HostAgent.Options options(String qemu, String tag) {
        return new HostAgent.Options(qemu, Accelerator.TCG, dir.resolve("run-" + tag), 2, 1024, 3000, Duration.ofMillis(200),
                Duration.ofSeconds(2), Duration.ofSeconds(10), Optional.empty());
    }

    /** {@code basalt vdisk import -f raw}: the image into a new vdisk {@code name} of its size, thin. */
    private static void importRaw(Path image, VdiskStore store, String name) throws Exception {
        try (ImageSource source = ImageSource.open(image, ImageFormat.RAW)) {
            store.create(name, source.sizeBytes(), 512, 4096);
            try (Vdisk v = store.open(name)) {
                ImageImport.copy(source, v, bytes -> { });
            }
        }
    }

    /** {@code basalt vdisk export -O raw}. */
    private static void exportRaw(VdiskStore store, String name, Path raw) {
        try (Vdisk v = store.open(name)) {
            ImageExport.export(v, raw, ImageFormat.RAW, false, bytes -> { });
        }
    }

    /** The last number {@code p} matched on {@code console}; -1 before it matched once. */
    private static long last(Pattern p, Path console) {
        try {
            String text = Files.exists(console) ? Files.readString(console, StandardCharsets.ISO_8859_1) : "";
            return p.matcher(text).results().mapToLong(r -> Long.parseLong(r.group(1))).max().orElse(-1);
        } catch (IOException e) {
            return -1;
        }
    }

    private static void await(String what, java.util.function.BooleanSupplier done, Path console) throws Exception {
        long deadline = System.nanoTime() + STEP.toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                String text = Files.exists(console) ? Files.readString(console, StandardCharsets.ISO_8859_1) : "(no console)";
                List<String> lines = new ArrayList<>(text.lines().toList());
                throw new AssertionError(what + ": not within " + STEP + "; console " + console + " ends:\n"
                        + String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size())));
            }
            Thread.sleep(100);
        }
    }
}
