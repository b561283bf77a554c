package io.basalt.node.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.host.Accelerator;
import io.basalt.lock.VdiskLock;
import io.basalt.node.config.EmbeddedConfigs;
import io.basalt.node.locks.EmbeddedLocks;
import io.basalt.node.locks.LockedStore;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.VdiskStore;

/**
 * Two host agents on one embedded store (as {@code basalt demo} runs them): a VM placed on host-a
 * boots from a vdisk served by host-a's loopback target, is migrated live to host-b and back
 * twice, and keeps counting in RAM and writing its sequence to disk throughout; each migration
 * hands the disk's exclusive lock over (the lock table shows who holds it), and afterwards the disk
 * holds every synced sequence number once, in order. Where the test may make a bridge (root, a tun
 * device), the guest's NIC is on it through a tap per host, and one TCP connection to the guest,
 * held open throughout, echoes after every move.
 */
class HostAgentMigrationTest {
    private static final Pattern LINE = Pattern.compile("migrated g1 from (host-[ab]) to (host-[ab]): downtime (\\d+) ms, total (\\d+) ms");
    private static final Duration STEP = Duration.ofSeconds(120);
    private static final String BRIDGE = "bbrmig0";
    private static final String HOST_IP = "10.213.0.1";
    private static final String GUEST_IP = "10.213.0.2";

    @TempDir
    Path dir;

    @Test
    void aGuestMigratesBackAndForthKeepingItsRamCounterAndItsDiskSequence() throws Exception {
        String qemu = which("qemu-system-x86_64");
        assumeTrue(qemu != null, "needs qemu-system-x86_64 (qemu-system-x86, qemu-block-extra): scripts/install-test-deps.sh");
        SequenceGuest guest = SequenceGuest.build(dir);
        assumeTrue(guest != null, "no kernel image in /boot with its modules (linux-image-amd64): scripts/install-test-deps.sh");
        PrintWriter out = new PrintWriter(System.out, true);
        try (VdiskStore store = VdiskStore.open(dir.resolve("store"));
             EmbeddedLocks locks = EmbeddedLocks.open(store).startLeaseMonitor()) {
            store.create("g1-disk", 64L << 20, 512, 4096);
            LockedStore locked = LockedStore.embedded(store, locks);
            Inventory inventory = new Inventory(EmbeddedConfigs.open(store));
            Optional<String> bridge = TestBridge.create(BRIDGE, HOST_IP);
            inventory.createVm(bridge.isPresent() ? guest.record("g1", 128, "g1-disk", GUEST_IP) : guest.record("g1", 128, "g1-disk"));
            try (TestBridge cleanup = new TestBridge(bridge);
                 HostAgent a = HostAgent.start("host-a", locked, inventory, options(qemu, "a", bridge), out);
                 HostAgent b = HostAgent.start("host-b", locked, inventory, options(qemu, "b", bridge), out)) {
                inventory.updateVm("g1", r -> r.onHost("host-a").withDesired(VmRecord.Desired.RUNNING));
                a.reconcile();
                assertEquals(java.util.Set.of("g1"), a.running());
                List<Path> consoles = List.of(dir.resolve("run-a/g1/console.log"), dir.resolve("run-b/g1/console.log"));
                awaitSeq(consoles, 10);
                Echo echo = bridge.isPresent() ? Echo.connect(GUEST_IP, SequenceGuest.ECHO_PORT, STEP) : null;
                if (echo == null) {
                    System.out.println("[migration] no bridge (needs root, /dev/net/tun and ip): the TCP connection is not checked");
                } else {
                    echo.roundTrip("before");
                }
                List<Long> downtimes = new ArrayList<>();
                String[] hosts = {"host-b", "host-a", "host-b", "host-a"};
                for (String to : hosts) {
                    HostAgent from = to.equals("host-b") ? a : b;
                    long before = lastSeq(consoles);
                    String line = from.apiClient().migrate("g1", to);
                    Matcher m = LINE.matcher(line);
                    assertTrue(m.matches(), line);
                    assertEquals(to, m.group(2));
                    downtimes.add(Long.parseLong(m.group(3)));
                    HostAgent now = to.equals("host-b") ? b : a;
                    assertEquals(java.util.Set.of("g1"), now.running(), to + " runs it");
                    assertEquals(java.util.Set.of(), from.running(), from.name() + " no longer runs it");
                    assertEquals(to, inventory.vm("g1").orElseThrow().host());
                    VdiskLock lock = locks.lock("g1-disk").orElseThrow();
                    assertTrue(lock.holding(now.session().sessionId()).isPresent(), "the lock moved to " + to + ": " + lock);
                    awaitSeq(consoles, before + 10);
                    if (echo != null) {
                        echo.roundTrip("after the move to " + to);
                    }
                }
                if (echo != null) {
                    echo.close();
                }
                System.out.println("[migration] downtimes ms: " + downtimes);
                io.basalt.node.api.PrometheusText metrics = io.basalt.node.api.PrometheusText.parse(io.basalt.node.metrics.NodeMetrics.process().scrape());
                assertTrue(metrics.value("basalt_migration_downtime_seconds_count", java.util.Map.of("from", "host-a", "to", "host-b")).orElseThrow() >= 2,
                        "each migration's downtime is in /metrics");
                long beforeSnapshot = lastSeq(consoles);
                String snapLine = a.apiClient().snapshot("g1", "s1");
                assertTrue(snapLine.matches("snapshot s1 of vm g1: g1-disk@s1 at one instant \\(guest paused \\d+ ms\\)"), snapLine);
                System.out.println("[migration] " + snapLine);
                try (BlockDevice snap = store.open("g1-disk@s1")) {
                    long inSnapshot = SequenceGuest.sequenceLength(snap);
                    assertTrue(inSnapshot >= beforeSnapshot, "the snapshot holds seq " + inSnapshot + ", the guest had synced " + beforeSnapshot);
                    SequenceGuest.checkSequenceOnDisk(snap, inSnapshot);
                }
                assertRamCounterAndUptimeNeverRestarted(consoles);
                inventory.updateVm("g1", r -> r.withDesired(VmRecord.Desired.STOPPED));
                a.reconcile();
                assertEquals(java.util.Set.of(), a.running());
                long last = lastSeq(consoles);
                try (BlockDevice disk = store.open("g1-disk")) {
                    SequenceGuest.checkSequenceOnDisk(disk, last);
                }
            }
        }
    }

