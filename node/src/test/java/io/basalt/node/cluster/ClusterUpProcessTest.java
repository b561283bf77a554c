package io.basalt.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The multi-process acceptance of the cluster: {@code basalt cluster up --nodes 3} as its own
 * process, a vdisk written over iSCSI by QEMU's client, one node killed with SIGKILL in the
 * middle of a write and restarted, then libiscsi's Read10/Write10/CompareAndWrite/Unmap suites
 * against the cluster LUN, and the data written before the kill read back intact.
 */
class ClusterUpProcessTest {
    static final long STARTUP_SECONDS = 180;
    static final long SUITE_SECONDS = 900;
    private static final Pattern NODE = Pattern.compile("^node (\\d+) pid (\\d+) ");
    private static final Pattern SERVING = Pattern.compile("^serving \\S+: (iscsi://\\S+)");

    @TempDir
    Path dir;

    @Test
    void survivesKillNineOfANodeMidWriteAndPassesTheIoSuites() throws Exception {
        assumeTrue(which("qemu-io") != null && which("iscsi-test-cu") != null,
                "needs qemu-io (qemu-utils, qemu-block-extra) and iscsi-test-cu (libiscsi-bin): scripts/install-test-deps.sh");
        int basePort = io.basalt.cluster.LoopbackPorts.freeBase(3);
        List<Process> started = new ArrayList<>();
        Map<Integer, Long> nodePids = new ConcurrentHashMap<>();
        String[] url = new String[1];
        Process up = basalt("cluster", "up", "--nodes", "3", "--pgs", "3", "--data", dir.toString(), "--base-port",
                Integer.toString(basePort), "--portal", "127.0.0.1:0", "--size", "64M");
        started.add(up);
        try {
            Thread reader = Thread.ofPlatform().daemon().start(() -> follow(up, nodePids, url));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(STARTUP_SECONDS);
            while (url[0] == null && System.nanoTime() < deadline && up.isAlive()) {
                Thread.sleep(200);
            }
            assertNotNull(url[0], "cluster up did not print its iscsi:// URL within " + STARTUP_SECONDS + " s");
            assertEquals(3, nodePids.size(), "node pids printed: " + nodePids);

            // A data check written (and acknowledged) before any fault.
            assertQemuIo(url[0], "write -P 0x5a 1M 1M", "wrote 1048576/1048576 bytes");

            // SIGKILL node 2 while a larger write is in flight; the write must still complete.
            Process writer = qemuIo(url[0], "write -P 0x33 8M 16M");
            Thread.sleep(300);
            ProcessHandle.of(nodePids.get(2)).ifPresent(ProcessHandle::destroyForcibly);
            assertTrue(writer.waitFor(SUITE_SECONDS, TimeUnit.SECONDS), "write during the kill did not finish");
            String writeOut = new String(writer.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(writeOut.contains("wrote 16777216/16777216 bytes"), "write across the kill: " + writeOut);

            // `cluster status` sees node 2 down and every group degraded but with a quorum (exit 0).
            String status = awaitStatus(started, "nodes 2 up, 1 down; groups 0 ok, 4 degraded, 0 unavailable");
            assertTrue(status.matches("(?s).*\\n2 +127\\.0\\.0\\.1:\\d+ +down .*"), status);

            // Restart node 2 by hand, as an operator would.
            Process node2 = basalt("node", "--config", dir.resolve("cluster.json").toString(), "--id", "2",
                    "--data", dir.resolve("node-2").toString());
            started.add(node2);

            // Both data checks read back intact after the kill and the restart (the suite below
            // overwrites the LUN, so they are checked first).
            assertQemuIo(url[0], "read -P 0x5a 1M 1M", "read 1048576/1048576 bytes");
            assertQemuIo(url[0], "read -P 0x33 8M 16M", "read 16777216/16777216 bytes");

            Process suite = new ProcessBuilder(which("iscsi-test-cu"), "-d", "-t",
                    "ALL.Read10,ALL.Write10,ALL.CompareAndWrite,ALL.Unmap", url[0]).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("iscsi-test-cu.log").toFile()).start();
            started.add(suite);
            assertTrue(suite.waitFor(SUITE_SECONDS, TimeUnit.SECONDS), "iscsi-test-cu ran past " + SUITE_SECONDS + " s");
            String log = Files.readString(dir.resolve("iscsi-test-cu.log"));
            int[] tests = cunitTests(log);
            System.out.println("cluster iscsi-test-cu: " + tests[0] + " tests run, " + tests[1] + " failed");
            assertTrue(tests[0] >= 10, "too few tests ran: " + tail(log));
            assertEquals(0, tests[1], "failed tests:\n" + tail(log));
            reader.interrupt();
        } finally {
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
        }
    }

    /**
     * Runs {@code basalt cluster status} until its summary line is {@code summary} and it exits 0
     * (a new leader may take a few seconds after the kill); returns its output.
     */
    private String awaitStatus(List<Process> started, String summary) throws Exception {
        String last = "";
        for (int attempt = 0; attempt < 15; attempt++) {
            Process p = basalt("cluster", "status", "--data", dir.toString());
            started.add(p);
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "cluster status did not finish");
            System.out.println("[cluster status] exit " + p.exitValue() + "\n" + out);
            if (p.exitValue() == 0 && ("\n" + out).contains("\ncluster basalt: " + summary)) {
                return out;
            }
            last = out;
            Thread.sleep(1000);
        }
        throw new AssertionError("cluster status never said '" + summary + "'; last:\n" + last);
    }

    private static void follow(Process up, Map<Integer, Long> nodePids, String[] url) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(up.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                System.out.println("[cluster up] " + line);
                Matcher n = NODE.matcher(line);
                if (n.find()) {
                    nodePids.put(Integer.parseInt(n.group(1)), Long.parseLong(n.group(2)));
                }
                Matcher s = SERVING.matcher(line);
                if (s.find()) {
                    url[0] = s.group(1);
                }
            }
        } catch (IOException e) {
            // the process ended
        }
    }

    private Process basalt(String... args) throws IOException {
        ProcessBuilder pb = io.basalt.node.TestProcesses.basalt(args);
        if (!args[0].equals("cluster")) {
            pb.redirectOutput(dir.resolve(args[0] + "-" + System.nanoTime() + ".log").toFile());
        }
        return pb.start();
    }

    private static Process qemuIo(String url, String command) throws IOException {
        return new ProcessBuilder("qemu-io", "-f", "raw", "-c", command, url).redirectErrorStream(true).start();
    }

    private static void assertQemuIo(String url, String command, String expected) throws Exception {
        Process p = qemuIo(url, command);
        try {
            assertTrue(p.waitFor(SUITE_SECONDS, TimeUnit.SECONDS), "qemu-io " + command + " did not finish");
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(out.contains(expected) && !out.contains("Pattern verification failed"), "qemu-io " + command + ": " + out);
        } finally {
            p.destroyForcibly();
        }
    }

    /** {tests run, tests failed} from CUnit's run summary. */
    static int[] cunitTests(String log) {
        Matcher m = Pattern.compile("(?m)^\\s+tests\\s+(\\d+)\\s+(\\d+)\\s+\\S+\\s+(\\d+)").matcher(log);
        assertFalse(!m.find(), "no CUnit summary in:\n" + tail(log));
        return new int[] {Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3))};
    }

    private static String tail(String s) {
        return s.length() <= 4000 ? s : s.substring(s.length() - 4000);
    }

    private static String which(String tool) {
        return io.basalt.node.TestProcesses.which(tool);
    }
}
