package io.basalt.node.cluster;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Network faults between processes of this machine, as a partition would cause them (not a
 * pause: the processes run on and keep their connections). Each process starts in a cgroup v2 of
 * its own ({@link Group#wrap}); a {@link Rule} is an {@code iptables -I OUTPUT -m cgroup --path
 * /GROUP [-p tcp -m multiport --dports PORTS] -j DROP}, which drops the packets the group's
 * sockets send (to those ports, or all of them), loopback included. Every rule carries the
 * comment {@code basalt-chaos-PID-N} of the object that added it.
 *
 * <p>Owns its rules and cgroups: {@link #heal} deletes every rule it added, {@link #close} heals
 * and removes its cgroups (once their processes exited), and a shutdown hook heals when the JVM
 * exits without a close. {@link #sweep} removes what a JVM that died without either left behind:
 * the rules and empty cgroups whose marker names a process that no longer runs.
 *
 * <p>A process must be in its cgroup before it opens a socket (a socket keeps the cgroup it was
 * created in), so {@link Group#wrap} moves the shell into it before it execs the command. Needs
 * root, {@code iptables} with the cgroup match and a cgroup v2 hierarchy ({@link #missing} names
 * what is not there).
 */
public final class CgroupNetwork implements AutoCloseable {
    /** The comment prefix of every rule and the name prefix of every cgroup this class creates. */
    public static final String MARKER_PREFIX = "basalt-chaos-";
    private static final Pattern MARKER = Pattern.compile(Pattern.quote(MARKER_PREFIX) + "(\\d+)-(\\d+)");
    private static final AtomicInteger COUNT = new AtomicInteger();
    /** How long iptables waits for the xtables lock another iptables holds; within {@link #IPTABLES_WAIT_SECONDS}. */
    private static final String XTABLES_LOCK_WAIT_SECONDS = "10";
    private static final long IPTABLES_WAIT_SECONDS = 30;
    private static final int CGROUP_REMOVE_ATTEMPTS_MAX = 50;
    private static final long CGROUP_REMOVE_PAUSE_MS = 100;

    /** What runs {@code iptables}: the real binary, or a recorder in unit tests. */
    public interface Iptables {
        /** Runs {@code iptables ARGS}; throws naming the command when it does not exit 0. */
        void run(List<String> args) throws IOException;

        /** The rules of the OUTPUT chain as {@code iptables -S OUTPUT} prints them. */
        List<String> outputRules() throws IOException;
    }

    /** A cgroup of its own for the processes started through {@link #wrap}; {@code name} is its path under the cgroup v2 root. */
    public record Group(String name, Path dir) {
        /** {@code command} run from a shell that first moves itself into this cgroup ({@code exec} keeps the pid). */
        public List<String> wrap(List<String> command) {
            List<String> out = new ArrayList<>(List.of("sh", "-c", "echo $$ > " + dir.resolve("cgroup.procs") + " && exec \"$@\"", "sh"));
            out.addAll(command);
            return out;
        }
    }

    /** Drops the packets {@code from}'s sockets send to {@code dports} (every packet when empty). */
    public record Rule(Group from, List<Integer> dports) {
        public Rule {
            dports = List.copyOf(dports);
            if (dports.size() > 15 || dports.stream().anyMatch(p -> p < 1 || p > 65535)) {
                throw new IllegalArgumentException("dports: " + dports + " (expected: at most 15 ports in 1..65535, the multiport match's limit)");
            }
        }

        /** The rule's specification after the chain name, as {@code -I}, {@code -D} and {@code -S} spell it. */
        List<String> spec(String marker) {
            List<String> out = new ArrayList<>(List.of("-m", "cgroup", "--path", "/" + from.name()));
            if (!dports.isEmpty()) {
                out.addAll(List.of("-p", "tcp", "-m", "multiport", "--dports", dports.stream().map(String::valueOf).collect(Collectors.joining(","))));
            }
            out.addAll(List.of("-m", "comment", "--comment", marker, "-j", "DROP"));
            return out;
        }
    }

    private final String marker;
    private final Path cgroupRoot;
    private final Iptables iptables;
    private final Map<String, Group> groups = new LinkedHashMap<>();
    private final List<Rule> active = new ArrayList<>();
    private final Thread healOnExit;
    private long addedCount;
    private long removedCount;

    private CgroupNetwork(String marker, Path cgroupRoot, Iptables iptables, boolean hook) {
        this.marker = marker;
        this.cgroupRoot = cgroupRoot;
        this.iptables = iptables;
        this.healOnExit = hook ? Thread.ofPlatform().unstarted(this::healQuietly) : null;
        if (hook) {
            Runtime.getRuntime().addShutdownHook(healOnExit);
        }
    }

    /** On this machine: the cgroup v2 root, the real {@code iptables}, a new marker, a shutdown hook that heals. */
    public static CgroupNetwork open() {
        Path root = cgroup2Root().orElseThrow(() -> new IllegalStateException("no cgroup2 mount in /proc/mounts"));
        return new CgroupNetwork(newMarker(), root, new SystemIptables(), true);
    }

    /** With {@code cgroupRoot} and {@code iptables} of the caller's choosing and no shutdown hook: for unit tests. */
    public static CgroupNetwork open(Path cgroupRoot, Iptables iptables, String marker) {
        if (!MARKER.matcher(marker).matches()) {
            throw new IllegalArgumentException("marker: " + marker + " (expected: " + MARKER.pattern() + ")");
        }
        return new CgroupNetwork(marker, cgroupRoot, iptables, false);
    }

    /** {@code basalt-chaos-PID-N}: this JVM's pid and a count, so {@link #sweep} can tell a dead owner's rules from a live one's. */
    public static String newMarker() {
        return MARKER_PREFIX + ProcessHandle.current().pid() + "-" + COUNT.incrementAndGet();
    }

    public String marker() {
        return marker;
    }

    /** A new, empty cgroup {@code MARKER-NAME} under the cgroup v2 root. */
    public synchronized Group group(String name) throws IOException {
        String full = marker + "-" + name;
        if (groups.containsKey(full)) {
            throw new IllegalArgumentException("group: " + name + " (expected: a name not used yet in " + marker + ")");
        }
        Path dir = cgroupRoot.resolve(full);
        Files.createDirectory(dir);
        Group g = new Group(full, dir);
        groups.put(full, g);
        return g;
    }

    /** Adds {@code rule} (at the head of OUTPUT, before any rule that accepts loopback traffic). */
    public synchronized void drop(Rule rule) throws IOException {
        if (!groups.containsKey(rule.from().name())) {
            throw new IllegalArgumentException("rule from " + rule.from().name() + " (expected: a group of " + marker + ")");
        }
        if (active.contains(rule)) {
            throw new IllegalStateException("rule " + rule + " is in place already");
        }
        List<String> args = new ArrayList<>(List.of("-w", XTABLES_LOCK_WAIT_SECONDS, "-I", "OUTPUT"));
        args.addAll(rule.spec(marker));
        iptables.run(args);
        active.add(rule);
        addedCount++;
    }

    /** Deletes every rule in place, newest first; a no-op when none is. */
    public synchronized void heal() throws IOException {
        while (!active.isEmpty()) {
            Rule rule = active.getLast();
            List<String> args = new ArrayList<>(List.of("-w", XTABLES_LOCK_WAIT_SECONDS, "-D", "OUTPUT"));
            args.addAll(rule.spec(marker));
            iptables.run(args);
            active.removeLast();
            removedCount++;
        }
    }

    public synchronized List<Rule> active() {
        return List.copyOf(active);
    }

    public synchronized long addedCount() {
        return addedCount;
    }

    public synchronized long removedCount() {
        return removedCount;
    }

    /** Heals, then removes the cgroups once their processes have exited (the caller stops them first). */
    @Override
    public void close() throws IOException, InterruptedException {
        try {
            heal();
        } finally {
            if (healOnExit != null) {
                try {
                    Runtime.getRuntime().removeShutdownHook(healOnExit);
                } catch (IllegalStateException shuttingDown) {
                    // The hook runs anyway and finds nothing left to heal.
                }
            }
            List<Group> all;
            synchronized (this) {
                all = List.copyOf(groups.values());
            }
            for (Group g : all) {
                removeCgroup(g.dir());
            }
        }
    }

    private void healQuietly() {
        try {
            heal();
        } catch (IOException | RuntimeException e) {
            System.err.println("basalt: rules of " + marker + " not removed at exit (" + e.getMessage() + "); iptables -S OUTPUT | grep " + marker);
        }
    }

    /**
     * Deletes every OUTPUT rule and removes every empty cgroup whose marker names a process that
     * no longer runs (left by a JVM killed before it healed); returns what it removed, one line each.
     */
    public static List<String> sweep(Iptables iptables, Path cgroupRoot) throws IOException {
        List<String> removed = new ArrayList<>();
        for (String line : iptables.outputRules()) {
            Matcher m = MARKER.matcher(line);
            if (line.startsWith("-A OUTPUT ") && m.find() && !running(Long.parseLong(m.group(1)))) {
                List<String> args = new ArrayList<>(List.of("-w", XTABLES_LOCK_WAIT_SECONDS, "-D"));
                // -S prints the cgroup path in quotes; the names this class makes hold no spaces or quotes.
                args.addAll(Stream.of(line.substring("-A ".length()).trim().split("\\s+")).map(t -> t.replace("\"", "")).toList());
                iptables.run(args);
                removed.add("rule " + line);
            }
        }
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(cgroupRoot, MARKER_PREFIX + "*")) {
            for (Path dir : dirs) {
                Matcher m = MARKER.matcher(dir.getFileName().toString());
                if (Files.isDirectory(dir) && m.lookingAt() && !running(Long.parseLong(m.group(1)))) {
                    try {
                        Files.delete(dir);
                        removed.add("cgroup " + dir);
                    } catch (IOException stillInUse) {
                        removed.add("cgroup " + dir + " NOT removed: it still has processes (" + stillInUse.getMessage() + ")");
                    }
                }
            }
        }
        return removed;
    }

    /** {@link #sweep} on this machine. */
    public static List<String> sweep() throws IOException {
        return sweep(new SystemIptables(), cgroup2Root().orElseThrow(() -> new IllegalStateException("no cgroup2 mount in /proc/mounts")));
    }

    private static boolean running(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    private static void removeCgroup(Path dir) throws IOException, InterruptedException {
        for (int attempt = 0; Files.exists(dir); attempt++) {
            try {
                Files.delete(dir);
            } catch (IOException e) {
                if (attempt >= CGROUP_REMOVE_ATTEMPTS_MAX) {
                    Path procs = dir.resolve("cgroup.procs");
                    throw new IOException("cgroup " + dir + " still has processes: " + (Files.exists(procs) ? Files.readString(procs) : "?"), e);
                }
                Thread.sleep(CGROUP_REMOVE_PAUSE_MS);
            }
        }
    }

    /** What this machine lacks for a network fault, or empty. */
    public static Optional<String> missing() {
        if (iptablesPath().isEmpty()) {
            return Optional.of("iptables (scripts/install-test-deps.sh installs it)");
        }
        Optional<Path> root = cgroup2Root();
        if (root.isEmpty()) {
            return Optional.of("a cgroup v2 hierarchy (no cgroup2 mount in /proc/mounts)");
        }
        try {
            new SystemIptables().outputRules();
        } catch (IOException e) {
            return Optional.of("a working iptables, run as root: " + e.getMessage());
        }
        if (!Files.isWritable(root.get())) {
            return Optional.of("root (creating a cgroup under " + root.get() + " needs it)");
        }
        return Optional.empty();
    }

    /** The cgroup v2 mount point, from /proc/mounts (e.g. /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host). */
    public static Optional<Path> cgroup2Root() {
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

    private static Optional<Path> iptablesPath() {
        List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(":")));
        dirs.addAll(List.of("/usr/sbin", "/sbin"));
        return dirs.stream().filter(d -> !d.isEmpty()).map(d -> Path.of(d, "iptables")).filter(Files::isExecutable).findFirst();
    }

    /** The {@code iptables} binary, each call run to its end within {@link #IPTABLES_WAIT_SECONDS}. */
    private static final class SystemIptables implements Iptables {
        @Override
        public void run(List<String> args) throws IOException {
            Result r = exec(args);
            if (r.exit() != 0) {
                throw new IOException("iptables " + String.join(" ", args) + " exited with " + r.exit() + ": " + r.output().strip());
            }
        }

        @Override
        public List<String> outputRules() throws IOException {
            Result r = exec(List.of("-w", XTABLES_LOCK_WAIT_SECONDS, "-S", "OUTPUT"));
            if (r.exit() != 0) {
                throw new IOException("iptables -S OUTPUT exited with " + r.exit() + ": " + r.output().strip());
            }
            return r.output().lines().toList();
        }

        private record Result(int exit, String output) {}

        private static Result exec(List<String> args) throws IOException {
            List<String> command = new ArrayList<>();
            command.add(iptablesPath().orElseThrow(() -> new IOException("no iptables on PATH, in /usr/sbin or /sbin")).toString());
            command.addAll(args);
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            try {
                // iptables prints little; reading to the end before the wait cannot block on a full pipe.
                String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!p.waitFor(IPTABLES_WAIT_SECONDS, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    throw new IOException(command + " did not finish within " + IPTABLES_WAIT_SECONDS + " s");
                }
                return new Result(p.exitValue(), output);
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IOException(command + " interrupted", e);
            }
        }
    }
}
