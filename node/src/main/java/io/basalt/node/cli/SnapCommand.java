package io.basalt.node.cli;

import io.basalt.node.datastore.Datastore;
import java.util.List;
import java.util.concurrent.Callable;

import io.basalt.vdisk.store.SnapshotInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code basalt snap ...}: crash-consistent snapshots in O(1), as {@code rbd snap}. */
@Command(name = "snap", description = "Create, list, remove and roll back snapshots.", mixinStandardHelpOptions = true,
        subcommands = {SnapCommand.Create.class, SnapCommand.Ls.class, SnapCommand.Rm.class, SnapCommand.Rollback.class,
                SnapCommand.Purge.class})
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

        @Override
        public Integer call() {
            var out = spec.commandLine().getOut();
            try (Datastore s = store.open()) {
                List<SnapshotInfo> snaps = s.snapshots(name);
                out.printf("%-20s %6s %10s  %s%n", "SNAPSHOT", "EPOCH", "SIZE", "CREATED");
                snaps.forEach(x -> out.println(VdiskCommand.snapshotLine(x)));
            }
            return 0;
        }
    }

    @Command(name = "rm", description = "Remove a snapshot and reclaim the space only it held (refused while it has clones).")
    static final class Rm implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME@SNAP") String target;

        @Override
        public Integer call() {
            VdiskCommand.Target t = VdiskCommand.Target.parse(target, true);
            try (Datastore s = store.open()) {
                long before = s.usage(t.vdisk()).storedBytes();
                s.removeSnapshot(t.vdisk(), t.snap());
                long after = s.usage(t.vdisk()).storedBytes();
                spec.commandLine().getOut().printf("removed snapshot %s@%s; reclaimed %s%n", t.vdisk(), t.snap(),
                        io.basalt.vdisk.Sizes.format(Math.max(0, before - after)));
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

    @Command(name = "purge", description = "Remove every snapshot of a vdisk.")
    static final class Purge implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            try (Datastore s = store.open()) {
                int n = s.purgeSnapshots(name);
                spec.commandLine().getOut().printf("removed %d snapshots of %s%n", n, name);
            }
            return 0;
        }
    }
}
