package io.basalt.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code basalt cluster up} as its own process for a test: started on free loopback ports, its
 * output followed for each node's pid and the {@code iscsi://} URL it serves; nodes killed and
 * restarted as an operator would; every process it started (and every node pid it printed)
 * stopped by {@link #close}, also when the test fails.
 */
final class ClusterUp implements AutoCloseable {
    static final long STARTUP_SECONDS = 180;
    private static final Pattern NODE = Pattern.compile("^node (\\d+) pid (\\d+) ");
    private static final Pattern SERVING = Pattern.compile("^serving \\S+: (iscsi://\\S+)");
    private static final Pattern HOST = Pattern.compile("^host (\\S+) pid (\\d+) ");

    private final Path dir;
    /** Set in the environment of every process this starts (the nodes inherit it from {@code cluster up}). */
    private final Map<String, String> env;
    private final List<Process> started = new ArrayList<>();
    private final Map<Integer, Long> nodePids = new ConcurrentHashMap<>();
    /** Host agents {@code cluster up --hosts N} started, by name. */
    private final Map<String, Long> hostPids = new ConcurrentHashMap<>();
    private volatile String url;

    private ClusterUp(Path dir, Map<String, String> env) {
        this.dir = dir;
        this.env = Map.copyOf(env);
    }

    /** Starts {@code basalt cluster up --nodes 3 --pgs 3 EXTRA} with a vdisk of {@code size}; returns once it serves. */
    static ClusterUp start(Path dir, String size, String... extra) throws Exception {
        return start(dir, Map.of(), size, extra);
    }

    /**
     * As {@link #start(Path, String, String...)}, with {@code env} added to the environment of
     * {@code cluster up} and so of its nodes (e.g. {@value LocalCluster#NODE_JVM_OPTIONS_ENV}).
     */
    static ClusterUp start(Path dir, Map<String, String> env, String size, String... extra) throws Exception {
        ClusterUp c = new ClusterUp(dir, env);
        try {
            List<String> args = new ArrayList<>(List.of("cluster", "up", "--nodes", "3", "--pgs", "3", "--data", dir.toString(), "--base-port",
                    Integer.toString(io.basalt.cluster.LoopbackPorts.freeBase(3)), "--portal", "127.0.0.1:0", "--size", size));
            args.addAll(List.of(extra));
            Process up = c.basalt(args.toArray(String[]::new));
            Thread.ofPlatform().daemon().start(() -> c.follow(up));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(STARTUP_SECONDS);
            while (c.url == null && System.nanoTime() < deadline && up.isAlive()) {
                Thread.sleep(200);
            }
            assertNotNull(c.url, () -> up.isAlive() ? "cluster up did not print its iscsi:// URL within " + STARTUP_SECONDS + " s"
                    : "cluster up exited with " + up.exitValue() + " before printing its iscsi:// URL (its output is above, prefixed [cluster up])");
            assertEquals(3, c.nodePids.size(), "node pids printed: " + c.nodePids);
            return c;
        } catch (Exception | Error e) {
            c.close();
            throw e;
        }
    }

    String url() {
        return url;
    }

    /** The host agents' pids by name, as {@code cluster up --hosts N} printed them. */
    Map<String, Long> hostPids() {
        return Map.copyOf(hostPids);
    }

    Path dir() {
        return dir;
    }

    /** SIGKILL of node {@code id}'s process. */
    void kill(int id) {
        ProcessHandle.of(nodePids.get(id)).ifPresent(ProcessHandle::destroyForcibly);
    }

    /**
     * Starts node {@code id} again on its data, as an operator would after a kill, with more
     * {@code basalt node} options (e.g. {@code --serve VDISK --portal HOST:PORT}); a later
     * {@link #kill} stops this process.
     */
    void restart(int id, String... extraOptions) throws IOException {
        List<String> args = new ArrayList<>(List.of("node", "--config", dir.resolve("cluster.json").toString(), "--id", Integer.toString(id),
                "--data", dir.resolve("node-" + id).toString()));
        args.addAll(List.of(extraOptions));
        Process p = basalt(args.toArray(String[]::new));
        nodePids.put(id, p.pid());
    }

    /** SIGKILL of node {@code id}'s process, returning once it has exited. */
    void killAndWait(int id) throws Exception {
        java.util.Optional<ProcessHandle> h = ProcessHandle.of(nodePids.get(id));
        if (h.isPresent()) {
            h.get().destroyForcibly();
            h.get().onExit().get(30, TimeUnit.SECONDS);
        }
    }

    /** {@code basalt ARGS}, stopped by {@link #close}; its output goes to a log file unless it is {@code cluster ...}. */
    Process basalt(String... args) throws IOException {
        ProcessBuilder pb = io.basalt.node.TestProcesses.basalt(args);
        pb.environment().putAll(env);
        if (!args[0].equals("cluster")) {
            pb.redirectOutput(dir.resolve(args[0] + "-" + System.nanoTime() + ".log").toFile());
        }
        Process p = pb.start();
        started.add(p);
        return p;
    }

    /** Keeps {@code p} to be stopped by {@link #close}. */
    <T extends Process> T track(T p) {
        started.add(p);
        return p;
    }

    private void follow(Process up) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(up.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                System.out.println("[cluster up] " + line);
                Matcher n = NODE.matcher(line);
                if (n.find()) {
                    nodePids.put(Integer.parseInt(n.group(1)), Long.parseLong(n.group(2)));
                }
                Matcher h = HOST.matcher(line);
                if (h.find()) {
                    hostPids.put(h.group(1), Long.parseLong(h.group(2)));
                }
                Matcher s = SERVING.matcher(line);
                if (s.find()) {
                    url = s.group(1);
                }
            }
        } catch (IOException e) {
            // the process ended
        }
    }

    /** qemu-io on the served LUN with one {@code command}, output and errors together. */
    static ProcessBuilder qemuIo(String url, String command) {
        return new ProcessBuilder("qemu-io", "-f", "raw", "-c", command, url).redirectErrorStream(true);
    }

    /** Runs qemu-io {@code command} to the end and asserts its output holds {@code expected} and no pattern mismatch. */
    static void assertQemuIo(String url, String command, String expected, long timeoutSeconds) throws Exception {
        Process p = qemuIo(url, command).start();
        try {
            assertTrue(p.waitFor(timeoutSeconds, TimeUnit.SECONDS), "qemu-io " + command + " did not finish");
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(out.contains(expected) && !out.contains("Pattern verification failed"), "qemu-io " + command + ": " + out);
        } finally {
            p.destroyForcibly();
        }
    }

    @Override
    public void close() throws InterruptedException {
        for (Process p : started.reversed()) {
            p.destroy();
        }
        for (Process p : started) {
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
        for (long pid : nodePids.values()) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
        for (long pid : hostPids.values()) {
            ProcessHandle.of(pid).ifPresent(h -> {
                h.descendants().forEach(ProcessHandle::destroyForcibly);
                h.destroyForcibly();
            });
        }
    }
}
