package io.basalt.node.cli;

import java.io.PrintWriter;

import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.store.StoreException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code basalt} command line: one executable for every role and command. */
@Command(name = "basalt", mixinStandardHelpOptions = true, scope = CommandLine.ScopeType.INHERIT, version = "basalt 0.1.0",
        description = "Clustered storage for virtual machines.",
        subcommands = {VdiskCommand.class, SnapCommand.class, BackupCommand.class, TargetCommand.class, ServeCommand.class, HostCommand.class, VmCommand.class, LockCli.class,
                NodeCommand.class, ClusterCommand.class, ScrubCommand.class, SiteCommand.class, MirrorCommand.class, DrCommand.class, TokenCommand.class,
                DemoCommand.class,
                BenchCommand.class, CommandLine.HelpCommand.class})
public final class BasaltCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new BasaltCommand());
        cl.setExecutionExceptionHandler(BasaltCommand::handle);
        return cl;
    }

    public static int execute(String... args) {
        return commandLine().execute(args);
    }

    /** Refusals and bad values are one line naming what is wrong; anything else is a bug: full trace. */
    private static int handle(Exception e, CommandLine cl, CommandLine.ParseResult parsed) {
        PrintWriter err = cl.getErr();
        Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
        if (cause instanceof StoreException || cause instanceof IllegalArgumentException
                || cause instanceof BlockDeviceException || cause instanceof java.io.IOException || cause instanceof java.io.UncheckedIOException
                || cause instanceof io.basalt.vdisk.FencedException || cause instanceof io.basalt.lock.LockRefusedException
                || cause instanceof io.basalt.node.host.VmStateException
                || cause instanceof io.basalt.replication.link.MirrorLinkException || cause instanceof io.basalt.replication.stream.MirrorException
                || cause instanceof io.basalt.interop.InteropException || cause instanceof io.basalt.backup.BackupException) {
            err.println(cl.getCommandSpec().qualifiedName() + ": " + cause.getMessage());
            err.flush();
            return 1;
        }
        cause.printStackTrace(err);
        err.flush();
        return 70;
    }
}
