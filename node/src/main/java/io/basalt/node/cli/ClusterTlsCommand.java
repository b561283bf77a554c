package io.basalt.node.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import io.basalt.cluster.tls.TlsIdentity;
import io.basalt.node.cluster.ClusterCa;
import io.basalt.node.cluster.ClusterFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt cluster tls ...}: the cluster CA's certificates in {@code tls/} beside the cluster
 * file (docs/security.md, "Rotating"): list them with their expiry, renew leaves from the same CA
 * (a rolling restart takes them), and turn TLS on for a cluster made before it (a full stop).
 * Every command changes files only; which processes to restart, and in what order, is printed.
 */
@Command(name = "tls", description = "The cluster's certificates: list them, renew them, turn TLS on for a cluster made before it.",
        mixinStandardHelpOptions = true, subcommands = {ClusterTlsCommand.Ls.class, ClusterTlsCommand.Renew.class, ClusterTlsCommand.Enable.class})
public final class ClusterTlsCommand {
    /** {@code ls} flags a certificate that expires sooner than this. */
    static final Duration EXPIRY_WARNING = Duration.ofDays(30);

    @Command(name = "ls", description = "List the CA's and every node's and the clients' certificate: names, expiry, whether the CA signed it.")
    static final class Ls implements Callable<Integer> {
        @Spec CommandSpec spec;
        @Mixin ClusterRef cluster = new ClusterRef();

        @Override
        public Integer call() throws Exception {
            Path file = cluster.file();
            ClusterFile cf = ClusterFile.read(file);
            Path dir = ClusterCa.dirOf(file);
            PrintWriter out = spec.commandLine().getOut();
            if (!cf.hasTls()) {
                out.printf("cluster %s has no TLS (made before it): basalt cluster tls enable turns it on%n", cf.name());
                return 0;
            }
            X509Certificate ca = TlsIdentity.in(dir, ClusterCa.CA).certificate();
            List<String> names = new ArrayList<>();
            names.add(ClusterCa.CA);
            cf.nodes().forEach(n -> names.add(ClusterCa.nodeName(n.id())));
            names.add(ClusterCa.CLIENT);
            int problems = 0;
            out.printf("%-10s %-22s %-9s %s%n", "NAME", "EXPIRES", "STATE", "NAMES");
            for (String name : names) {
                Path crt = dir.resolve(name + ".crt");
                if (!Files.exists(crt)) {
                    out.printf("%-10s %-22s %-9s %s%n", name, "-", "missing", crt);
                    problems++;
                    continue;
                }
                X509Certificate c = TlsIdentity.in(dir, name).certificate();
                String state = state(c, ca, name.equals(ClusterCa.CA));
                problems += state.equals("ok") ? 0 : 1;
                out.printf("%-10s %-22s %-9s %s%n", name, c.getNotAfter().toInstant(), state, ClusterCa.names(c));
            }
            out.flush();
            return problems == 0 ? 0 : 1;
        }

        private static String state(X509Certificate c, X509Certificate ca, boolean isCa) {
            try {
                c.verify(ca.getPublicKey());
            } catch (java.security.GeneralSecurityException e) {
                return isCa ? "bad-ca" : "other-ca";
            }
            Instant now = Instant.now();
            if (c.getNotAfter().toInstant().isBefore(now)) {
                return "expired";
            }
            return c.getNotAfter().toInstant().isBefore(now.plus(EXPIRY_WARNING)) ? "expiring" : "ok";
        }
    }

    @Command(name = "renew", description = {"Issue new certificates and keys, from the same CA, for nodes (by id) or the clients (client),",
            "or all of them (--all); then restart each renewed process, one at a time. Needs tls/ca.key."})
    static final class Renew implements Callable<Integer> {
        @Spec CommandSpec spec;
        @Mixin ClusterRef cluster = new ClusterRef();
        @Parameters(paramLabel = "ID|client", arity = "0..*", description = "Node ids, or client.") List<String> which = new ArrayList<>();
        @Option(names = "--all", description = "Every node's and the clients' certificate.") boolean all;

        @Override
        public Integer call() throws Exception {
            Path file = cluster.file();
            ClusterFile cf = ClusterFile.read(file);
            Path dir = ClusterCa.dirOf(file);
            if (!cf.hasTls()) {
                throw new IllegalArgumentException("cluster " + cf.name() + " has no TLS (expected: a TLS cluster; basalt cluster tls enable turns it on)");
            }
            if (all == !which.isEmpty()) {
                throw new IllegalArgumentException("renew: " + (all ? "--all and " + which : "nothing named")
                        + " (expected: node ids and/or client, or --all)");
            }
            if (!Files.exists(dir.resolve(ClusterCa.CA + ".key"))) {
                throw new IllegalArgumentException("renew: " + dir.resolve(ClusterCa.CA + ".key") + " does not exist (expected: the CA's key; run this"
                        + " where it is kept)");
            }
            List<String> names = new ArrayList<>();
            if (all) {
                cf.nodes().forEach(n -> names.add(String.valueOf(n.id())));
                names.add(ClusterCa.CLIENT);
            } else {
                names.addAll(which);
            }
            PrintWriter out = spec.commandLine().getOut();
            for (String w : names) {
                if (w.equals(ClusterCa.CLIENT)) {
                    ClusterCa.issue(dir, ClusterCa.CLIENT, "localhost");
                    out.printf("renewed %s (restart the gateways and host agents that use it, and copy client.crt and .key to their machines)%n",
                            dir.resolve(ClusterCa.CLIENT + ".crt"));
                    continue;
                }
                ClusterFile.Node node = cf.nodes().stream().filter(n -> String.valueOf(n.id()).equals(w)).findFirst().orElseThrow(() ->
                        new IllegalArgumentException("renew: " + w + " (expected: a node id of " + file + " "
                                + cf.nodes().stream().map(ClusterFile.Node::id).toList() + ", or client)"));
                ClusterCa.issue(dir, ClusterCa.nodeName(node.id()), node.host());
                out.printf("renewed %s for %s (copy it and its key to node %d's machine, then restart that node)%n",
                        dir.resolve(ClusterCa.nodeName(node.id()) + ".crt"), node.host(), node.id());
            }
            out.println("the CA is unchanged: the cluster keeps running; restart one renewed process at a time");
            out.flush();
            return 0;
        }
    }

    @Command(name = "enable", description = {"Turn TLS on for a cluster made before it: make its CA and every certificate in tls/ and",
            "set \"tls\": true in the cluster file. Then stop every node, gateway and host agent, copy the files out, and start them again."})
    static final class Enable implements Callable<Integer> {
        @Spec CommandSpec spec;
        @Mixin ClusterRef cluster = new ClusterRef();

        @Override
        public Integer call() throws Exception {
            Path file = cluster.file();
            ClusterFile cf = ClusterFile.read(file);
            if (cf.hasTls()) {
                throw new IllegalArgumentException("cluster " + cf.name() + " has TLS already (" + file + "; expected: a cluster made before TLS)");
            }
            Path dir = ClusterCa.dirOf(file);
            ClusterCa.create(dir, cf.name(), cf.nodes());
            cf.withTls().write(file);
            PrintWriter out = spec.commandLine().getOut();
            out.printf("cluster %s: CA and certificates in %s (keys mode 0600); %s now says \"tls\": true%n", cf.name(), dir, file);
            out.println("a node with TLS and one without cannot talk: stop every node, gateway and host agent, copy cluster.json and its");
            out.println("certificates to each machine (docs/security.md), then start them all again");
            out.flush();
            return 0;
        }
    }
}
