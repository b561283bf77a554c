package io.basalt.node.cli;

import java.util.Optional;
import java.util.function.Function;

import io.basalt.node.config.Configs;
import io.basalt.node.datastore.Datastore;
import io.basalt.node.mirror.MirrorService;
import io.basalt.replication.MirrorStore;
import picocli.CommandLine.Model.CommandSpec;

/**
 * What a {@code site}, {@code mirror} or {@code dr} command works on: inside a serving process,
 * its store and mirror service; with a serving process running on the store or the cluster (its
 * control file in the store's directory, or in the cluster file's), that process (the command is
 * sent there, {@link ControlServer}); else the embedded store or the cluster, opened here.
 */
record SiteScope(MirrorStore store, Configs configs, Optional<MirrorService> mirror) {

    /** The serving process's mirror service; refused, saying how to start one, when there is none. */
    MirrorService service(String what) {
        return mirror.orElseThrow(() -> new IllegalArgumentException(what + ": no mirror link runs on this store (expected: basalt serve"
                + " --mirror-port PORT running on it; the link to the peer site is needed)"));
    }

    static int run(DatastoreOptions options, CommandSpec spec, Function<SiteScope, Integer> body) {
        Optional<ControlServer.Serving> serving = ControlServer.current();
        if (serving.isPresent()) {
            ControlServer.Serving s = serving.get();
            return body.apply(new SiteScope(s.store(), s.configs(), s.mirror()));
        }
        var dir = options.configDir();
        var root = spec.root().commandLine();
        Optional<Integer> forwarded = ControlServer.forward(dir, root.getParseResult().originalArgs(), spec.commandLine().getOut(),
                spec.commandLine().getErr());
        if (forwarded.isPresent()) {
            return forwarded.get();
        }
        try (Datastore d = options.open()) {
            MirrorStore store = switch (d) {
                case Datastore.Local local -> MirrorStore.of(local.store());
                case Datastore.Cluster cluster -> io.basalt.node.host.ConsistentSnapshots.mirrorSite(cluster);
                default -> throw new IllegalArgumentException(spec.qualifiedName() + ": through --api (expected: --data DIR or --cluster FILE|DIR)");
            };
            return body.apply(new SiteScope(store, d.configs(), Optional.empty()));
        }
    }
}
