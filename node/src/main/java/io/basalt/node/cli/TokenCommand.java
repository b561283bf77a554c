package io.basalt.node.cli;

import java.io.PrintWriter;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
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
 * they were kept before; {@code ls} shows those as kept in that file, {@code revoke} (or {@code rm})
 * removes them there.
 */
@Command(name = "token", description = "Bearer tokens of the management API: admin (everything) or read (GET and /metrics).",
        mixinStandardHelpOptions = true, subcommands = {TokenCommand.Create.class, TokenCommand.Ls.class, TokenCommand.Revoke.class})
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

    @Command(name = "ls", description = "List tokens: name, role, created, where kept.")
    static final class Ls implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Mixin OutputFormat format;
        @Spec CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            List<Tokens.Listed> all;
            if (store.isCluster()) {
                try (Datastore ds = store.open()) {
                    all = Tokens.list(Optional.of(ds.configs()), store.configDir());
                }
            } else {
                all = Tokens.list(Optional.empty(), store.configDir());
            }
            if (format.json()) {
                out.println(OutputFormat.toJson(all));
            } else {
                out.printf("%-24s %-6s %-24s %s%n", "NAME", "ROLE", "CREATED", "KEPT");
                all.forEach(r -> out.printf("%-24s %-6s %-24s %s%n", r.name(), r.role(), Instant.ofEpochMilli(r.createdMs()), r.kept()));
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "revoke", aliases = "rm", description = {"Revoke a token: every API refuses it (401) from its next request on, a cluster's nodes",
            "within a second. Also DELETE /api/tokens/NAME with an admin token."})
    static final class Revoke implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            String where;
            if (store.isCluster()) {
                try (Datastore ds = store.open()) {
                    where = Tokens.revoke(Optional.of(ds.configs()), store.configDir(), name);
                }
            } else {
                where = Tokens.revoke(Optional.empty(), store.configDir(), name);
            }
            spec.commandLine().getOut().printf("revoked token %s (removed from %s)%n", name, where);
            return 0;
        }
    }
}
