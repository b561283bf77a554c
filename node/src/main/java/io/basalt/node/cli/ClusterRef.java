package io.basalt.node.cli;

import java.nio.file.Path;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Option;

/**
 * Which cluster a command talks to: {@code --config FILE} (the cluster file, as for
 * {@code basalt node}) or {@code --data DIR} (the directory of {@code basalt cluster up}, holding
 * {@code cluster.json}). Default: {@code ./data/cluster/cluster.json}.
 */
public final class ClusterRef {
    static final Path DATA_DEFAULT = Path.of("./data/cluster");

    static final class Choice {
        @Option(names = "--config", paramLabel = "FILE", description = "The cluster file (cluster.json).") Path config;
        @Option(names = "--data", paramLabel = "DIR", description = "A `cluster up` directory holding cluster.json (default: ./data/cluster).") Path data;
    }

    @ArgGroup(exclusive = true, multiplicity = "0..1") Choice choice;

    Path file() {
        if (choice != null && choice.config != null) {
            return choice.config;
        }
        return (choice != null && choice.data != null ? choice.data : DATA_DEFAULT).resolve("cluster.json");
    }
}
