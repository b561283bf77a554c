package io.basalt.node.cluster;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import io.basalt.cluster.ClusterConfig;

/**
 * The cluster description every node and client reads: {@code cluster.json}.
 *
 * <pre>
 * {"name": "basalt", "pgCount": 8, "replicas": 3, "metaVoters": 3,
 *  "nodes": [{"id": 1, "host": "127.0.0.1", "port": 7101}, ...],
 *  "ioTimeoutMs": 30000, "tls": true}
 * </pre>
 *
 * <p>{@code tls} (optional, default false): the cluster's gRPC port speaks mutual TLS with the
 * certificates in {@code tls/} beside this file ({@link ClusterCa}), and each node's management
 * API is HTTPS. Clusters made before TLS lack it and stay plaintext (docs/security.md).
 *
 * <p>{@code ioTimeoutMs} (optional, default 30000): how long a client (an iSCSI gateway) holds
 * an I/O a group cannot answer — no quorum, no reachable leader — before failing it (iSCSI:
 * status BUSY, which initiators retry; docs/decisions/busy-for-transient-failures.md). Keep it below the initiators'
 * own command timeout (Linux: {@code /sys/block/sdX/device/timeout}, 30 s by default).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ClusterFile(String name, int pgCount, int replicas, int metaVoters, List<Node> nodes, Long ioTimeoutMs, Boolean tls) {

    @JsonCreator
    public ClusterFile {
        if (nodes == null) {
            throw new IllegalArgumentException("nodes: missing (expected: a list of {\"id\", \"host\", \"port\"})");
        }
        nodes = List.copyOf(nodes);
    }

    /** With the default I/O timeout, plaintext. */
    public ClusterFile(String name, int pgCount, int replicas, int metaVoters, List<Node> nodes) {
        this(name, pgCount, replicas, metaVoters, nodes, null, null);
    }

    /** True when the cluster speaks TLS (its certificates in {@link ClusterCa#dirOf} of this file). */
    public boolean hasTls() {
        return Boolean.TRUE.equals(tls);
    }

    /**
     * The config of a client of this cluster, whose file is {@code file}: with TLS, as the
     * cluster's client certificate. Missing TLS files are refused, naming the file.
     */
    public ClusterConfig clientConfig(Path file) {
        return withIdentity(file, ClusterCa.CLIENT);
    }

    /** The config of node {@code id} of this cluster, whose file is {@code file}: with TLS, as the node's certificate. */
    public ClusterConfig nodeConfig(Path file, int id) {
        return withIdentity(file, ClusterCa.nodeName(id));
    }

    private ClusterConfig withIdentity(Path file, String name) {
        ClusterConfig plain = toConfig();
        return hasTls() ? plain.withTls(io.basalt.cluster.tls.TlsIdentity.in(ClusterCa.dirOf(file), name).load()) : plain;
    }

    /** This file with TLS on (its certificates made by {@link ClusterCa#create}). */
    public ClusterFile withTls() {
        return new ClusterFile(name, pgCount, replicas, metaVoters, nodes, ioTimeoutMs, true);
    }

    public record Node(int id, String host, int port) {}

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public ClusterConfig toConfig() {
        List<ClusterConfig.NodeAddress> addresses = nodes.stream().map(n -> new ClusterConfig.NodeAddress(n.id(), n.host(), n.port())).toList();
        ClusterConfig.Tuning tuning = ClusterConfig.Tuning.defaults();
        if (ioTimeoutMs != null) {
            if (ioTimeoutMs <= tuning.requestTimeout().toMillis()) {
                throw new IllegalArgumentException("ioTimeoutMs: " + ioTimeoutMs + " (expected: > " + tuning.requestTimeout().toMillis()
                        + ", the timeout of one request to a node)");
            }
            tuning = tuning.withTimeouts(tuning.requestTimeout(), java.time.Duration.ofMillis(ioTimeoutMs));
        }
        return new ClusterConfig(name, addresses, pgCount, replicas, metaVoters, ClusterConfig.STRIPE_GRAINS_DEFAULT, tuning);
    }

    /** A local cluster of {@code count} nodes on loopback ports {@code basePort + id}. */
    public static ClusterFile local(String name, int count, int basePort, int pgCount, int replicas) {
        List<Node> nodes = java.util.stream.IntStream.rangeClosed(1, count).mapToObj(i -> new Node(i, "127.0.0.1", basePort + i)).toList();
        return new ClusterFile(name, pgCount, replicas, Math.min(count, count >= 5 ? 5 : 3), nodes);
    }

    /** This file with node {@code n} in the address book (replacing an entry of the same id). */
    public ClusterFile withNode(Node n) {
        List<Node> out = new java.util.ArrayList<>(nodes.stream().filter(x -> x.id() != n.id()).toList());
        out.add(n);
        out.sort(java.util.Comparator.comparingInt(Node::id));
        return new ClusterFile(name, pgCount, replicas, metaVoters, out, ioTimeoutMs, tls);
    }

    /** This file with another I/O timeout (null: the default). */
    public ClusterFile withIoTimeoutMs(Long ms) {
        return new ClusterFile(name, pgCount, replicas, metaVoters, nodes, ms, tls);
    }

    /** This file without node {@code id}: after a membership change moved every replica off it. */
    public ClusterFile withoutNode(int id) {
        List<Node> out = nodes.stream().filter(x -> x.id() != id).toList();
        return new ClusterFile(name, pgCount, Math.min(replicas, out.size()), Math.min(metaVoters, out.size()), out, ioTimeoutMs, tls);
    }

    public static ClusterFile read(Path file) throws IOException {
        try {
            ClusterFile f = JSON.readValue(file.toFile(), ClusterFile.class);
            f.toConfig(); // validates, naming the bad value
            return f;
        } catch (IOException e) {
            throw new IOException("cannot read cluster file " + file + ": " + e.getMessage(), e);
        }
    }

    /** Writes atomically (temp file, then rename): a reader sees the old or the new book, never half. */
    public void write(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = dir.resolve(file.getFileName() + ".tmp");
        Files.write(tmp, JSON.writeValueAsBytes(this));
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }
}