    private HostAgent.Options options(String qemu, String tag, Optional<String> bridge) {
        return new HostAgent.Options(qemu, Accelerator.TCG, dir.resolve("run-" + tag), 2, 1024, 3000, Duration.ofMillis(200),
                Duration.ofSeconds(2), Duration.ofSeconds(10), bridge);
    }

    /** One TCP connection to the guest's echo port, held open across the migrations. */
    private record Echo(java.net.Socket socket, java.io.BufferedReader in, java.io.Writer out) implements AutoCloseable {
        static Echo connect(String host, int port, Duration within) throws Exception {
            long deadline = System.nanoTime() + within.toNanos();
            while (true) {
                try {
                    java.net.Socket s = new java.net.Socket();
                    s.connect(new java.net.InetSocketAddress(host, port), 2000);
                    s.setSoTimeout(20_000);
                    return new Echo(s, new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(), java.nio.charset.StandardCharsets.US_ASCII)),
                            new java.io.OutputStreamWriter(s.getOutputStream(), java.nio.charset.StandardCharsets.US_ASCII));
                } catch (java.io.IOException e) {
                    assertTrue(System.nanoTime() < deadline, "no TCP connection to the guest at " + host + ":" + port + ": " + e);
                    Thread.sleep(500);
                }
            }
        }

        void roundTrip(String when) throws java.io.IOException {
            String line = "ping " + when;
            out.write(line + "\n");
            out.flush();
            assertEquals(line, in.readLine(), "the guest echoes on the connection held open " + when);
        }

        @Override
        public void close() throws java.io.IOException {
            socket.close();
        }
    }

    private static long lastSeq(List<Path> consoles) throws Exception {
        List<double[]> t = SequenceGuest.ticks(consoles);
        return t.stream().mapToLong(x -> (long) x[0]).max().orElse(0);
    }

    private static void awaitSeq(List<Path> consoles, long atLeast) throws Exception {
        long deadline = System.nanoTime() + STEP.toNanos();
        while (lastSeq(consoles) < atLeast) {
            assertTrue(System.nanoTime() < deadline, "the guest did not reach seq " + atLeast + " within " + STEP + "; consoles:\n" + tails(consoles));
            Thread.sleep(100);
        }
    }

    /** Across both consoles, ordered by sequence number: the RAM counter went on by one and the uptime never went back. */
    static void assertRamCounterAndUptimeNeverRestarted(List<Path> consoles) throws Exception {
        List<double[]> t = new ArrayList<>(SequenceGuest.ticks(consoles));
        t.sort(java.util.Comparator.comparingDouble(x -> x[0]));
        for (int i = 1; i < t.size(); i++) {
            assertEquals(t.get(i - 1)[0] + 1, t.get(i)[0], "seq after " + (long) t.get(i - 1)[0] + " (a restart would count from 1 again)");
            assertTrue(t.get(i)[1] >= t.get(i - 1)[1], "uptime went back at seq " + (long) t.get(i)[0]);
        }
        assertEquals(1, java.util.Set.copyOf(SequenceGuest.boots(consoles)).size(), "one boot throughout");
    }

    private static String tails(List<Path> consoles) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (Path c : consoles) {
            if (Files.exists(c)) {
                List<String> lines = Files.readAllLines(c, java.nio.charset.StandardCharsets.ISO_8859_1);
                sb.append("--- ").append(c).append('\n').append(String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()))).append('\n');
                Path qemuLog = c.resolveSibling("qemu.log");
                if (Files.exists(qemuLog)) {
                    sb.append("--- qemu.log\n").append(Files.readString(qemuLog)).append('\n');
                }
            }
        }
        return sb.toString();
    }

    static String which(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            if (Files.isExecutable(Path.of(d, tool))) {
                return Path.of(d, tool).toString();
            }
        }
        return null;
    }
}
