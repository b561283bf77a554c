package io.basalt.node.cli;

import java.io.PrintWriter;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import io.basalt.node.api.Tokens;
import io.basalt.node.datastore.Datastore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt token}: the management API's bearer tokens, kept hashed: on a cluster in its meta
 * group (every node takes them), on the embedded store in tokens.json beside targets.json. A
 * running server takes a new or removed token at its next request (a cluster's node within a
 * second). A cluster's nodes also take the tokens of a tokens.json beside the cluster file, where
 * they were kept before; {@code ls} shows those as kept in that file, {@code rm} removes them there.
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
            Tokens.Created c;
            String where;
            if (store.isCluster()) {
                try (Datastore ds = store.open()) {
                    c = Tokens.create(ds.configs(), name != null ? name : role + "-" + (Tokens.list(ds.configs()).size() + 1), role);
                }
                where = "the cluster's meta group";
            } else {
                c = Tokens.create(store.configDir(), name != null ? name : role + "-" + (Tokens.list(store.configDir()).size() + 1), role);
                where = store.configDir().resolve(Tokens.FILE_NAME).toString();
            }
            PrintWriter out = spec.commandLine().getOut();
            out.println(c.secret());
            out.flush();
            spec.commandLine().getErr().printf("created %s token %s in %s (the line above is the token; it is not kept)%n", c.entry().role(),
                    c.entry().name(), where);
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
            List<Row> all = new ArrayList<>();
            if (store.isCluster()) {
                try (Datastore ds = store.open()) {
                    Tokens.list(ds.configs()).forEach(e -> all.add(new Row(e.name(), e.role(), e.createdMs(), "meta-group")));
                }
            }
            Tokens.list(store.configDir()).forEach(e -> all.add(new Row(e.name(), e.role(), e.createdMs(), Tokens.FILE_NAME)));
            if (format.json()) {
                out.println(OutputFormat.toJson(all));
            } else {
                out.printf("%-24s %-6s %-24s %s%n", "NAME", "ROLE", "CREATED", "KEPT");
                all.forEach(r -> out.printf("%-24s %-6s %-24s %s%n", r.name(), r.role(), Instant.ofEpochMilli(r.createdMs()), r.kept()));
            }
            out.flush();
            return 0;
        }

        record Row(String name, String role, long createdMs, String kept) {}
    }

    @Command(name = "rm", description = "Remove a token: requests with it are refused from then on.")
    static final class Rm implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            if (store.isCluster()) {
                try (Datastore ds = store.open()) {
                    if (Tokens.remove(ds.configs(), name)) {
                        spec.commandLine().getOut().printf("removed token %s from the cluster's meta group%n", name);
                        return 0;
                    }
                    if (Tokens.list(store.configDir()).stream().noneMatch(e -> e.name().equals(name))) {
                        throw new IllegalArgumentException("token name: " + name + " (expected: one of "
                                + Tokens.list(ds.configs()).stream().map(Tokens.Entry::name).toList() + " in the meta group, or of "
                                + Tokens.list(store.configDir()).stream().map(Tokens.Entry::name).toList() + " in " + Tokens.FILE_NAME + ")");
                    }
                }
            }
            Tokens.remove(store.configDir(), name);
            spec.commandLine().getOut().printf("removed token %s%n", name);
            return 0;
        }
    }
}
