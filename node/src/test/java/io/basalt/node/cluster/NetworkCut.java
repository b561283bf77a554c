package io.basalt.node.cluster;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Cuts one process off the network, as a partition would (not a pause: the process runs on and
 * keeps its connections): the process starts in a cgroup v2 of its own ({@link #wrap}), and
 * {@link #cut} adds {@code iptables -A OUTPUT -m cgroup --path /NAME -j DROP}, which drops every
 * packet its sockets send, loopback included; what the nodes send it still arrives, but nothing
 * is acknowledged, so TCP holds and retransmits its unsent and unacknowledged data until
 * {@link #heal} deletes the rule. {@link #close} heals and removes the cgroup, also after a
 * failure.
 *
 * <p>The process must be in the cgroup before it opens a socket (a socket keeps the cgroup it
 * was created in), so {@link #wrap} moves the shell into it before it execs the command.
 * Needs root, {@code iptables} with the cgroup match, and a cgroup v2 hierarchy
 * ({@link #missing} names what is not there).
 */
final class NetworkCut implements AutoCloseable {
    private static final AtomicInteger COUNT = new AtomicInteger();

    private final Path cgroupRoot;
    private final String name;
    private boolean cut;

    private NetworkCut(Path cgroupRoot, String name) {
        this.cgroupRoot = cgroupRoot;
        this.name = name;
    }

    /** What this machine lacks for a cut (the test is skipped, naming it), or empty. */
    static Optional<String> missing() {
        if (io.basalt.node.TestProcesses.which("iptables") == null && !Files.isExecutable(Path.of("/usr/sbin/iptables"))) {
            return Optional.of("iptables (scripts/install-test-deps.sh installs it)");
        }
        if (cgroup2Root().isEmpty()) {
            return Optional.of("a cgroup v2 hierarchy (no cgroup2 mount in /proc/mounts)");
        }
        try {
            if (run(List.of(iptables(), "-S", "OUTPUT"), ProcessBuilder.Redirect.DISCARD) != 0 || !Files.isWritable(cgroup2Root().get())) {
                return Optional.of("root (iptables and cgroup2 need it)");
            }
        } catch (IOException e) {
            return Optional.of("a working iptables: " + e.getMessage());
        }
        return Optional.empty();
    }

    /** A new, empty cgroup {@code basalt-zombie-PID-N} under the cgroup v2 root. */
    static NetworkCut create() throws IOException {
        Path root = cgroup2Root().orElseThrow(() -> new IllegalStateException("no cgroup2 mount in /proc/mounts"));
        String name = "basalt-zombie-" + ProcessHandle.current().pid() + "-" + COUNT.incrementAndGet();
        Files.createDirectory(root.resolve(name));
        return new NetworkCut(root, name);
    }

    /** {@code command} run from a shell that first moves itself into this cgroup (exec keeps the pid). */
    List<String> wrap(List<String> command) {
        List<String> out = new ArrayList<>(List.of("sh", "-c", "echo $$ > " + cgroupRoot.resolve(name).resolve("cgroup.procs") + " && exec \"$@\"", "sh"));
        out.addAll(command);
        return out;
    }

    /** Drops everything the cgroup's sockets send from now on. */
    synchronized void cut() throws IOException {
        if (cut) {
            throw new IllegalStateException(name + " is cut already");
        }
        check(run(rule("-A"), ProcessBuilder.Redirect.INHERIT), "iptables -A");
        cut = true;
    }

    /** Lets the cgroup's packets through again (a no-op when not cut). */
    synchronized void heal() throws IOException {
        if (cut) {
            check(run(rule("-D"), ProcessBuilder.Redirect.INHERIT), "iptables -D");
            cut = false;
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        try {
            heal();
        } finally {
            // The cgroup goes once its processes have exited (the caller stops them first).
            Path dir = cgroupRoot.resolve(name);
            for (int attempt = 0; Files.exists(dir); attempt++) {
                try {
                    Files.delete(dir);
                } catch (IOException e) {
                    if (attempt >= 50) {
                        throw new IOException("cgroup " + dir + " still has processes: " + Files.readString(dir.resolve("cgroup.procs")), e);
                    }
                    Thread.sleep(100);
                }
            }
        }
    }

    private List<String> rule(String op) {
        return List.of(iptables(), op, "OUTPUT", "-m", "cgroup", "--path", "/" + name, "-j", "DROP");
    }

    private void check(int exit, String what) {
        if (exit != 0) {
            throw new IllegalStateException(what + " for cgroup /" + name + " exited with " + exit + " (the output is above)");
        }
    }

    /** The cgroup v2 mount point, from /proc/mounts (e.g. /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host). */
    static Optional<Path> cgroup2Root() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/mounts"), StandardCharsets.UTF_8)) {
                String[] f = line.split(" ");
                if (f.length > 2 && f[2].equals("cgroup2")) {
                    return Optional.of(Path.of(f[1]));
                }
            }
        } catch (IOException e) {
            return Optional.empty(); // not Linux
        }
        return Optional.empty();
    }

    private static String iptables() {
        String onPath = io.basalt.node.TestProcesses.which("iptables");
        return onPath != null ? onPath : "/usr/sbin/iptables";
    }

    /** Runs {@code command} to its end (errors go to this process's stderr); returns its exit code. */
    private static int run(List<String> command, ProcessBuilder.Redirect output) throws IOException {
        Process p = new ProcessBuilder(command).redirectOutput(output).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(command + " did not finish within 30 s");
            }
            return p.exitValue();
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException(command + " interrupted", e);
        }
    }
}
