package io.basalt.node.cli;

import java.util.List;
import java.util.concurrent.Callable;

import io.basalt.node.mirror.Dr;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt dr ...}: move a mirrored vdisk's primary role between sites (docs/operating.md,
 * "Failover and failback"). Runs in the serving process of the site it is typed at; the peer is
 * reached over the mirror link.
 */
@Command(name = "dr", description = "Disaster recovery: fail a mirrored vdisk over to this site, or back.", mixinStandardHelpOptions = true,
        subcommands = {DrCommand.Failover.class, DrCommand.Failback.class})
public final class DrCommand {

    @Command(name = "failover", description = {"Make this site's replica of VDISK its primary.",
            "--planned: the primary site ships its last writes and refuses new ones first (no data lost);",
            "without it: promote at the last complete snapshot (the primary site is away; the data-loss window is printed)."})
    static final class Failover implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Mixin Target target;
        @Option(names = "--planned", description = "Final sync and demotion of the primary first (it must be reachable).") boolean planned;

        @Override
        public Integer call() {
            target.check(spec);
            return SiteScope.run(store, spec, s -> print(spec, refusal(() -> target.group == null
                    ? List.of(s.service("dr failover").failover(target.vdisk, planned))
                    : s.service("dr failover").failoverGroup(target.group, planned))));
        }
    }

    /** VDISK, or {@code --group G}: one of the two. */
    static final class Target {
        @Parameters(paramLabel = "VDISK", arity = "0..1", description = "The mirrored vdisk.") String vdisk;
        @Option(names = "--group", paramLabel = "G", description = "Every vdisk of consistency group G, at one round (basalt mirror group).")
        String group;

        void check(CommandSpec spec) {
            if ((vdisk == null) == (group == null)) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                        "target: " + (vdisk == null ? "none" : vdisk + " and --group " + group) + " (expected: VDISK or --group G)");
            }
        }
    }

    private static int print(CommandSpec spec, List<Dr.Outcome> outcomes) {
        outcomes.forEach(o -> o.lines().forEach(spec.commandLine().getOut()::println));
        return 0;
    }

    @Command(name = "failback", description = {"Make this site (the old primary) primary of VDISK again, bringing over only what changed.",
            "When both sites are primary (after an unplanned failover), --discard-local reverts this site's copy to the last",
            "snapshot both hold, discarding its writes since; the peer ships the changes since then, then a planned failover."})
    static final class Failback implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Mixin Target target;
        @Option(names = "--discard-local", description = "Split brain: this site's copy loses (its writes since the last common snapshot).")
        boolean discardLocal;

        @Override
        public Integer call() {
            target.check(spec);
            return SiteScope.run(store, spec, s -> print(spec, refusal(() -> target.group == null
                    ? List.of(s.service("dr failback").failback(target.vdisk, discardLocal))
                    : s.service("dr failback").failbackGroup(target.group, discardLocal))));
        }
    }

    /**
     * A failover's states that forbid it (a round still applying, no snapshot in common, the
     * vdisk already primary) are the operator's to read in one line, not a bug's trace.
     */
    static <T> T refusal(java.util.function.Supplier<T> action) {
        try {
            return action.get();
        } catch (IllegalStateException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }
}
