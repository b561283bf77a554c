package io.basalt.node.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

import io.basalt.node.mirror.MirrorConfig;
import io.basalt.node.mirror.MirrorService;
import io.basalt.node.mirror.MirrorStatus;
import io.basalt.replication.MirrorRoles;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt mirror ...}: mirror vdisks to a peer site every few seconds (docs/operating.md,
 * "Mirroring to a second site"). The serving process ({@code basalt serve --mirror-port}) runs
 * the schedule; these commands change its records and read its status.
 */
@Command(name = "mirror", description = "Mirror vdisks to a peer site: enable, disable, status, consistency groups.", mixinStandardHelpOptions = true,
        subcommands = {MirrorCommand.Enable.class, MirrorCommand.Disable.class, MirrorCommand.Status.class, MirrorGroupCommand.class})
public final class MirrorCommand {

    @Command(name = "enable", description = "Mirror VDISK to site SITE: a snapshot every interval, its changes shipped to a read-only replica there.")
    static final class Enable implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "VDISK") String vdisk;
        @Option(names = "--to", required = true, paramLabel = "SITE", description = "The peer site (basalt site peer add).") String to;
        @Option(names = "--interval", defaultValue = "2s", converter = DurationConverter.class,
                description = "Time between mirror snapshots: the recovery point (default ${DEFAULT-VALUE}; e.g. 500ms, 2s, 1m).")
        Duration interval;

        @Override
        public Integer call() {
            return SiteScope.run(store, spec, s -> {
                s.store().info(vdisk); // refuses, naming it, a vdisk that does not exist
                if (MirrorRoles.replicaOf(s.store(), vdisk).isPresent()) {
                    throw new IllegalArgumentException("vdisk: " + vdisk + " is a replica (expected: a primary; a replica's site mirrors it here)");
                }
                MirrorConfig c = new MirrorConfig(s.configs());
                c.siteName();
                c.putMirror(new MirrorConfig.Mirror(vdisk, to, interval.toMillis(), false));
                spec.commandLine().getOut().printf("mirroring %s to site %s every %s%s%n", vdisk, to, DurationConverter.format(interval),
                        s.mirror().isPresent() ? "" : " (once basalt serve --mirror-port runs on this store)");
                return 0;
            });
        }
    }

    @Command(name = "disable", description = "Stop mirroring VDISK; its mirror snapshots here are removed, the peer's replica stays.")
    static final class Disable implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "VDISK") String vdisk;

        @Override
        public Integer call() {
            return SiteScope.run(store, spec, s -> {
                List<String> removed = s.mirror().map(m -> m.disable(vdisk))
                        .orElseGet(() -> MirrorService.disable(s.store(), new MirrorConfig(s.configs()), vdisk));
                spec.commandLine().getOut().printf("stopped mirroring %s%s%n", vdisk, removed.isEmpty() ? "" : " (removed " + String.join(", ", removed) + ")");
                return 0;
            });
        }
    }

    @Command(name = "status", description = "Role, state, last complete snapshot, lag (seconds, bytes) and throughput of mirrored vdisks.")
    static final class Status implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Mixin OutputFormat format;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "VDISK", arity = "0..1") String vdisk;

        @Override
        public Integer call() {
            return SiteScope.run(store, spec, s -> {
                List<MirrorStatus.Row> rows = s.mirror().map(m -> m.status(Optional.ofNullable(vdisk)))
                        .orElseGet(() -> MirrorStatus.offline(s.store(), s.configs(), Optional.ofNullable(vdisk)));
                PrintWriter out = spec.commandLine().getOut();
                if (format.json()) {
                    out.println(OutputFormat.toJson(rows));
                    return 0;
                }
                out.printf("%-12s %-8s %-8s %-11s %-12s %8s %12s %12s  %s%n", "VDISK", "ROLE", "PEER", "STATE", "LAST-SNAP", "LAG-S", "LAG-BYTES",
                        "THROUGHPUT", "ERROR");
                for (MirrorStatus.Row r : rows) {
                    out.printf("%-12s %-8s %-8s %-11s %-12s %8s %12s %12s  %s%n", r.vdisk(), r.role(), r.peer(), r.state(), r.lastSnapshot(),
                            r.lagSeconds() < 0 ? "-" : String.format("%.1f", r.lagSeconds()), r.lagBytes() < 0 ? "-" : Long.toString(r.lagBytes()),
                            r.throughputBytesPerSecond() == 0 ? "-" : io.basalt.vdisk.Sizes.format(r.throughputBytesPerSecond()) + "/s", r.error());
                }
                return 0;
            });
        }
    }

    /** {@code 500ms}, {@code 2s}, {@code 1m}, {@code 1h}. */
    static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            try {
                if (value.endsWith("ms")) {
                    return Duration.ofMillis(Long.parseLong(value.substring(0, value.length() - 2)));
                }
                long n = Long.parseLong(value.substring(0, value.length() - 1));
                return switch (value.charAt(value.length() - 1)) {
                    case 's' -> Duration.ofSeconds(n);
                    case 'm' -> Duration.ofMinutes(n);
                    case 'h' -> Duration.ofHours(n);
                    default -> throw new NumberFormatException();
                };
            } catch (NumberFormatException | IndexOutOfBoundsException e) {
                throw new CommandLine.TypeConversionException("interval: '" + value + "' (expected: a number and ms, s, m or h; e.g. 2s)");
            }
        }

        static String format(Duration d) {
            return d.toMillis() % 1000 != 0 ? d.toMillis() + "ms" : d.toSeconds() + "s";
        }
    }
}
