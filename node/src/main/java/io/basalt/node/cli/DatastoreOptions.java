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
        if (data != null && cluster != null) {
            throw new IllegalArgumentException("--data " + data + " and --cluster " + cluster + " (expected: one of them)");
        }
        if (cluster != null) {
            return Datastore.cluster(cluster);
        }
        if (data != null) {
            return Datastore.local(data);
        }
        String envCluster = System.getenv("BASALT_CLUSTER");
        if (envCluster != null && !envCluster.isBlank()) {
            return Datastore.cluster(Path.of(envCluster));
        }
        String envData = System.getenv("BASALT_DATA");
        return Datastore.local(Path.of(envData != null && !envData.isBlank() ? envData : "./data"));
    }
}
