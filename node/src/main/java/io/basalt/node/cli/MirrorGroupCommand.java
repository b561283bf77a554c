package io.basalt.node.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;

import io.basalt.node.mirror.MirrorConfig;
import io.basalt.node.mirror.MirrorGroups;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt mirror group ...}: consistency groups, vdisks mirrored at the same instants
 * (docs/operating.md, "Consistency groups"), as {@code rbd mirror group} does for RBD images.
 */
@Command(name = "group", description = "Consistency groups: vdisks (one VM's disks) mirrored at the same instants.", mixinStandardHelpOptions = true,
        subcommands = {MirrorGroupCommand.Create.class, MirrorGroupCommand.Remove.class, MirrorGroupCommand.List_.class})
final class MirrorGroupCommand {

    @Command(name = "create", description = "Mirror VDISKs to site SITE together: each interval one snapshot of all of them, at one instant.")
    static final class Create implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "GROUP") String group;
        @Parameters(index = "1..*", arity = "1..*", paramLabel = "VDISK") List<String> vdisks;
        @Option(names = "--to", required = true, paramLabel = "SITE", description = "The peer site (basalt site peer add).") String to;
        @Option(names = "--interval", defaultValue = "2s", converter = MirrorCommand.DurationConverter.class,
                description = "Time between the group's mirror snapshots (default ${DEFAULT-VALUE}).")
        Duration interval;

        @Override
        public Integer call() {
            return SiteScope.run(store, spec, s -> {
                MirrorConfig config = new MirrorConfig(s.configs());
                MirrorGroups.create(s.store(), config, new MirrorConfig.Group(group, to, interval.toMillis(), vdisks));
                spec.commandLine().getOut().printf("mirroring group %s (%s) to site %s every %s%s%n", group, String.join(", ", vdisks), to,
                        MirrorCommand.DurationConverter.format(interval), s.mirror().isPresent() ? "" : " (once basalt serve --mirror-port runs on this store)");
                return 0;
            });
        }
    }

    @Command(name = "rm", description = "Stop mirroring group GROUP: its vdisks' mirror snapshots here are removed, the peer's replicas stay.")
    static final class Remove implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "GROUP") String group;

        @Override
        public Integer call() {
            return SiteScope.run(store, spec, s -> {
                List<String> removed = s.mirror().map(m -> m.removeGroup(group))
                        .orElseGet(() -> MirrorGroups.removeRecords(s.store(), new MirrorConfig(s.configs()), group));
                spec.commandLine().getOut().printf("stopped mirroring group %s%s%n", group, removed.isEmpty() ? "" : " (removed " + String.join(", ", removed) + ")");
                return 0;
            });
        }
    }

    @Command(name = "ls", description = "Groups mirrored from this site, and groups whose replicas are here (with their consistent round).")
    static final class List_ implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Mixin OutputFormat format;
        @Spec CommandSpec spec;

        @Override
        public Integer call() {
            return SiteScope.run(store, spec, s -> {
                List<MirrorGroups.Row> rows = s.mirror().map(m -> m.groupRows())
                        .orElseGet(() -> MirrorGroups.rows(new MirrorConfig(s.configs()), v -> MirrorGroups.consistentRound(s.store(), v)));
                PrintWriter out = spec.commandLine().getOut();
                if (format.json()) {
                    out.println(OutputFormat.toJson(rows));
                    return 0;
                }
                out.printf("%-12s %-8s %-10s %-12s %s%n", "GROUP", "ROLE", "PEER", "CONSISTENT", "VDISKS");
                for (MirrorGroups.Row r : rows) {
                    out.printf("%-12s %-8s %-10s %-12s %s%n", r.group(), r.role(), r.peer(), r.consistentSnapshot().isEmpty() ? "-" : r.consistentSnapshot(),
                            String.join(",", r.vdisks()));
                }
                return 0;
            });
        }
    }
}
