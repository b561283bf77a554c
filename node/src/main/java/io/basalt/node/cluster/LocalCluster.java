package io.basalt.node.cluster;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * Storage nodes as child processes of this JVM, for {@code basalt cluster up}: each runs
 * {@code basalt node} with this JVM's class path, logs to {@code node-ID.log}, and is stopped by
 * pid (SIGTERM, then SIGKILL after {@link #STOP_WAIT_SECONDS}) when this object closes.
 */
public final class LocalCluster implements AutoCloseable {
    public static final int STOP_WAIT_SECONDS = 10;

    /**
     * A started node; {@code logFrom} is where this run's output starts in {@code log}, which
     * earlier runs of the same node appended to.
     */
    public record Child(int id, Process process, Path log, long logFrom) {   // id 0: a host agent, not a node
        /** The lines this run wrote to the log so far. */
        public List<String> logLines() throws IOException {
            try (var ch = java.nio.channels.FileChannel.open(log)) {
                ch.position(Math.min(logFrom, ch.size()));
                String text = new String(java.nio.channels.Channels.newInputStream(ch).readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                return text.lines().toList();
            }
        }
    }

    /** Overrides {@link #NODE_JVM_OPTIONS} (whitespace-separated), like {@code BASALT_JAVA_OPTS} for the CLI's own JVM. */
    static final String NODE_JVM_OPTIONS_ENV = "BASALT_NODE_JAVA_OPTS";
    static final List<String> NODE_JVM_OPTIONS = List.of("-Xms1g", "-Xmx1g");
    private final List<Child> children = new ArrayList<>();

    public Child start(Path clusterFile, int id, Path dataDir) throws IOException {
        return start(clusterFile, id, dataDir, List.of());
    }

    /** As above, with more {@code basalt node} options (e.g. {@code --serve VDISK --portal HOST:PORT}). */
    public Child start(Path clusterFile, int id, Path dataDir, List<String> nodeOptions) throws IOException {
        return start(clusterFile, id, dataDir, nodeOptions, UnaryOperator.identity());
    }

    /**
     * As above, the command line passed through {@code wrap} first: {@code basalt chaos run} starts
     * each node in a cgroup of its own this way ({@link CgroupNetwork.Group#wrap}), for partitions.
     */
    public Child start(Path clusterFile, int id, Path dataDir, List<String> nodeOptions, UnaryOperator<List<String>> wrap) throws IOException {
        Files.createDirectories(dataDir);
        Path log = dataDir.getParent().resolve("node-" + id + ".log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"));
        command.addAll(nodeJvmOptions());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.basalt.node.Main",
                "node", "--config", clusterFile.toString(), "--id", Integer.toString(id), "--data", dataDir.toString()));
        command.addAll(nodeOptions);
        ProcessBuilder pb = new ProcessBuilder(wrap.apply(command));
        pb.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        long logFrom = Files.exists(log) ? Files.size(log) : 0;
        Child child = new Child(id, pb.start(), log, logFrom);
        children.add(child);
        return child;
    }

    /**
     * Starts a host agent, {@code basalt host run --cluster FILE --name NAME --run-dir DIR}, logging to
     * {@code host-NAME.log} beside {@code runDir}; it is stopped with the nodes (its guests with it).
     */
    public Child startHost(Path clusterFile, String name, Path runDir) throws IOException {
        Files.createDirectories(runDir);
        Path log = runDir.toAbsolutePath().getParent().resolve(name + ".log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                "-Xmx512m", "-cp", System.getProperty("java.class.path"), "io.basalt.node.Main",
                "host", "run", "--cluster", clusterFile.toString(), "--name", name, "--run-dir", runDir.toString()));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        long logFrom = Files.exists(log) ? Files.size(log) : 0;
        Child child = new Child(0, pb.start(), log, logFrom);
        children.add(child);
        return child;
    }

    /** Heap and GC options of each node JVM: {@value #NODE_JVM_OPTIONS_ENV} when set, else {@link #NODE_JVM_OPTIONS}. */
    static List<String> nodeJvmOptions() {
        String env = System.getenv(NODE_JVM_OPTIONS_ENV);
        return env == null || env.isBlank() ? NODE_JVM_OPTIONS : List.of(env.trim().split("\\s+"));
    }

    public List<Child> children() {
        return List.copyOf(children);
    }

    /** The first child that exited, if any. */
    public java.util.Optional<Child> dead() {
        return children.stream().filter(c -> !c.process().isAlive()).findFirst();
    }

    @Override
    public void close() {
        for (Child c : children) {
            c.process().destroy(); // SIGTERM: the node closes its Raft server
        }
        for (Child c : children) {
            try {
                if (!c.process().waitFor(STOP_WAIT_SECONDS, TimeUnit.SECONDS)) {
                    c.process().destroyForcibly();
                    c.process().waitFor(STOP_WAIT_SECONDS, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                c.process().destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }
}
