package io.basalt.node.cli;

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
        @Parameters(paramLabel = "VDISK") String vdisk;
        @Option(names = "--planned", description = "Final sync and demotion of the primary first (it must be reachable).") boolean planned;

        @Override
        public Integer call() {
            return SiteScope.run(store, spec, s -> print(refusal(() -> s.service("dr failover").failover(vdisk, planned))));
        }

        private int print(Dr.Outcome o) {
            o.lines().forEach(spec.commandLine().getOut()::println);
            return 0;
        }
    }

    @Command(name = "failback", description = {"Make this site (the old primary) primary of VDISK again, bringing over only what changed.",
            "When both sites are primary (after an unplanned failover), --discard-local reverts this site's copy to the last",
            "snapshot both hold, discarding its writes since; the peer ships the changes since then, then a planned failover."})
    static final class Failback implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "VDISK") String vdisk;
        @Option(names = "--discard-local", description = "Split brain: this site's copy loses (its writes since the last common snapshot).")
        boolean discardLocal;

        @Override
        public Integer call() {
            return SiteScope.run(store, spec, s -> {
                Dr.Outcome o = refusal(() -> s.service("dr failback").failback(vdisk, discardLocal));
                o.lines().forEach(spec.commandLine().getOut()::println);
                return 0;
            });
        }
    }

    /**
     * A failover's states that forbid it (a round still applying, no snapshot in common, the
     * vdisk already primary) are the operator's to read in one line, not a bug's trace.
     */
    static Dr.Outcome refusal(java.util.function.Supplier<Dr.Outcome> action) {
        try {
            return action.get();
        } catch (IllegalStateException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }
}
