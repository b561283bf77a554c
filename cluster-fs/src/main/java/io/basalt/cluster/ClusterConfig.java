package io.basalt.cluster;

import java.time.Duration;
import java.util.List;

/**
 * What every node and client of one cluster must agree on: the nodes and their addresses, the
 * number of placement groups, the replica count, and the stripe that placement hashes.
 * Changing any of these on a running cluster re-places data, which is not supported yet
 * (membership changes move PG replicas, not grains).
 *
 * @param nodes          node ids are 1..n in this list's order
 * @param pgCount        placement groups; fixed for the life of the cluster
 * @param replicaCount   replicas per PG (1 in single-node mode, 3 by default)
 * @param metaVoterCount voters of the meta group: the first nodes, at most 5
 * @param stripeGrains   consecutive grains of a vdisk kept in one PG
 */
public record ClusterConfig(String name, List<NodeAddress> nodes, int pgCount, int replicaCount, int metaVoterCount,
                            int stripeGrains, Tuning tuning) {
    public static final int PG_COUNT_MAX = 1024;
    public static final int STRIPE_GRAINS_DEFAULT = 256;

    /** A node's id and gRPC address (one port serves Raft, clients and admin). */
    public record NodeAddress(int id, String host, int port) {
        public NodeAddress {
            if (id < 1) {
                throw new IllegalArgumentException("node id: " + id + " (expected: >= 1)");
            }
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("port: " + port + " (expected: 1..65535) node=" + id);
            }
        }

        public String address() {
            return host + ":" + port;
        }
    }

    /**
     * Timeouts and limits shared by servers and clients.
     *
     * @param electionTimeoutMin    Raft election timeout, low end (the high end is twice this)
     * @param requestTimeout        one client RPC attempt
     * @param ioTimeout             a whole BlockDevice operation, retries included: after it the
     *                              operation fails with "no quorum"
     * @param snapshotEveryEntries  a PG or meta snapshot (RocksDB checkpoint) after this many entries
     * @param logSegmentSizeBytes   Raft log segment size; the log is purged by whole segments
     * @param pgInflightEntriesMax  Raft entries a client keeps in flight per PG (and per lane:
     *                              writes, reads); what is queued meanwhile leaves as one entry
     */
    public record Tuning(Duration electionTimeoutMin, Duration requestTimeout, Duration ioTimeout,
                         long snapshotEveryEntries, long logSegmentSizeBytes, int pgInflightEntriesMax) {
        public static final int PG_INFLIGHT_ENTRIES_DEFAULT = 2;

        public static Tuning defaults() {
            return new Tuning(Duration.ofMillis(1000), Duration.ofSeconds(3), Duration.ofSeconds(30), 100_000, 64L << 20,
                    PG_INFLIGHT_ENTRIES_DEFAULT);
        }

        public Tuning withPgInflightEntriesMax(int n) {
            return new Tuning(electionTimeoutMin, requestTimeout, ioTimeout, snapshotEveryEntries, logSegmentSizeBytes, n);
        }

        public Tuning {
            if (electionTimeoutMin.toMillis() < 100) {
                throw new IllegalArgumentException("electionTimeoutMin: " + electionTimeoutMin + " (expected: >= 100 ms)");
            }
            if (ioTimeout.compareTo(requestTimeout) <= 0) {
                throw new IllegalArgumentException("ioTimeout: " + ioTimeout + " (expected: > requestTimeout " + requestTimeout + ")");
            }
            if (snapshotEveryEntries < 1) {
                throw new IllegalArgumentException("snapshotEveryEntries: " + snapshotEveryEntries + " (expected: >= 1)");
            }
            if (pgInflightEntriesMax < 1 || pgInflightEntriesMax > 64) {
                throw new IllegalArgumentException("pgInflightEntriesMax: " + pgInflightEntriesMax + " (expected: 1..64)");
            }
            if (logSegmentSizeBytes < (1 << 20)) {
                throw new IllegalArgumentException("logSegmentSizeBytes: " + logSegmentSizeBytes + " (expected: >= 1 MiB)");
            }
        }
    }

    public ClusterConfig {
        nodes = List.copyOf(nodes);
        if (nodes.isEmpty()) {
            throw new IllegalArgumentException("nodes: none (expected: at least 1)");
        }
        for (int i = 0; i < nodes.size(); i++) {
            if (nodes.get(i).id() != i + 1) {
                throw new IllegalArgumentException("node id: " + nodes.get(i).id() + " at position " + i + " (expected: " + (i + 1) + ")");
            }
        }
        if (pgCount < 1 || pgCount > PG_COUNT_MAX) {
            throw new IllegalArgumentException("pgCount: " + pgCount + " (expected: 1.." + PG_COUNT_MAX + ")");
        }
        if (replicaCount < 1 || replicaCount > nodes.size()) {
            throw new IllegalArgumentException("replicaCount: " + replicaCount + " (expected: 1.." + nodes.size() + ", the node count)");
        }
        if (metaVoterCount < 1 || metaVoterCount > Math.min(5, nodes.size())) {
            throw new IllegalArgumentException("metaVoterCount: " + metaVoterCount + " (expected: 1.." + Math.min(5, nodes.size()) + ")");
        }
        if (stripeGrains < 1 || Integer.bitCount(stripeGrains) != 1) {
            throw new IllegalArgumentException("stripeGrains: " + stripeGrains + " (expected: a power of two >= 1)");
        }
    }

    /** A cluster of {@code nodes} with defaults: 3 replicas (or fewer nodes), 3 meta voters. */
    public static ClusterConfig of(String name, List<NodeAddress> nodes, int pgCount) {
        int n = nodes.size();
        return new ClusterConfig(name, nodes, pgCount, Math.min(3, n), Math.min(3, n), STRIPE_GRAINS_DEFAULT, Tuning.defaults());
    }

    public ClusterConfig withReplicaCount(int replicas) {
        return new ClusterConfig(name, nodes, pgCount, replicas, metaVoterCount, stripeGrains, tuning);
    }

    public ClusterConfig withTuning(Tuning t) {
        return new ClusterConfig(name, nodes, pgCount, replicaCount, metaVoterCount, stripeGrains, t);
    }

    public NodeAddress node(int id) {
        if (id < 1 || id > nodes.size()) {
            throw new IllegalArgumentException("node id: " + id + " (expected: 1.." + nodes.size() + ")");
        }
        return nodes.get(id - 1);
    }
}
