package io.basalt.cluster.meta;

/**
 * A storage node in the meta group's registry: where to reach node {@code id}. The cluster file
 * names the nodes a cluster started with; nodes added or replaced later are registered here,
 * so a client whose cluster file predates them still finds the groups they hold.
 */
public record NodeRecord(int id, String host, int port) {
    /** Why these values cannot be a node, or null when they can. */
    static String check(int id, String host, int port) {
        if (id <= 0) {
            return "node id: " + id + " (expected: > 0)";
        }
        if (host == null || host.isBlank() || host.length() > 255) {
            return "node " + id + " host: '" + host + "' (expected: a host name or address)";
        }
        if (port <= 0 || port > 65535) {
            return "node " + id + " port: " + port + " (expected: 1..65535)";
        }
        return null;
    }
}
