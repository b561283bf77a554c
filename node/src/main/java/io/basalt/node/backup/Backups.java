package io.basalt.node.backup;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;

import io.basalt.backup.BackupCheck;
import io.basalt.backup.BackupCreate;
import io.basalt.backup.BackupDevice;
import io.basalt.backup.BackupRestore;
import io.basalt.backup.Manifest;
import io.basalt.backup.Repository;
import io.basalt.interop.ImageExport;
import io.basalt.interop.ImageFormat;
import io.basalt.node.datastore.Datastore;
import io.basalt.node.host.Inventory;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.SnapshotInfo;

/**
 * What {@code basalt backup create} and {@code backup restore} do, and {@code POST /api/backups}
 * and {@code POST /api/backups/{id}/restore} do the same way: which disks a request names, the
 * snapshot and backups of them, and the three kinds of restore. The caller opens the repository
 * and the {@link LiveBackup} session and holds the disks shared-read before {@link #run}, so that
 * a request that cannot start is refused before any work.
 */
public final class Backups {
    private Backups() {}

    /**
     * The disks a backup reads, the snapshot it reads them at, and whether that snapshot is the
     * operator's ({@code VDISK@SNAP}: neither taken nor removed) or the backup's own.
     */
    public record Target(List<String> disks, String snapshot, boolean existing) {
        /** {@code VDISK@SNAP}, or the disks joined by commas with the snapshot. */
        public String spec() {
            return String.join(",", disks) + "@" + snapshot;
        }
    }

    /** A backup as {@code backup ls} lists it (and {@code GET /api/backups} answers). */
    public record Row(String id, String vdisk, String snapshot, String created, String parent, long sizeBytes, long dataBytes, long readBytes,
                      long newStoredBytes, int chunkCount) {
        public static Row of(Manifest m) {
            return new Row(m.id(), m.vdisk(), m.snapshot(), m.created().toString(), m.parent().orElse(null), m.sizeBytes(), m.dataBytes(),
                    m.readBytes(), m.newStoredBytes(), m.chunks().size());
        }
    }

    /** What a run reports as it goes: lines to show, a disk's planned bytes, bytes done, a disk backed up. */
    public interface Listener {
        void line(String line);

        void planned(String disk, long bytes);

        void progress(String disk, long bytes);

        void backedUp(String disk, BackupCreate.Result result);
    }

    /**
     * The target of {@code VDISK}, {@code VDISK@SNAP} or VM {@code vm} (exactly one of the two
     * given) at {@code now}; refused naming the bad value: both or neither, an unknown vdisk,
     * snapshot or VM.
     */
    public static Target target(Datastore store, String vdisk, String vm, Instant now) {
        requireOne(vdisk, vm);
        if (vm != null) {
            List<String> disks = new Inventory(store.configs()).existingVm(vm).disks();
            disks.forEach(d -> requireVdisk(store, d, "disk of vm " + vm));
            return new Target(disks, BackupCreate.snapshotName(now), false);
        }
        int at = vdisk.indexOf('@');
        String name = at < 0 ? vdisk : vdisk.substring(0, at);
        requireVdisk(store, name, "vdisk");
        if (at < 0) {
            return new Target(List.of(name), BackupCreate.snapshotName(now), false);
        }
        String snap = vdisk.substring(at + 1);
        List<String> snaps = store.snapshots(name).stream().map(SnapshotInfo::name).toList();
        if (!snaps.contains(snap)) {
            throw new IllegalArgumentException("snapshot: " + vdisk + " (expected: one of " + snaps + ")");
        }
        return new Target(List.of(name), snap, true);
    }

    /** Refuses both or neither of {@code vdisk} and {@code vm}, naming them. */
    public static void requireOne(String vdisk, String vm) {
        if ((vdisk == null) == (vm == null)) {
            throw new IllegalArgumentException("backup create: " + (vdisk == null ? "neither VDISK nor --vm" : "VDISK " + vdisk + " and --vm " + vm)
                    + " (expected: one of them)");
        }
    }

    private static void requireVdisk(Datastore store, String name, String what) {
        if (name.isEmpty() || store.list().stream().noneMatch(v -> v.name().equals(name))) {
            throw new IllegalArgumentException(what + ": " + name + " (expected: an existing vdisk; see basalt vdisk ls)");
        }
    }

    /** The bytes of every disk of {@code t}: what a run reads at most. */
    public static long sizeBytes(Datastore store, Target t) {
        return t.disks().stream().mapToLong(d -> store.info(d).sizeBytes()).sum();
    }

    /**
     * Takes {@code t}'s snapshot (unless it is the operator's) through {@code live}, whose session
     * holds the disks shared-read, and backs each disk up into {@code repo}. A disk whose backup
     * did not happen loses the snapshot the run took of it; one that cannot be removed is said.
     */
    public static List<BackupCreate.Result> run(Repository repo, Datastore store, LiveBackup live, Target t, Instant now, Listener listener)
            throws IOException, InterruptedException {
        if (!t.existing()) {
            listener.line(live.snapshot(t.disks(), t.snapshot()).line());
        }
        List<String> left = new ArrayList<>(t.disks());
        List<BackupCreate.Result> results = new ArrayList<>();
        try {
            for (String disk : t.disks()) {
                left.remove(disk);   // from here a failed backup of this disk removes its own snapshot
                BackupCreate.Result r = BackupCreate.create(repo, new DatastoreAccess(store), disk, t.snapshot(), !t.existing(), now,
                        planned -> listener.planned(disk, planned), done -> listener.progress(disk, done));
                results.add(r);
                listener.backedUp(disk, r);
            }
        } finally {
            if (!t.existing()) {
                left.forEach(d -> live.removeQuietly(d, t.snapshot()).ifPresent(listener::line));
            }
        }
        return results;
    }

    /** Restores {@code m} into existing vdisk {@code vdisk}: only what differs is written. */
    public static BackupRestore.Result restoreInto(Repository repo, Manifest m, Datastore store, String vdisk, LongConsumer progress) {
        try (BlockDevice d = store.open(vdisk)) {
            return BackupRestore.into(repo, m, d, progress);
        }
    }

    /** Restores {@code m} to a new vdisk {@code name}; a failed restore removes it, so no half-restored disk is left to boot. */
    public static BackupRestore.Result restoreToNew(Repository repo, Manifest m, Datastore store, String name, LongConsumer progress) {
        store.create(name, m.sizeBytes(), m.blockSizeBytes(), m.grainSizeBytes());
        boolean done = false;
        try (BlockDevice d = store.open(name)) {
            BackupRestore.Result r = BackupRestore.toEmpty(repo, m, d, progress);
            done = true;
            return r;
        } finally {
            if (!done) {
                store.remove(name);
            }
        }
    }

    /** Restores {@code m} to a qcow2 image {@code file} (replaced if it exists); every chunk is checked first. */
    public static ImageExport.Result restoreToQcow2(Repository repo, Manifest m, Path file, LongConsumer progress) {
        BackupCheck.requireWhole(repo, m, n -> {});
        try (BackupDevice d = new BackupDevice(repo, m)) {
            return ImageExport.export(d, file, ImageFormat.QCOW2, false, progress);
        }
    }
}
