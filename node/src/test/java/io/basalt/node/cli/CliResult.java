package io.basalt.node.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

import picocli.CommandLine;

/** One run of the {@code basalt} command line in the test's JVM: its exit code and what it printed. */
public record CliResult(int exit, String out, String err) {
    public static CliResult run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = BasaltCommand.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new CliResult(exit, out.toString(), err.toString());
    }
}
