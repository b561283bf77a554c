package io.basalt.node;

import picocli.CommandLine;
import picocli.CommandLine.Command;

@Command(name = "basalt", mixinStandardHelpOptions = true, version = "basalt 0.1.0",
        description = "Clustered storage for virtual machines.")
public final class BasaltCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static int run(String... args) {
        return new CommandLine(new BasaltCommand()).execute(args);
    }
}
