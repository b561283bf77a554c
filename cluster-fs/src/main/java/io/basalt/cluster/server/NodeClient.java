package io.basalt.cluster.server;

import java.util.function.Supplier;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.client.ClusterClient;

/**
 * The one cluster client a node's own background tasks share (the lease monitor, the space
 * reporter): opened at its first use, closed by the node after the tasks have stopped.
 */
final class NodeClient implements Supplier<ClusterClient>, AutoCloseable {
    private final ClusterConfig config;
    private ClusterClient client;
    private boolean closed;

    NodeClient(ClusterConfig config) {
        this.config = config;
    }

    @Override
    public synchronized ClusterClient get() {
        if (closed) {
            throw new IllegalStateException("the node's client of cluster " + config.name() + " is closed");
        }
        if (client == null) {
            client = ClusterClient.open(config);
        }
        return client;
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (client != null) {
            client.close();
            client = null;
        }
    }
}
