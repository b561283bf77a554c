package io.basalt.node.cli;

import java.io.PrintWriter;
import java.time.Instant;
import java.util.concurrent.Callable;

import io.basalt.node.api.Tokens;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt token}: the management API's bearer tokens, kept hashed in tokens.json beside
 * targets.json (the store directory, or the cluster file's directory). A running server takes a
 * new or removed token at its next request.
 */
@Command(name = "token", description = "Bearer tokens of the management API: admin (everything) or read (GET and /metrics).",
        mixinStandardHelpOptions = true, subcommands = {TokenCommand.Create.class, TokenCommand.Ls.class, TokenCommand.Rm.class})
public final class TokenCommand {

    @Command(name = "create", description = "Create a token and print it: it is shown once, and only its SHA-256 is kept.")
    static final class Create implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Option(names = "--role", required = true, paramLabel = "admin|read") String role;
        @Option(names = "--name", description = "A name to list and remove it by (default: ROLE-N).") String name;

        @Override
        public Integer call() {
            String n = name != null ? name : role + "-" + (Tokens.list(store.configDir()).size() + 1);
            Tokens.Created c = Tokens.create(store.configDir(), n, role);
            PrintWriter out = spec.commandLine().getOut();
            out.println(c.secret());
            out.flush();
            spec.commandLine().getErr().printf("created %s token %s in %s (the line above is the token; it is not kept)%n", c.entry().role(),
                    c.entry().name(), store.configDir().resolve(Tokens.FILE_NAME));
            spec.commandLine().getErr().flush();
            return 0;
        }
    }

    @Command(name = "ls", description = "List tokens: name, role, created.")
    static final class Ls implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Mixin OutputFormat format;
        @Spec CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            var all = Tokens.list(store.configDir()).stream().map(e -> new Row(e.name(), e.role(), e.createdMs())).toList();
            if (format.json()) {
                out.println(OutputFormat.toJson(all));
            } else {
                out.printf("%-24s %-6s %s%n", "NAME", "ROLE", "CREATED");
                all.forEach(r -> out.printf("%-24s %-6s %s%n", r.name(), r.role(), Instant.ofEpochMilli(r.createdMs())));
            }
            out.flush();
            return 0;
        }

        record Row(String name, String role, long createdMs) {}
    }

    @Command(name = "rm", description = "Remove a token: requests with it are refused from then on.")
    static final class Rm implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            Tokens.remove(store.configDir(), name);
            spec.commandLine().getOut().printf("removed token %s%n", name);
            return 0;
        }
    }
}
