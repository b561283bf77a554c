package io.basalt.node.cli;

import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import io.basalt.node.backup.LiveBackup;
import io.basalt.node.backup.DatastoreAccess;
import io.basalt.node.datastore.Datastore;
import io.basalt.backup.BackupCheck;
import io.basalt.backup.BackupCreate;
import io.basalt.backup.BackupDevice;
import io.basalt.backup.BackupPrune;
import io.basalt.backup.BackupRestore;
import io.basalt.backup.Manifest;
import io.basalt.backup.Repository;
import io.basalt.interop.ImageExport;
import io.basalt.interop.ImageFormat;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.Sizes;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt backup ...}: snapshot-based, incremental, deduplicated backups of vdisks into a
 * repository directory (docs/backup-format.md). The work is the backup module's; these commands
 * open the datastore and the repository, show progress and report.
 */
@Command(name = "backup", description = "Back vdisks up into a repository: incremental, deduplicated, checked.", mixinStandardHelpOptions = true,
        subcommands = {BackupCommand.Create.class, BackupCommand.Ls.class, BackupCommand.Verify.class, BackupCommand.Restore.class,
                BackupCommand.Prune.class})
public final class BackupCommand {
    private BackupCommand() {}

    @Command(name = "create", description = {"Snapshot a vdisk and back it up: the first backup reads every allocated chunk,",
            "later ones only the chunks changed since the previous backup's snapshot (kept on the vdisk as the next base).",
            "Chunks already in the repository, from any backup of any vdisk, are not stored again.",
            "The vdisk is held shared-read meanwhile; a running VM's disk is snapshotted through its host (guest paused for it).",
            "VDISK@SNAP backs up an existing snapshot (kept); --vm NAME all of a VM's disks at one instant."})
    static final class Create implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "VDISK[@SNAP]", arity = "0..1") String vdisk;
        @Option(names = "--vm", paramLabel = "NAME", description = "Every disk of this VM, snapshotted at one instant (instead of VDISK).") String vm;
        @Option(names = "--to", required = true, paramLabel = "REPO", description = "The repository (created if missing or empty).") Path repoDir;
        @Option(names = "--chunk-size", defaultValue = "64K", converter = SizeConverter.class,
                description = "Chunk size of a new repository (default ${DEFAULT-VALUE}); an existing one keeps its own.") long chunkSize;

        @Override
        public Integer call() throws Exception {
            if ((vdisk == null) == (vm == null)) {
                throw new IllegalArgumentException("backup create: " + (vdisk == null ? "neither VDISK nor --vm" : "VDISK " + vdisk + " and --vm " + vm)
                        + " (expected: one of them)");
            }
            var out = spec.commandLine().getOut();
            Instant now = Instant.now();
            boolean existing = vdisk != null && vdisk.contains("@");
            String snap = existing ? vdisk.substring(vdisk.indexOf('@') + 1) : BackupCreate.snapshotName(now);
            try (Repository repo = Repository.open(repoDir, Math.toIntExact(chunkSize)); Datastore s = store.open(); LiveBackup live = LiveBackup.open(s)) {
                List<String> disks = vm != null ? live.disksOf(vm) : List.of(existing ? vdisk.substring(0, vdisk.indexOf('@')) : vdisk);
                live.lockSharedRead(disks);
                out.printf("holding %s shared-read (lock session %d) for the backup%n", String.join(", ", disks), live.sessionId());
                if (!existing) {
                    out.println(live.snapshot(disks, snap).line());
                }
                out.flush();
                List<String> left = new ArrayList<>(disks);
                try {
                    for (String disk : disks) {
                        left.remove(disk);   // from here a failed backup of this disk removes its own snapshot
                        print(out, disk, backUp(repo, s, disk, snap, !existing, now));
                        out.flush();
                    }
                } finally {
                    if (!existing) {
                        left.forEach(d -> live.removeQuietly(d, snap).ifPresent(spec.commandLine().getErr()::println));
                    }
                }
            }
            return 0;
        }

        private static BackupCreate.Result backUp(Repository repo, Datastore s, String disk, String snap, boolean owned, Instant now) {
            List<ImageCommands.LazyProgress> bar = new ArrayList<>();
            try {
                return BackupCreate.create(repo, new DatastoreAccess(s), disk, snap, owned, now,
                        planned -> bar.add(new ImageCommands.LazyProgress("backup " + disk, planned)), done -> bar.getFirst().accept(done));
            } finally {
                bar.forEach(ImageCommands.LazyProgress::close);
            }
        }

        private static void print(java.io.PrintWriter out, String disk, BackupCreate.Result r) {
            Manifest m = r.manifest();
            double seconds = r.elapsed().toNanos() / 1e9;
            out.printf("backup %s of %s@%s: %s, %s disk, %s of data%n", m.id(), disk, m.snapshot(),
                    m.parent().map(p -> "incremental from " + p).orElse("full"), Sizes.format(m.sizeBytes()), Sizes.format(m.dataBytes()));
            out.printf("read %s in %d chunks, stored %s in %d new chunks, reduction %s, %.1f s%n", Sizes.format(r.readBytes()),
                    r.chunkCountRead(), Sizes.format(r.newStoredBytes()),
                    r.newChunkCount(), Double.isInfinite(r.reductionRatio()) ? "all deduplicated" : String.format("%.1fx", r.reductionRatio()), seconds);
            if (!r.removedSnapshots().isEmpty()) {
                out.printf("removed the previous base snapshot(s) %s; %s@%s is the next one%n", r.removedSnapshots(), disk, m.snapshot());
            }
        }
    }

    /** One backup as {@code backup ls} shows it. */
    record Row(String id, String vdisk, String snapshot, String created, String parent, long sizeBytes, long dataBytes, long readBytes,
               long newStoredBytes, int chunkCount) {
        static Row of(Manifest m) {
            return new Row(m.id(), m.vdisk(), m.snapshot(), m.created().toString(), m.parent().orElse(null), m.sizeBytes(), m.dataBytes(),
                    m.readBytes(), m.newStoredBytes(), m.chunks().size());
        }
    }

    @Command(name = "ls", description = "List the backups of a repository, oldest first.")
    static final class Ls implements Callable<Integer> {
        @Spec CommandSpec spec;
        @Mixin OutputFormat output;
        @Option(names = "--repo", required = true, paramLabel = "REPO") Path repoDir;

        @Override
        public Integer call() {
            List<Row> rows;
            int chunks;
            try (Repository repo = Repository.open(repoDir)) {
                rows = repo.manifests().stream().map(Row::of).toList();
                chunks = repo.chunkCount();
            }
            var out = spec.commandLine().getOut();
            if (output.json()) {
                out.println(OutputFormat.toJson(rows));
                return 0;
            }
            out.printf("%-36s %-10s %-20s %9s %9s %9s %9s  %s%n", "ID", "VDISK", "CREATED", "SIZE", "DATA", "READ", "STORED", "PARENT");
            for (Row r : rows) {
                out.printf("%-36s %-10s %-20s %9s %9s %9s %9s  %s%n", r.id(), r.vdisk(), r.created().substring(0, Math.min(19, r.created().length())),
                        Sizes.format(r.sizeBytes()), Sizes.format(r.dataBytes()), Sizes.format(r.readBytes()), Sizes.format(r.newStoredBytes()),
                        r.parent() == null ? "-" : r.parent());
            }
            spec.commandLine().getErr().printf("%d backup(s), %d distinct chunk(s)%n", rows.size(), chunks);
            return 0;
        }
    }

    @Command(name = "verify", description = {"Read every chunk of every backup (or of one) and check its CRC32C and SHA-256.",
            "Names each damaged chunk and the backups using it; exit 1 when any is damaged."})
    static final class Verify implements Callable<Integer> {
        @Spec CommandSpec spec;
        @Option(names = "--repo", required = true, paramLabel = "REPO") Path repoDir;
        @Parameters(paramLabel = "ID", arity = "0..1", description = "One backup (default: all).") String id;

        @Override
        public Integer call() {
            BackupCheck.Report r;
            try (Repository repo = Repository.open(repoDir)) {
                List<Manifest> manifests = id == null ? repo.manifests() : List.of(repo.manifest(id));
                long distinct = manifests.stream().flatMap(m -> m.chunks().stream()).map(Manifest.ChunkRef::hash).distinct().count();
                try (ImageCommands.LazyProgress bar = new ImageCommands.LazyProgress("verify", distinct << 20)) {
                    r = BackupCheck.check(repo, manifests, done -> bar.accept(done << 20));
                }
            }
            var out = spec.commandLine().getOut();
            for (BackupCheck.Damage d : r.damage()) {
                out.printf("damaged chunk %s: %s; used by %s%n", d.hash(), d.reason(), d.backups());
            }
            out.printf("verified %d backup(s): %d chunk(s), %s of data, %s%n", r.backups().size(), r.chunkCount(), Sizes.format(r.rawBytes()),
                    r.ok() ? "all whole" : r.damage().size() + " damaged");
            return r.ok() ? 0 : 1;
        }
    }

    /** Exactly one place to restore to. */
    static final class Destination {
        @Option(names = "--to-vdisk", paramLabel = "NEW", description = "A new vdisk, of the backup's size.") String newVdisk;
        @Option(names = "--into", paramLabel = "VDISK", description = "An existing vdisk of the backup's size: only what differs is written.") String into;
        @Option(names = "--to-qcow2", paramLabel = "FILE", description = "A qcow2 image file (replaced if it exists).") Path qcow2;
    }

    @Command(name = "restore", description = {"Restore a backup to a new vdisk, into an existing one, or to a qcow2 file.",
            "Every chunk is checked before anything is written; a damaged one is refused, named."})
    static final class Restore implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Option(names = "--repo", required = true, paramLabel = "REPO") Path repoDir;
        @Parameters(paramLabel = "ID") String id;
        @ArgGroup(exclusive = true, multiplicity = "1") Destination to;

        @Override
        public Integer call() {
            try (Repository repo = Repository.open(repoDir)) {
                Manifest m = repo.manifest(id);
                if (to.qcow2 != null) {
                    return toQcow2(repo, m);
                }
                try (Datastore s = store.open()) {
                    BackupRestore.Result r = to.into != null ? into(repo, m, s) : toNew(repo, m, s);
                    spec.commandLine().getOut().printf("restored %s into %s: %s disk, %s compared, %s written, %s zeroed, %.1f s%n", m.id(),
                            to.into != null ? to.into : to.newVdisk, Sizes.format(r.sizeBytes()), Sizes.format(r.comparedBytes()),
                            Sizes.format(r.writtenBytes()), Sizes.format(r.zeroedBytes()), r.elapsed().toMillis() / 1000.0);
                }
            }
            return 0;
        }

        private BackupRestore.Result into(Repository repo, Manifest m, Datastore s) {
            try (BlockDevice d = s.open(to.into); ImageCommands.LazyProgress bar = new ImageCommands.LazyProgress("restore " + m.id(), m.sizeBytes())) {
                return BackupRestore.into(repo, m, d, bar);
            }
        }

        /** A failed restore removes the new vdisk, so no half-restored disk is left to boot. */
        private BackupRestore.Result toNew(Repository repo, Manifest m, Datastore s) {
            s.create(to.newVdisk, m.sizeBytes(), m.blockSizeBytes(), m.grainSizeBytes());
            boolean done = false;
            try (BlockDevice d = s.open(to.newVdisk); ImageCommands.LazyProgress bar = new ImageCommands.LazyProgress("restore " + m.id(), m.sizeBytes())) {
                BackupRestore.Result r = BackupRestore.toEmpty(repo, m, d, bar);
                done = true;
                return r;
            } finally {
                if (!done) {
                    s.remove(to.newVdisk);
                }
            }
        }

        private int toQcow2(Repository repo, Manifest m) {
            BackupCheck.requireWhole(repo, m, n -> {});
            ImageExport.Result r;
            try (BackupDevice d = new BackupDevice(repo, m); ImageCommands.LazyProgress bar = new ImageCommands.LazyProgress("restore " + m.id(), m.sizeBytes())) {
                r = ImageExport.export(d, to.qcow2, ImageFormat.QCOW2, false, bar);
            }
            spec.commandLine().getOut().printf("restored %s to %s: qcow2, %s disk, %s of data, file %s, %.1f s%n", m.id(), to.qcow2,
                    Sizes.format(r.sizeBytes()), Sizes.format(r.dataBytes()), Sizes.format(r.fileBytes()), r.elapsed().toMillis() / 1000.0);
            return 0;
        }
    }

    @Command(name = "prune", description = {"Remove backups outside the policy (per vdisk), then the chunks no backup uses.",
            "--keep-daily/--keep-weekly keep the newest backup of each of the last N days/ISO weeks that have one (local time)."})
    static final class Prune implements Callable<Integer> {
        @Spec CommandSpec spec;
        @Option(names = "--repo", required = true, paramLabel = "REPO") Path repoDir;
        @Option(names = "--keep-last", defaultValue = "0", paramLabel = "N") int keepLast;
        @Option(names = "--keep-daily", defaultValue = "0", paramLabel = "N") int keepDaily;
        @Option(names = "--keep-weekly", defaultValue = "0", paramLabel = "N") int keepWeekly;

        @Override
        public Integer call() {
            BackupPrune.Policy policy = new BackupPrune.Policy(keepLast, keepDaily, keepWeekly);
            BackupPrune.Result r;
            try (Repository repo = Repository.open(repoDir)) {
                r = BackupPrune.prune(repo, policy, ZoneId.systemDefault());
            }
            var out = spec.commandLine().getOut();
            r.removed().forEach(id -> out.println("removed " + id));
            out.printf("kept %d backup(s), removed %d; packs removed %d, rewritten %d; %s freed%n", r.kept().size(), r.removed().size(),
                    r.packsRemoved(), r.packsRewritten(), Sizes.format(r.freedBytes()));
            return 0;
        }
    }
}
