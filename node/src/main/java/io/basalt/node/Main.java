package io.basalt.node;

import io.basalt.node.cli.BasaltCommand;

/** Entry point of the {@code basalt} executable. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        System.exit(BasaltCommand.execute(args));
    }
}
