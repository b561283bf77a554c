package io.basalt.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
    static final long SUITE_SECONDS = 900;

    @TempDir
    Path dir;

    @Test
    void survivesKillNineOfANodeMidWriteAndPassesTheIoSuites() throws Exception {
        assumeTrue(which("qemu-io") != null && which("iscsi-test-cu") != null,
                "needs qemu-io (qemu-utils, qemu-block-extra) and iscsi-test-cu (libiscsi-bin): scripts/install-test-deps.sh");
        try (ClusterUp cluster = ClusterUp.start(dir, "64M", "--hosts", "1")) {
            String url = cluster.url();
            // --hosts 1: a host agent started beside the nodes, and said so.
            assertEquals(java.util.Set.of("host-1"), cluster.hostPids().keySet(), "host agents printed by cluster up");
            assertTrue(ProcessHandle.of(cluster.hostPids().get("host-1")).map(ProcessHandle::isAlive).orElse(false), "host-1's agent runs");
            // A data check written (and acknowledged) before any fault.
            ClusterUp.assertQemuIo(url, "write -P 0x5a 1M 1M", "wrote 1048576/1048576 bytes", SUITE_SECONDS);

            // SIGKILL node 2 while a larger write is in flight; the write must still complete.
            Process writer = cluster.track(ClusterUp.qemuIo(url, "write -P 0x33 8M 16M").start());
            Thread.sleep(300);
            cluster.kill(2);
            assertTrue(writer.waitFor(SUITE_SECONDS, TimeUnit.SECONDS), "write during the kill did not finish");
            String writeOut = new String(writer.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(writeOut.contains("wrote 16777216/16777216 bytes"), "write across the kill: " + writeOut);

            // `cluster status` sees node 2 down and every group degraded but with a quorum (exit 0).
            String status = awaitStatus(cluster, "nodes 2 up, 1 down; groups 0 ok, 4 degraded, 0 unavailable");
            assertTrue(status.matches("(?s).*\\n2 +127\\.0\\.0\\.1:\\d+ +down .*"), status);

            // Restart node 2 by hand, as an operator would.
            cluster.restart(2);

            // Both data checks read back intact after the kill and the restart (the suite below
            // overwrites the LUN, so they are checked first).
            ClusterUp.assertQemuIo(url, "read -P 0x5a 1M 1M", "read 1048576/1048576 bytes", SUITE_SECONDS);
            ClusterUp.assertQemuIo(url, "read -P 0x33 8M 16M", "read 16777216/16777216 bytes", SUITE_SECONDS);

            Process suite = cluster.track(new ProcessBuilder(which("iscsi-test-cu"), "-d", "-t",
                    "ALL.Read10,ALL.Write10,ALL.CompareAndWrite,ALL.Unmap,ALL.WriteAtomic16", url).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("iscsi-test-cu.log").toFile()).start());
            assertTrue(suite.waitFor(SUITE_SECONDS, TimeUnit.SECONDS), "iscsi-test-cu ran past " + SUITE_SECONDS + " s");
            String log = Files.readString(dir.resolve("iscsi-test-cu.log"));
            int[] tests = cunitTests(log);
            System.out.println("cluster iscsi-test-cu: " + tests[0] + " tests run, " + tests[1] + " failed");
            assertTrue(tests[0] >= 10, "too few tests ran: " + tail(log));
            assertEquals(0, tests[1], "failed tests:\n" + tail(log));
        }
    }

    /**
     * Runs {@code basalt cluster status} until its summary line is {@code summary} and it exits 0
     * (a new leader may take a few seconds after the kill); returns its output.
     */
    private static String awaitStatus(ClusterUp cluster, String summary) throws Exception {
        String last = "";
        for (int attempt = 0; attempt < 15; attempt++) {
            Process p = cluster.basalt("cluster", "status", "--data", cluster.dir().toString());
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

    /** {tests run, tests failed} from CUnit's run summary. */
    static int[] cunitTests(String log) {
        Matcher m = Pattern.compile("(?m)^\\s+tests\\s+(\\d+)\\s+(\\d+)\\s+\\S+\\s+(\\d+)").matcher(log);
        assertFalse(!m.find(), "no CUnit summary in:\n" + tail(log));
        return new int[] {Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3))};
    }

    static String tail(String s) {
        return s.length() <= 4000 ? s : s.substring(s.length() - 4000);
    }

    static String which(String tool) {
        return io.basalt.node.TestProcesses.which(tool);
    }
}
