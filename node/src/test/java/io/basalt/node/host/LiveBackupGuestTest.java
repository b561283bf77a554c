package io.basalt.node.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.backup.BackupCreate;
import io.basalt.backup.BackupRestore;
import io.basalt.backup.Manifest;
import io.basalt.backup.Repository;
import io.basalt.backup.VdiskAccess;
import io.basalt.host.Accelerator;
import io.basalt.host.GuestImage;
import io.basalt.interop.ImageExport;
import io.basalt.interop.ImageFormat;
import io.basalt.interop.ImageImport;
import io.basalt.interop.ImageSource;
import io.basalt.lock.Holding;
import io.basalt.lock.LockMode;
import io.basalt.node.TestProcesses;
import io.basalt.node.backup.DatastoreAccess;
import io.basalt.node.backup.LiveBackup;
import io.basalt.node.config.EmbeddedConfigs;
import io.basalt.node.datastore.Datastore;
import io.basalt.node.locks.EmbeddedLocks;
import io.basalt.node.locks.LockedStore;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.SnapshotInfo;
import io.basalt.vdisk.store.Vdisk;
import io.basalt.vdisk.store.VdiskStore;

/**
 * {@code basalt backup create --vm}: a TCG guest keeps appending to its ext4 file system (vdb) and
 * writing its block sequence (vda) while both disks are backed up. The backup holds them
 * shared-read beside the host's exclusive lock (and only while it runs), takes their snapshot
 * through the host (guest paused), and restores to disks whose file system e2fsck finds clean with
 * /seq whole up to at least what the guest had synced before the snapshot, and whose sequence is a
 * prefix with nothing written past its end.
 */
class LiveBackupGuestTest {
    private static final Duration STEP = Duration.ofSeconds(120);
    private static final Pattern FS_SEQ = Pattern.compile("BASALT-FS (\\d+)");
    private static final String ROOT = "g1-root";
    private static final String FS = "g1-fs";

    @TempDir
    Path dir;

    @Test
    void aRunningGuestsDisksBackUpConsistentlyUnderASharedReadLockHeldOnlyWhileTheBackupRuns() throws Exception {
        String qemu = TestProcesses.which("qemu-system-x86_64");
        assumeTrue(qemu != null, "needs qemu-system-x86_64 (qemu-system-x86): scripts/install-test-deps.sh");
        SequenceGuest guest = SequenceGuest.build(dir);
        assumeTrue(guest != null, "no kernel image in /boot with its modules (linux-image-amd64): scripts/install-test-deps.sh");
        GuestFileSystem fs = GuestFileSystem.find();
        assumeTrue(fs != null, GuestFileSystem.MISSING);
        Path console = dir.resolve("run-a/g1/console.log");
        try (VdiskStore store = VdiskStore.open(dir.resolve("store"));
             EmbeddedLocks locks = EmbeddedLocks.open(store).startLeaseMonitor();
             Repository repo = Repository.open(dir.resolve("repo"), Repository.CHUNK_BYTES_DEFAULT)) {
            store.create(ROOT, 64L << 20, 512, 4096);
            Path image = dir.resolve("g1-fs.img");
            fs.make(image, "g1fs", "32M");
            importRaw(image, store, FS);
            EmbeddedConfigs configs = EmbeddedConfigs.open(store);
            Datastore ds = new Datastore.Local(store, locks, configs);   // not closed: the try closes the store and the locks
            Inventory inventory = new Inventory(configs);
            inventory.createVm(VmRecord.create("g1", 1, 128, List.of(ROOT, FS), guest.kernel().toString(), guest.initrd().toString(),
                    GuestImage.KERNEL_COMMAND_LINE + " basalt.fs=vdb"));
            try (HostAgent host = HostAgent.start("host-a", LockedStore.embedded(store, locks), inventory, options(qemu), new PrintWriter(System.out, true))) {
                new VmControl(inventory, locks).start("g1", Optional.of("host-a"));
                await("the guest appends to its file system", () -> last(FS_SEQ, console) >= 5 && SequenceGuest.lastSeq(console) >= 5, console);
                long hostSession = inventory.host("host-a").orElseThrow().session();

                Instant now = Instant.now();
                String snap = BackupCreate.snapshotName(now);
                List<Manifest> manifests = new ArrayList<>();
                long fsBefore;
                long seqBefore;
                long seqAfter;
                try (LiveBackup live = LiveBackup.open(ds)) {
                    live.lockSharedRead(List.of(ROOT, FS));
                    for (String disk : List.of(ROOT, FS)) {
                        assertEquals(Set.of(new Holding(hostSession, LockMode.EXCLUSIVE, 1), new Holding(live.sessionId(), LockMode.SHARED_READ, 1)),
                                holders(locks, disk),
                                "during the backup " + disk + " is held by the host (exclusive) and the backup (shared-read)");
                    }
                    IllegalArgumentException removal = assertThrows(IllegalArgumentException.class, () -> ds.remove(FS));
                    assertTrue(removal.getMessage().contains("is locked by session(s)"), removal.getMessage());

                    fsBefore = last(FS_SEQ, console);
                    seqBefore = SequenceGuest.lastSeq(console);
                    LiveBackup.Taken taken = live.snapshot(List.of(ROOT, FS), snap);
                    seqAfter = SequenceGuest.lastSeq(console);
                    System.out.println("[live-backup] " + taken.line());
                    assertTrue(taken.how().startsWith("through host host-a, which runs vm g1 (guest paused "), taken.line());
                    VdiskAccess access = new DatastoreAccess(ds);
                    for (String disk : List.of(ROOT, FS)) {
                        manifests.add(BackupCreate.create(repo, access, disk, snap, true, now, n -> { }, n -> { }).manifest());
                    }
                    await("the guest writes on beside the backup's lock", () -> SequenceGuest.lastSeq(console) > seqAfter + 2, console);
                    assertEquals(2, locks.lock(FS).orElseThrow().holders().size(), "still held shared-read until the backup ends");
                }
                long seqAtEnd = SequenceGuest.lastSeq(console);
                await("the guest writes on after the backup", () -> SequenceGuest.lastSeq(console) > seqAtEnd + 2, console);
                for (String disk : List.of(ROOT, FS)) {
                    assertEquals(Set.of(new Holding(hostSession, LockMode.EXCLUSIVE, 1)), holders(locks, disk),
                            "after the backup only the host holds " + disk);
                }
                assertTrue(store.snapshots(ROOT).stream().map(SnapshotInfo::name).toList().contains(snap), "the snapshot stays as the next base");

                restore(repo, manifests.get(0), store, "r-root");
                restore(repo, manifests.get(1), store, "r-fs");
                try (Vdisk restored = store.open("r-root")) {
                    long length = SequenceGuest.sequenceLength(restored);
                    System.out.printf("[live-backup] sequence in the backup: 1..%d (the guest had printed %d before the snapshot, %d after)%n",
                            length, seqBefore, seqAfter);
                    assertTrue(length >= seqBefore && length <= seqAfter + 1, "the backup's sequence ends at " + length
                            + " (expected: from " + seqBefore + ", synced before the snapshot, to " + (seqAfter + 1) + ")");
                    for (long n = length + 1; n <= length + 8; n++) {
                        assertFalse(text(restored, n).startsWith("SEQ "), "block " + n + " holds '" + text(restored, n)
                                + "' past the sequence's end " + length + ": a later write without an earlier one");
                    }
                }
                Path raw = dir.resolve("r-fs.raw");
                try (Vdisk v = store.open("r-fs")) {
                    ImageExport.export(v, raw, ImageFormat.RAW, false, bytes -> { });
                }
                int lines = fs.check(raw, fsBefore);
                System.out.printf("[live-backup] the backup's ext4: e2fsck -fn clean, /seq 1..%d (the guest had synced %d before the snapshot)%n",
                        lines, fsBefore);
            } finally {
                ProcessHandle.current().descendants().filter(p -> p.info().command().orElse("").contains("qemu-system")).forEach(ProcessHandle::destroyForcibly);
            }
        }
    }

