package io.basalt.node;

import picocli.CommandLine;

/** Entry point of the {@code basalt} executable. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        System.exit(BasaltCommand.run(args));
    }
}
