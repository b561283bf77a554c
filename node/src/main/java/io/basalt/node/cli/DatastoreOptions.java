package io.basalt.node.cli;

import java.nio.file.Path;

import picocli.CommandLine.Option;

/**
 * {@code --data DIR} (the embedded store) or {@code --cluster FILE|DIR} (a cluster): what
 * {@code basalt vdisk} and {@code basalt snap} work on. Environment: BASALT_DATA, BASALT_CLUSTER
 * (the option wins; with neither, ./data).
 */
public final class DatastoreOptions {
    @Option(names = "--data", paramLabel = "DIR", description = "Embedded store directory (default: ./data; env BASALT_DATA).")
    Path data;

    @Option(names = "--cluster", paramLabel = "FILE|DIR",
            description = "Work on a cluster instead: its cluster file, or a `basalt cluster up` directory (env BASALT_CLUSTER).")
    Path cluster;

    Datastore open() {
        Choice c = choice();
        return c.cluster() ? Datastore.cluster(c.path()) : Datastore.local(c.path());
    }

    /**
     * Where configuration kept beside the datastore lives (targets.json): the store directory,
     * or the directory of the cluster file (configuration of the gateway on this host).
     */
    Path configDir() {
        Choice c = choice();
        if (!c.cluster()) {
            return c.path();
        }
        Path file = Datastore.clusterFile(c.path());
        Path parent = file.toAbsolutePath().getParent();
        return parent == null ? Path.of(".") : parent;
    }

    private record Choice(boolean cluster, Path path) {}

    private Choice choice() {
        if (data != null && cluster != null) {
            throw new IllegalArgumentException("--data " + data + " and --cluster " + cluster + " (expected: one of them)");
        }
        if (cluster != null) {
            return new Choice(true, cluster);
        }
        if (data != null) {
            return new Choice(false, data);
        }
        String envCluster = System.getenv("BASALT_CLUSTER");
        if (envCluster != null && !envCluster.isBlank()) {
            return new Choice(true, Path.of(envCluster));
        }
        String envData = System.getenv("BASALT_DATA");
        return new Choice(false, Path.of(envData != null && !envData.isBlank() ? envData : "./data"));
    }
}