    /** Who holds {@code vdisk} and how, every token shown as 1 (the tokens are not what is checked here). */
    private static Set<Holding> holders(EmbeddedLocks locks, String vdisk) {
        return locks.lock(vdisk).orElseThrow().holders().stream().map(h -> new Holding(h.sessionId(), h.mode(), 1)).collect(Collectors.toSet());
    }

    private static String text(BlockDevice disk, long block) {
        java.nio.ByteBuffer buf = disk.read(block, 1).join();
        byte[] bytes = new byte[buf.remaining()];
        buf.get(bytes);
        return new String(bytes, StandardCharsets.US_ASCII).trim();
    }

    private static void restore(Repository repo, Manifest m, VdiskStore store, String name) {
        store.create(name, m.sizeBytes(), m.blockSizeBytes(), m.grainSizeBytes());
        try (Vdisk v = store.open(name)) {
            BackupRestore.toEmpty(repo, m, v, n -> { });
        }
    }

    private HostAgent.Options options(String qemu) {
        return new HostAgent.Options(qemu, Accelerator.TCG, dir.resolve("run-a"), 2, 1024, 3000, Duration.ofMillis(200),
                Duration.ofSeconds(2), Duration.ofSeconds(10), Optional.empty());
    }

    private static void importRaw(Path image, VdiskStore store, String name) throws Exception {
        try (ImageSource source = ImageSource.open(image, ImageFormat.RAW)) {
            store.create(name, source.sizeBytes(), 512, 4096);
            try (Vdisk v = store.open(name)) {
                ImageImport.copy(source, v, bytes -> { });
            }
        }
    }

    private static long last(Pattern p, Path console) {
        try {
            String text = Files.exists(console) ? Files.readString(console, StandardCharsets.ISO_8859_1) : "";
            return p.matcher(text).results().mapToLong(r -> Long.parseLong(r.group(1))).max().orElse(-1);
        } catch (IOException e) {
            return -1;
        }
    }

    private interface Check {
        boolean done() throws Exception;
    }

    private static void await(String what, Check done, Path console) throws Exception {
        long deadline = System.nanoTime() + STEP.toNanos();
        while (!done.done()) {
            if (System.nanoTime() > deadline) {
                String text = Files.exists(console) ? Files.readString(console, StandardCharsets.ISO_8859_1) : "(no console)";
                List<String> lines = text.lines().toList();
                throw new AssertionError(what + ": not within " + STEP + "; console " + console + " ends:\n"
                        + String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size())));
            }
            Thread.sleep(100);
        }
    }
}
