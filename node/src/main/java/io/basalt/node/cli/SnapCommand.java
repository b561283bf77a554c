package io.basalt.node.cli;

import io.basalt.node.api.ApiViews;
import io.basalt.node.datastore.Datastore;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import io.basalt.vdisk.store.SnapshotInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code basalt snap ...}: crash-consistent snapshots in O(1), as {@code rbd snap}. */
@Command(name = "snap", description = "Create, list, remove and roll back snapshots.", mixinStandardHelpOptions = true,
        subcommands = {SnapCommand.Create.class, SnapCommand.Ls.class, SnapCommand.Rm.class, SnapCommand.Rollback.class,
                SnapCommand.Purge.class, SnapCommand.Gc.class})
public final class SnapCommand {

    @Command(name = "create", description = "Snapshot a vdisk: NAME@SNAP. O(1) whatever the size.")
    static final class Create implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME@SNAP") String target;

        @Override
        public Integer call() {
            VdiskCommand.Target t = VdiskCommand.Target.parse(target, true);
            try (Datastore s = store.open()) {
                long start = System.nanoTime();
                SnapshotInfo snap = s.createSnapshot(t.vdisk(), t.snap());
                double ms = (System.nanoTime() - start) / 1e6;
                spec.commandLine().getOut().printf("created snapshot %s@%s%s in %.2f ms%n", t.vdisk(), snap.name(),
                        snap.epoch() < 0 ? "" : " (epoch " + snap.epoch() + ")", ms);
            }
            return 0;
        }
    }

    @Command(name = "ls", description = "List the snapshots of a vdisk.")
    static final class Ls implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME") String name;
        @Mixin OutputFormat format;

        @Override
        public Integer call() {
            var out = spec.commandLine().getOut();
            try (Datastore s = store.open()) {
                if (format.json()) {
                    out.println(OutputFormat.toJson(ApiViews.SnapshotJson.of(s, name)));
                    return 0;
                }
                List<SnapshotInfo> snaps = s.snapshots(name);
                out.printf("%-20s %6s %10s  %s%n", "SNAPSHOT", "EPOCH", "SIZE", "CREATED");
                snaps.forEach(x -> out.println(VdiskCommand.snapshotLine(x)));
            }
            return 0;
        }
    }

    /** How long {@code snap rm}, {@code purge} and {@code gc} wait for the collection at most. */
    static final Duration GC_WAIT_DEFAULT = Duration.ofHours(1);

    /** {@code --wait} / {@code --no-wait} of the commands that remove snapshots. */
    static final class GcWait {
        @Option(names = "--wait", negatable = true, description = {"Wait until the removed snapshots' space is collected and say how much",
                "came back (default: wait on the embedded store, whose collection runs only while a process has it open;",
                "on a cluster or through --api each node collects in the background)."})
        Boolean wait;

        /**
         * Waits when asked, or by default on the embedded store, and prints what was removed and
         * what came back; otherwise says the space comes back in the background.
         */
        void report(Datastore s, String vdisk, String removed, long storedBeforeBytes, java.io.PrintWriter out) {
            boolean embedded = s.pendingSnapshotGc(vdisk).isPresent();
            if (wait != null ? wait : embedded) {
                long start = System.nanoTime();
                s.awaitSnapshotGc(vdisk, GC_WAIT_DEFAULT);
                long after = s.usage(vdisk).storedBytes();
                out.printf(Locale.ROOT, "%s; reclaimed %s (collected in %.1f s)%n", removed,
                        io.basalt.vdisk.Sizes.format(Math.max(0, storedBeforeBytes - after)), (System.nanoTime() - start) / 1e9);
            } else {
                out.printf("%s; its space is reclaimed in the background (basalt vdisk du %s shows it falling%s)%n", removed, vdisk,
                        embedded ? "; it goes on only while the store is open: basalt snap gc --wait " + vdisk : "");
            }
        }
    }

    @Command(name = "rm", description = {"Remove a snapshot (refused while it has clones): it leaves the catalog at once; the space only it held",
            "is collected in the background."})
    static final class Rm implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Mixin GcWait gcWait;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME@SNAP") String target;

        @Override
        public Integer call() {
            VdiskCommand.Target t = VdiskCommand.Target.parse(target, true);
            try (Datastore s = store.open()) {
                long before = s.usage(t.vdisk()).storedBytes();
                s.removeSnapshot(t.vdisk(), t.snap());
                gcWait.report(s, t.vdisk(), "removed snapshot " + t.vdisk() + "@" + t.snap(), before, spec.commandLine().getOut());
            }
            return 0;
        }
    }

    @Command(name = "gc", description = "Show how many removed snapshots of a vdisk still have space being collected; --wait waits for the end (embedded store).")
    static final class Gc implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--wait", description = "Wait until nothing is left to collect.") boolean wait;

        @Override
        public Integer call() {
            var out = spec.commandLine().getOut();
            try (Datastore s = store.open()) {
                long before = s.usage(name).storedBytes();
                int pending = s.pendingSnapshotGc(name).orElseThrow(() -> new UnsupportedOperationException(
                        "basalt snap gc works on the embedded store (--data) only: on a cluster or through --api each node collects"
                                + " removed snapshots in the background (basalt vdisk du " + name + " shows the space falling)"));
                if (!wait || pending == 0) {
                    out.printf("%s: %d removed snapshots being collected%n", name, pending);
                    return 0;
                }
                long start = System.nanoTime();
                s.awaitSnapshotGc(name, GC_WAIT_DEFAULT);
                out.printf(Locale.ROOT, "%s: collected %d removed snapshots in %.1f s; reclaimed %s%n", name, pending,
                        (System.nanoTime() - start) / 1e9, io.basalt.vdisk.Sizes.format(Math.max(0, before - s.usage(name).storedBytes())));
            }
            return 0;
        }
    }

    @Command(name = "rollback", description = "Make the vdisk read exactly as the snapshot again.")
    static final class Rollback implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME@SNAP") String target;

        @Override
        public Integer call() {
            VdiskCommand.Target t = VdiskCommand.Target.parse(target, true);
            try (Datastore s = store.open()) {
                s.rollback(t.vdisk(), t.snap());
                spec.commandLine().getOut().printf("rolled back %s to snapshot %s%n", t.vdisk(), t.snap());
            }
            return 0;
        }
    }

    @Command(name = "purge", description = "Remove every snapshot of a vdisk (their space is collected in the background).")
    static final class Purge implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Mixin GcWait gcWait;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            try (Datastore s = store.open()) {
                long before = s.usage(name).storedBytes();
                int n = s.purgeSnapshots(name);
                gcWait.report(s, name, "removed " + n + " snapshots of " + name, before, spec.commandLine().getOut());
            }
            return 0;
        }
    }
}
