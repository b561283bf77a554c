package io.basalt.node.cli;

import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;

import io.basalt.node.backup.DatastoreAccess;
import io.basalt.node.datastore.Datastore;
import io.basalt.backup.DiffStreams;
import io.basalt.vdisk.Sizes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt vdisk export-diff|import-diff}: what changed between two snapshots as a file
 * (docs/backup-format.md), for scripts, like {@code rbd export-diff} and {@code import-diff}.
 */
final class DiffCommands {
    private DiffCommands() {}

    @Command(name = "export-diff", description = {"Write what changed from VDISK@S1 to VDISK@S2 to FILE (a diff stream).",
            "With only VDISK@S2 (or --from-start): everything, data and holes, so it makes any vdisk of the size a copy."})
    static final class ExportDiff implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(arity = "2..3", paramLabel = "[VDISK@S1] VDISK@S2 FILE") java.util.List<String> args;
        @Option(names = "--from-start", description = "From the start (the default with two arguments).") boolean fromStart;

        @Override
        public Integer call() {
            if (fromStart && args.size() == 3) {
                throw new IllegalArgumentException("--from-start with " + args.get(0) + " (expected: one of them)");
            }
            Optional<String[]> from = args.size() == 3 ? Optional.of(split(args.get(0))) : Optional.empty();
            String[] to = split(args.get(args.size() - 2));
            Path file = Path.of(args.getLast());
            if (from.isPresent() && !from.get()[0].equals(to[0])) {
                throw new IllegalArgumentException("export-diff " + args.get(0) + " " + args.get(1) + " (expected: two snapshots of one vdisk)");
            }
            DiffStreams.Result r;
            try (Datastore s = store.open();
                 ImageCommands.LazyProgress bar = new ImageCommands.LazyProgress("export-diff " + to[0], s.info(to[0]).sizeBytes())) {
                r = DiffStreams.export(new DatastoreAccess(s), to[0], from.map(f -> f[1]), to[1], file, bar);
            }
            spec.commandLine().getOut().printf("exported %s from %s to %s into %s: %s of data, %s of zeros, %d records%n", to[0],
                    from.map(f -> "@" + f[1]).orElse("the start"), "@" + to[1], file, Sizes.format(r.dataBytes()), Sizes.format(r.zeroBytes()),
                    r.recordCount());
            return 0;
        }

        private static String[] split(String spec) {
            int at = spec.indexOf('@');
            if (at <= 0 || at == spec.length() - 1) {
                throw new IllegalArgumentException("'" + spec + "' (expected: VDISK@SNAP)");
            }
            return new String[] {spec.substring(0, at), spec.substring(at + 1)};
        }
    }

    @Command(name = "import-diff", description = {"Apply a diff stream to VDISK, which must have the stream's from-snapshot;",
            "the whole stream is checked first, and VDISK gets the to-snapshot after."})
    static final class ImportDiff implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "FILE") Path file;
        @Parameters(index = "1", paramLabel = "VDISK") String vdisk;

        @Override
        public Integer call() {
            DiffStreams.Result r;
            try (Datastore s = store.open()) {
                r = DiffStreams.importInto(new DatastoreAccess(s), file, vdisk, x -> {});
            }
            spec.commandLine().getOut().printf("imported %s into %s (from %s): %s of data, %s of zeros, %d records; created snapshot %s@%s%n", file,
                    vdisk, r.header().fromSnap().map(f -> "@" + f).orElse("the start"), Sizes.format(r.dataBytes()), Sizes.format(r.zeroBytes()),
                    r.recordCount(), vdisk, r.header().toSnap());
            return 0;
        }
    }
}
