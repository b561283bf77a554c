package io.basalt.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;


/**
 * A host must ride out a quorum outage that outlasts the gateway's I/O timeout, as QEMU rides
 * out a SAN path failover: {@code basalt cluster up --nodes 3}, two of the three nodes killed
 * with SIGKILL (the gateway's node is left without a quorum in every group), a write sent
 * through QEMU's own iSCSI client (what a guest's virtio disk on an {@code iscsi://} drive uses),
 * the two nodes restarted once the gateway has answered the write "busy" at least once. The
 * write must complete, not fail, and read back.
 *
 * <p>What it pins: the gateway answers a transient cluster failure with SCSI status BUSY, which
 * QEMU re-issues (up to 7 times, with growing delays). NOT READY "becoming ready" (04h/01h),
 * answered before, QEMU fails at once with EINPROGRESS; the guest would see an I/O error.
 */
class QuorumOutageProcessTest {
    @TempDir
    Path dir;

    @Test
    void qemusIscsiClientRidesOutAQuorumOutageLongerThanTheGatewaysIoTimeout() throws Exception {
        assumeTrue(ClusterUpProcessTest.which("qemu-io") != null, "needs qemu-io (qemu-utils, qemu-block-extra): scripts/install-test-deps.sh");
        // Shorter than the default 30 s, so the test waits less for the first BUSY.
        Duration ioTimeout = Duration.ofSeconds(10);
        try (ClusterUp cluster = ClusterUp.start(dir, "64M", "--io-timeout-ms", Long.toString(ioTimeout.toMillis()))) {
            String url = cluster.url();
            ClusterUp.assertQemuIo(url, "write -P 0x5a 0 1M", "wrote 1048576/1048576 bytes", 300);

            cluster.kill(2);
            cluster.kill(3);
            Path log = dir.resolve("qemu-io-across-the-outage.log");
            Process writer = cluster.track(ClusterUp.qemuIo(url, "write -P 0x77 4M 4M").redirectOutput(log.toFile()).start());
            long deadline = System.nanoTime() + ioTimeout.plusSeconds(60).toNanos();
            while (!Files.readString(log).contains("iSCSI Busy") && writer.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(500);
            }
            String during = Files.readString(log);
            assertTrue(during.contains("iSCSI Busy"), "QEMU saw no BUSY within the I/O timeout (" + ioTimeout + ") + 60 s: " + during);
            assertTrue(writer.isAlive(), "qemu-io gave up during the outage: " + during);
            System.out.println("[quorum outage] while 2 of 3 nodes were down: " + during.strip());

            cluster.restart(2);
            cluster.restart(3);
            assertTrue(writer.waitFor(180, TimeUnit.SECONDS), "the write did not finish within 180 s of the restart: " + Files.readString(log));
            String after = Files.readString(log);
            assertEquals(0, writer.exitValue(), after);
            assertTrue(after.contains("wrote 4194304/4194304 bytes"), after);
            assertFalse(after.contains("failed"), after);

            ClusterUp.assertQemuIo(url, "read -P 0x77 4M 4M", "read 4194304/4194304 bytes", 300);
            ClusterUp.assertQemuIo(url, "read -P 0x5a 0 1M", "read 1048576/1048576 bytes", 300);
        }
    }
}
