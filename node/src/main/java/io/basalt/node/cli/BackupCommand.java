package io.basalt.node.cli;

import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneId;
import java.util.List;
import java.util.concurrent.Callable;

import io.basalt.node.backup.LiveBackup;
import io.basalt.node.backup.Backups;
import io.basalt.node.datastore.Datastore;
import io.basalt.backup.BackupCheck;
import io.basalt.backup.BackupCreate;
import io.basalt.backup.BackupPrune;
import io.basalt.backup.BackupRestore;
import io.basalt.backup.Manifest;
import io.basalt.backup.Repository;
import io.basalt.interop.ImageExport;
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
            Backups.requireOne(vdisk, vm);   // before the repository is opened, which makes one in an empty directory
            var out = spec.commandLine().getOut();
            Instant now = Instant.now();
            try (Repository repo = Repository.open(repoDir, Math.toIntExact(chunkSize)); Datastore s = store.open(); LiveBackup live = LiveBackup.open(s)) {
                Backups.Target target = Backups.target(s, vdisk, vm, now);
                live.lockSharedRead(target.disks());
                out.printf("holding %s shared-read (lock session %d) for the backup%n", String.join(", ", target.disks()), live.sessionId());
                out.flush();
                Bars bars = new Bars(out);
                try {
                    Backups.run(repo, s, live, target, now, bars);
                } finally {
                    bars.close();
                }
            }
            return 0;
        }

        /** A progress bar per disk, and the lines of each finished one. */
        private static final class Bars implements Backups.Listener {
            private final java.io.PrintWriter out;
            private ImageCommands.LazyProgress bar;

            Bars(java.io.PrintWriter out) {
                this.out = out;
            }

            @Override
            public void line(String line) {
                out.println(line);
                out.flush();
            }

            @Override
            public void planned(String disk, long bytes) {
                close();
                bar = new ImageCommands.LazyProgress("backup " + disk, bytes);
            }

            @Override
            public void progress(String disk, long bytes) {
                bar.accept(bytes);
            }

            @Override
            public void backedUp(String disk, BackupCreate.Result r) {
                close();
                print(out, disk, r);
                out.flush();
            }

            void close() {
                if (bar != null) {
                    bar.close();
                    bar = null;
                }
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

    @Command(name = "ls", description = "List the backups of a repository, oldest first.")
    static final class Ls implements Callable<Integer> {
        @Spec CommandSpec spec;
        @Mixin OutputFormat output;
        @Option(names = "--repo", required = true, paramLabel = "REPO") Path repoDir;

        @Override
        public Integer call() {
            List<Backups.Row> rows;
            int chunks;
            try (Repository repo = Repository.open(repoDir)) {
                rows = repo.manifests().stream().map(Backups.Row::of).toList();
                chunks = repo.chunkCount();
            }
            var out = spec.commandLine().getOut();
            if (output.json()) {
                out.println(OutputFormat.toJson(rows));
                return 0;
            }
            out.printf("%-36s %-10s %-20s %9s %9s %9s %9s  %s%n", "ID", "VDISK", "CREATED", "SIZE", "DATA", "READ", "STORED", "PARENT");
            for (Backups.Row r : rows) {
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
            try (ImageCommands.LazyProgress bar = new ImageCommands.LazyProgress("restore " + m.id(), m.sizeBytes())) {
                return Backups.restoreInto(repo, m, s, to.into, bar);
            }
        }

        private BackupRestore.Result toNew(Repository repo, Manifest m, Datastore s) {
            try (ImageCommands.LazyProgress bar = new ImageCommands.LazyProgress("restore " + m.id(), m.sizeBytes())) {
                return Backups.restoreToNew(repo, m, s, to.newVdisk, bar);
            }
        }

        private int toQcow2(Repository repo, Manifest m) {
            ImageExport.Result r;
            try (ImageCommands.LazyProgress bar = new ImageCommands.LazyProgress("restore " + m.id(), m.sizeBytes())) {
                r = Backups.restoreToQcow2(repo, m, to.qcow2, bar);
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
