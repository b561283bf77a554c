package io.basalt.node.cluster;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import io.basalt.cluster.ClusterConfig;

/**
 * The cluster description every node and client reads: {@code cluster.json}.
 *
 * <pre>
 * {"name": "basalt", "pgCount": 8, "replicas": 3, "metaVoters": 3,
 *  "nodes": [{"id": 1, "host": "127.0.0.1", "port": 7101}, ...]}
 * </pre>
 */
public record ClusterFile(String name, int pgCount, int replicas, int metaVoters, List<Node> nodes) {

    public record Node(int id, String host, int port) {}

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public ClusterConfig toConfig() {
        List<ClusterConfig.NodeAddress> addresses = nodes.stream().map(n -> new ClusterConfig.NodeAddress(n.id(), n.host(), n.port())).toList();
        return new ClusterConfig(name, addresses, pgCount, replicas, metaVoters, ClusterConfig.STRIPE_GRAINS_DEFAULT,
                ClusterConfig.Tuning.defaults());
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
        return new ClusterFile(name, pgCount, replicas, metaVoters, out);
    }

    /** This file without node {@code id}: after a membership change moved every replica off it. */
    public ClusterFile withoutNode(int id) {
        List<Node> out = nodes.stream().filter(x -> x.id() != id).toList();
        return new ClusterFile(name, pgCount, Math.min(replicas, out.size()), Math.min(metaVoters, out.size()), out);
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
