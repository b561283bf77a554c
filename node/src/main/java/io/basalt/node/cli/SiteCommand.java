package io.basalt.node.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import io.basalt.node.mirror.MirrorConfig;
import io.basalt.replication.link.LinkSecret;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt site ...}: this site's name and its peer sites, the other Basalt sites its vdisks
 * are mirrored to or from. Both sites add each other with the same secret; the mirror link
 * (TLS 1.3) refuses a peer that cannot prove it.
 */
@Command(name = "site", description = "Name this site and manage its peer sites (for mirroring).", mixinStandardHelpOptions = true,
        subcommands = {SiteCommand.Init.class, SiteCommand.Secret.class, SiteCommand.Peer.class})
public final class SiteCommand {

    @Command(name = "init", description = "Name this site (once; peers and replicas know it by this name).")
    static final class Init implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            return SiteScope.run(store, spec, s -> {
                new MirrorConfig(s.configs()).initSite(name);
                spec.commandLine().getOut().printf("site %s%n", name);
                return 0;
            });
        }
    }

    @Command(name = "secret", description = "Print a new random secret (base64) for a pair of sites: save it to a file on both.")
    static final class Secret implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Override
        public Integer call() {
            byte[] b = new byte[32];
            new SecureRandom().nextBytes(b);
            spec.commandLine().getOut().println(Base64.getEncoder().encodeToString(b));
            return 0;
        }
    }

    @Command(name = "peer", description = "Add, list and remove peer sites.", subcommands = {Add.class, Ls.class, Rm.class})
    static final class Peer {}

    @Command(name = "add", description = "Add (or change) peer site NAME, whose mirror link listens at ADDR (its basalt serve --mirror-port).")
    static final class Add implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "NAME") String name;
        @Parameters(index = "1", paramLabel = "HOST:PORT") String address;
        @Option(names = "--secret-file", required = true, paramLabel = "FILE",
                description = "The secret both sites share, base64 (basalt site secret makes one), at least " + LinkSecret.BYTES_MIN + " random bytes.")
        Path secretFile;
        @Option(names = "--bandwidth", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "0",
                description = "Limit on what this site sends the peer, bytes per second (e.g. 50M; default 0: none).")
        long bandwidth;

        @Override
        public Integer call() throws IOException {
            String secret = Files.readString(secretFile).strip();
            return SiteScope.run(store, spec, s -> {
                new MirrorConfig(s.configs()).putPeer(new MirrorConfig.Peer(name, address, secret, bandwidth));
                spec.commandLine().getOut().printf("peer %s at %s%s%n", name, address, bandwidth == 0 ? "" : ", at most " + bandwidth + " bytes/s");
                return 0;
            });
        }
    }

    @Command(name = "ls", description = "List this site's name and its peers (secrets are not shown).")
    static final class Ls implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Mixin OutputFormat format;
        @Spec CommandSpec spec;

        @Override
        public Integer call() {
            return SiteScope.run(store, spec, s -> {
                MirrorConfig c = new MirrorConfig(s.configs());
                PrintWriter out = spec.commandLine().getOut();
                String self = c.site().map(MirrorConfig.Site::name).orElse("-");
                List<MirrorConfig.Peer> peers = c.peers();
                if (format.json()) {
                    out.println(OutputFormat.toJson(Map.of("site", self, "peers", peers.stream().map(p -> Map.of("name", p.name(),
                            "address", p.address(), "bandwidthBytesPerSecond", p.bandwidthBytesPerSecond())).toList())));
                    return 0;
                }
                out.printf("site %s%n", self);
                out.printf("%-16s %-24s %s%n", "PEER", "ADDRESS", "BANDWIDTH");
                peers.forEach(p -> out.printf("%-16s %-24s %s%n", p.name(), p.address(),
                        p.bandwidthBytesPerSecond() == 0 ? "-" : p.bandwidthBytesPerSecond() + " B/s"));
                return 0;
            });
        }
    }

    @Command(name = "rm", description = "Remove peer site NAME (refused while a vdisk is mirrored to it).")
    static final class Rm implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            return SiteScope.run(store, spec, s -> {
                new MirrorConfig(s.configs()).removePeer(name);
                spec.commandLine().getOut().printf("removed peer %s%n", name);
                return 0;
            });
        }
    }
}
