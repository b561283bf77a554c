package io.basalt.cluster;

import java.time.Duration;
import java.util.List;

/**
 * What every node and client of one cluster must agree on: the nodes and their addresses, the
 * number of placement groups, the replica count, and the stripe that placement hashes.
 * Changing any of these on a running cluster re-places data, which is not supported yet
 * (membership changes move PG replicas, not grains).
 *
 * @param nodes          every node known to the cluster, ids unique and >= 1. At bootstrap the
 *                       nodes are 1..n and {@link Placement} places PG replicas on them; after a
 *                       membership change (docs/decisions/cluster-membership.md) the list is the address
 *                       book (ids may have gaps) and each group's Ratis configuration says
 *                       which nodes hold it.
 * @param pgCount        placement groups; fixed for the life of the cluster
 * @param replicaCount   replicas per PG (1 in single-node mode, 3 by default)
 * @param metaVoterCount voters of the meta group: the first nodes, at most 5
 * @param stripeGrains   consecutive grains of a vdisk kept in one PG
 * @param tlsIdentity    null: the cluster's gRPC port is plaintext; else who this process is on
 *                       it (mutual TLS with the cluster CA: docs/security.md)
 */
public record ClusterConfig(String name, List<NodeAddress> nodes, int pgCount, int replicaCount, int metaVoterCount,
                            int stripeGrains, Tuning tuning, io.basalt.cluster.tls.TlsIdentity tlsIdentity) {
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
     *                              writes, reads); what is queued meanwhile leaves as one entry.
     *                              Default 1: an entry's cost is mostly per entry, not per op, so
     *                              fewer, fuller entries win (docs/decisions/cluster-write-path.md)
     */
    public record Tuning(Duration electionTimeoutMin, Duration requestTimeout, Duration ioTimeout,
                         long snapshotEveryEntries, long logSegmentSizeBytes, int pgInflightEntriesMax) {
        public static final int PG_INFLIGHT_ENTRIES_DEFAULT = 1;

        public static Tuning defaults() {
            return new Tuning(Duration.ofMillis(1000), Duration.ofSeconds(3), Duration.ofSeconds(30), 100_000, 16L << 20,
                    PG_INFLIGHT_ENTRIES_DEFAULT);
        }

        /** The same with another per-RPC timeout and whole-operation I/O timeout. */
        public Tuning withTimeouts(Duration request, Duration io) {
            return new Tuning(electionTimeoutMin, request, io, snapshotEveryEntries, logSegmentSizeBytes, pgInflightEntriesMax);
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

    /** A plaintext cluster. */
    public ClusterConfig(String name, List<NodeAddress> nodes, int pgCount, int replicaCount, int metaVoterCount, int stripeGrains, Tuning tuning) {
        this(name, nodes, pgCount, replicaCount, metaVoterCount, stripeGrains, tuning, null);
    }

    public ClusterConfig {
        nodes = List.copyOf(nodes);
        if (nodes.isEmpty()) {
            throw new IllegalArgumentException("nodes: none (expected: at least 1)");
        }
        java.util.Set<Integer> ids = new java.util.HashSet<>();
        for (NodeAddress a : nodes) {
            if (!ids.add(a.id())) {
                throw new IllegalArgumentException("node id: " + a.id() + " appears twice (expected: unique ids)");
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
        return new ClusterConfig(name, nodes, pgCount, replicas, metaVoterCount, stripeGrains, tuning, tlsIdentity);
    }

    public ClusterConfig withTuning(Tuning t) {
        return new ClusterConfig(name, nodes, pgCount, replicaCount, metaVoterCount, stripeGrains, t, tlsIdentity);
    }

    /** This config speaking mutual TLS as {@code identity} (null: plaintext). */
    public ClusterConfig withTls(io.basalt.cluster.tls.TlsIdentity identity) {
        return new ClusterConfig(name, nodes, pgCount, replicaCount, metaVoterCount, stripeGrains, tuning, identity);
    }

    /** Who this process is on the cluster's TLS; empty for a plaintext cluster. */
    public java.util.Optional<io.basalt.cluster.tls.TlsIdentity> tls() {
        return java.util.Optional.ofNullable(tlsIdentity);
    }

    /**
     * Reads a cluster from properties (the format {@link #toProperties} writes), e.g.
     * <pre>
     * cluster.name=basalt
     * cluster.nodes=1@127.0.0.1:9871,2@127.0.0.1:9872,3@127.0.0.1:9873
     * cluster.pg.count=16
     * cluster.replicas=3          (default: min(3, nodes))
     * cluster.meta.voters=3       (default: min(3, nodes))
     * cluster.stripe.grains=256   (default)
     * </pre>
     * Every error names the key and the bad value.
     */
    public static ClusterConfig fromProperties(java.util.Properties p) {
        String name = required(p, "cluster.name");
        List<NodeAddress> nodes = new java.util.ArrayList<>();
        for (String item : required(p, "cluster.nodes").split(",")) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\s*(\\d+)@([^:\\s]+):(\\d+)\\s*").matcher(item);
            if (!m.matches()) {
                throw new IllegalArgumentException("cluster.nodes item: '" + item + "' (expected: ID@HOST:PORT)");
            }
            nodes.add(new NodeAddress(Integer.parseInt(m.group(1)), m.group(2), Integer.parseInt(m.group(3))));
        }
        int n = nodes.size();
        Tuning t = Tuning.defaults();
        return new ClusterConfig(name, nodes, intProp(p, "cluster.pg.count", null), intProp(p, "cluster.replicas", Math.min(3, n)),
                intProp(p, "cluster.meta.voters", Math.min(3, n)), intProp(p, "cluster.stripe.grains", STRIPE_GRAINS_DEFAULT), t);
    }

    /** The properties {@link #fromProperties} reads back to an equal config (tuning aside). */
    public java.util.Properties toProperties() {
        java.util.Properties p = new java.util.Properties();
        p.setProperty("cluster.name", name);
        p.setProperty("cluster.nodes", String.join(",", nodes.stream().map(a -> a.id() + "@" + a.address()).toList()));
        p.setProperty("cluster.pg.count", Integer.toString(pgCount));
        p.setProperty("cluster.replicas", Integer.toString(replicaCount));
        p.setProperty("cluster.meta.voters", Integer.toString(metaVoterCount));
        p.setProperty("cluster.stripe.grains", Integer.toString(stripeGrains));
        return p;
    }

    private static String required(java.util.Properties p, String key) {
        String v = p.getProperty(key);
        if (v == null || v.isBlank()) {
            throw new IllegalArgumentException(key + ": missing (expected: a value)");
        }
        return v.trim();
    }

    private static int intProp(java.util.Properties p, String key, Integer dflt) {
        String v = p.getProperty(key);
        if (v == null && dflt != null) {
            return dflt;
        }
        String s = v == null ? required(p, key) : v.trim();
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + ": '" + s + "' (expected: an integer)");
        }
    }

    public NodeAddress node(int id) {
        for (NodeAddress a : nodes) {
            if (a.id() == id) {
                return a;
            }
        }
        throw new IllegalArgumentException("node id: " + id + " (expected: one of " + nodeIds() + ")");
    }

    public boolean hasNode(int id) {
        return nodes.stream().anyMatch(a -> a.id() == id);
    }

    public List<Integer> nodeIds() {
        return nodes.stream().map(NodeAddress::id).toList();
    }

    /** This config with {@code a} added to the address book (replacing an entry of the same id). */
    public ClusterConfig withNode(NodeAddress a) {
        List<NodeAddress> out = new java.util.ArrayList<>(nodes.stream().filter(x -> x.id() != a.id()).toList());
        out.add(a);
        out.sort(java.util.Comparator.comparingInt(NodeAddress::id));
        return new ClusterConfig(name, out, pgCount, Math.min(replicaCount, out.size()), Math.min(metaVoterCount, out.size()),
                stripeGrains, tuning, tlsIdentity);
    }

    /** This config without node {@code id} in the address book. */
    public ClusterConfig withoutNode(int id) {
        node(id);
        List<NodeAddress> out = nodes.stream().filter(x -> x.id() != id).toList();
        return new ClusterConfig(name, out, pgCount, Math.min(replicaCount, out.size()), Math.min(metaVoterCount, out.size()),
                stripeGrains, tuning, tlsIdentity);
    }
}
