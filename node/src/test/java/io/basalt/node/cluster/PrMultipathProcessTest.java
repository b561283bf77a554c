package io.basalt.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Persistent reservations of a cluster vdisk served by two gateways (two nodes, each its own
 * target port): libiscsi's PR tests in multipath mode, the first initiator through node 1's
 * gateway and the second through node 2's. The access tests (ProutReserve.Access*) reserve through
 * one gateway and check the other initiator's reads and writes through the other, so they pass
 * only when both gateways see the same registrations and reservation (kept in the meta group).
 */
class PrMultipathProcessTest {
    static final long SUITE_SECONDS = 600;
    private static final String VDISK = "disk0";
    private static final String PR_TESTS = "ALL.PrinReadKeys,ALL.PrinServiceactionRange,ALL.PrinReportCapabilities,"
            + "ALL.ProutRegister,ALL.ProutReserve,ALL.ProutClear,ALL.ProutPreempt";

    @TempDir
    Path dir;

    @Test
    void twoGatewaysOfOneVdiskShareItsPersistentReservations() throws Exception {
        assumeTrue(ClusterUpProcessTest.which("iscsi-test-cu") != null && ClusterUpProcessTest.which("iscsi-inq") != null,
                "needs iscsi-test-cu and iscsi-inq (libiscsi-bin): scripts/install-test-deps.sh");
        try (ClusterUp cluster = ClusterUp.start(dir, "64M", "--vdisk", VDISK)) {
            String url1 = cluster.url();
            int port2;
            try (ServerSocket s = new ServerSocket(0)) {
                port2 = s.getLocalPort();
            }
            cluster.killAndWait(2);
            cluster.restart(2, "--serve", VDISK, "--portal", "127.0.0.1:" + port2);
            String url2 = "iscsi://127.0.0.1:" + port2 + "/" + NodeGateway.IQN + "/0";
            awaitServing(cluster, url2);

            Process suite = cluster.track(new ProcessBuilder(ClusterUpProcessTest.which("iscsi-test-cu"), "-d", "-t", PR_TESTS, url1, url2)
                    .redirectErrorStream(true).redirectOutput(dir.resolve("iscsi-test-cu.log").toFile()).start());
            assertTrue(suite.waitFor(SUITE_SECONDS, TimeUnit.SECONDS), "iscsi-test-cu ran past " + SUITE_SECONDS + " s");
            String log = Files.readString(dir.resolve("iscsi-test-cu.log"));
            assertTrue(log.contains("found matching LU device identifier for all (2) paths"),
                    "the two gateways are two paths to one LU:\n" + ClusterUpProcessTest.tail(log));
            int[] tests = ClusterUpProcessTest.cunitTests(log);
            System.out.println("multipath PR iscsi-test-cu: " + tests[0] + " tests run, " + tests[1] + " failed");
            assertTrue(tests[0] >= 15, "too few tests ran: " + ClusterUpProcessTest.tail(log));
            assertEquals(0, tests[1], "failed tests:\n" + ClusterUpProcessTest.tail(log));
        }
    }

    /** Waits until {@code url} answers INQUIRY (node 2 restarted, caught up, and serving). */
    private static void awaitServing(ClusterUp cluster, String url) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(ClusterUp.STARTUP_SECONDS);
        while (true) {
            Process inq = cluster.track(new ProcessBuilder(ClusterUpProcessTest.which("iscsi-inq"), url).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
            if (inq.waitFor(30, TimeUnit.SECONDS) && inq.exitValue() == 0) {
                return;
            }
            inq.destroyForcibly();
            assertTrue(System.nanoTime() < deadline, "node 2's gateway did not serve " + url + " within " + ClusterUp.STARTUP_SECONDS + " s");
            Thread.sleep(1000);
        }
    }
}
