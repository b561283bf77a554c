package io.basalt.node.cluster;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.host.GuestImage;

/**
 * A running Linux guest keeps its disk through storage-node failures: {@code basalt cluster up
 * --nodes 3} serves a vdisk over iSCSI; QEMU (TCG) boots a guest whose only disk is that LUN
 * (virtio-blk on QEMU's iSCSI client, as a VM on Basalt would run). The guest writes random 1 MiB
 * to a slot, fsyncs, reads it back with O_DIRECT and checks its SHA-256, round after round,
 * while the test SIGKILLs node 2 (leader changes), restarts it, then kills nodes 2 and 3 together
 * for longer than the gateway's I/O timeout (no group has a quorum; the gateway answers BUSY and
 * QEMU retries) and restarts them. Then the test marks the disk's first block; the guest sees it,
 * re-reads every slot it wrote and prints OK. Any failed write or read, any checksum mismatch, any
 * kernel I/O error on the console fails the test.
 *
 * <p>Where {@code QuorumOutageProcessTest} pins BUSY with one {@code qemu-io} write, this is the
 * same path under a guest kernel with its page cache, flushes and its own request queue.
 */
class GuestOnClusterProcessTest {
    private static final Duration IO_TIMEOUT = Duration.ofSeconds(10);
    /** The quorum outage lasts longer than the gateway's I/O timeout, so the guest's I/O is answered BUSY at least once. */
    private static final Duration OUTAGE = IO_TIMEOUT.plusSeconds(6);
    private static final Duration STEP_TIMEOUT = Duration.ofSeconds(240);
    /** Rounds the guest must complete between two faults, so every fault strikes while it writes. */
    private static final int ROUNDS_BETWEEN_FAULTS = 4;
    /** 1 MiB slots the guest cycles through, from 1 MiB on (block 0 is the test's "end" mark). */
    private static final int SLOTS = 24;
    private static final Pattern ROUND = Pattern.compile("BASALT-GUEST-ROUND (\\d+) ok");
    private static final Pattern GUEST_OK = Pattern.compile("BASALT-GUEST-OK rounds=(\\d+) slots=(\\d+)");

    @TempDir
    Path dir;

    @Test
    void aGuestWritesThroughANodeKillAndAQuorumOutageAndEveryRoundChecks() throws Exception {
        String qemu = ClusterUpProcessTest.which("qemu-system-x86_64");
        assumeTrue(qemu != null && ClusterUpProcessTest.which("qemu-io") != null,
                "needs qemu-system-x86_64 and qemu-io (qemu-system-x86, qemu-utils, qemu-block-extra): scripts/install-test-deps.sh");
        GuestImage.Kernel kernel = GuestImage.Kernel.find(Path.of("/boot"), Path.of("/lib/modules"));
        assumeTrue(kernel != null, "no kernel image /boot/vmlinuz-VERSION with /lib/modules/VERSION/modules.dep (linux-image-amd64): scripts/install-test-deps.sh");
        Path initrd = dir.resolve("initrd.cpio");
        Files.write(initrd, GuestImage.virtioDiskInitramfs(kernel, GuestOnClusterProcessTest::initScript));

        try (ClusterUp cluster = ClusterUp.start(dir.resolve("cluster"), "64M", "--io-timeout-ms", Long.toString(IO_TIMEOUT.toMillis()))) {
            Path console = dir.resolve("console.log");
            Path qemuLog = dir.resolve("qemu.log");
            Files.createFile(console);
            List<String> command = GuestImage.qemuCommand(qemu, console, cluster.url());
            command.addAll(List.of("-kernel", kernel.image().toString(), "-initrd", initrd.toString(), "-append", GuestImage.KERNEL_COMMAND_LINE));
            Process guest = cluster.track(new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(qemuLog.toFile()).start());
            Watch watch = new Watch(guest, console, qemuLog);

            int round = watch.awaitRound(ROUNDS_BETWEEN_FAULTS);
            cluster.kill(2);
            System.out.println("[guest] node 2 killed after round " + round);
            round = watch.awaitRound(round + ROUNDS_BETWEEN_FAULTS);
            cluster.restart(2);
            System.out.println("[guest] node 2 restarted after round " + round);
            round = watch.awaitRound(round + ROUNDS_BETWEEN_FAULTS);

            cluster.kill(2);
            cluster.kill(3);
            System.out.println("[guest] nodes 2 and 3 killed after round " + round + " (no quorum anywhere) for " + OUTAGE.toSeconds() + " s");
            Thread.sleep(OUTAGE.toMillis());
            watch.check();
            int during = watch.lastRound();
            cluster.restart(2);
            cluster.restart(3);
            System.out.println("[guest] nodes 2 and 3 restarted; the guest reached round " + during + " during the outage");
            round = watch.awaitRound(during + ROUNDS_BETWEEN_FAULTS);

            // The end mark: the guest reads block 0 after every round.
            ClusterUp.assertQemuIo(cluster.url(), "write -P 0x45 0 512", "wrote 512/512 bytes", STEP_TIMEOUT.toSeconds());
            Matcher ok = watch.awaitOk();
            System.out.println("[guest] " + ok.group() + "; qemu: " + Files.readString(qemuLog).strip().lines().filter(l -> l.contains("Busy")).count()
                    + " BUSY retries");
            assertTrue(Integer.parseInt(ok.group(1)) >= round, ok.group());
            String qemuOut = Files.readString(qemuLog, StandardCharsets.ISO_8859_1);
            assertTrue(qemuOut.contains("iSCSI Busy"), "QEMU was never answered BUSY, so the outage did not outlast the I/O timeout:\n" + qemuOut);
            assertTrue(guest.waitFor(60, TimeUnit.SECONDS), "the guest did not power off after OK");
        }
    }

    /** Follows the guest's serial console; every wait fails at once on a FAIL line, a kernel I/O error or QEMU exiting. */
    private record Watch(Process guest, Path console, Path qemuLog) {
        int awaitRound(int atLeast) throws IOException, InterruptedException {
            long deadline = System.nanoTime() + STEP_TIMEOUT.toNanos();
            while (lastRound() < atLeast) {
                check();
                assertTrue(System.nanoTime() < deadline, "the guest did not reach round " + atLeast + " within " + STEP_TIMEOUT + diagnostics());
                Thread.sleep(200);
            }
            return lastRound();
        }

        Matcher awaitOk() throws IOException, InterruptedException {
            long deadline = System.nanoTime() + STEP_TIMEOUT.toNanos();
            while (true) {
                Matcher ok = GUEST_OK.matcher(text());
                if (ok.find()) {
                    check();
                    return ok;
                }
                check();
                assertTrue(System.nanoTime() < deadline, "no OK line from the guest within " + STEP_TIMEOUT + diagnostics());
                Thread.sleep(200);
            }
        }

        int lastRound() throws IOException {
            Matcher m = ROUND.matcher(text());
            int last = 0;
            while (m.find()) {
                last = Integer.parseInt(m.group(1));
            }
            return last;
        }

        void check() throws IOException {
            String text = text();
            Matcher fail = GuestImage.GUEST_FAIL.matcher(text);
            assertFalse(fail.find(), () -> "guest reported: " + fail.group() + diagnostics());
            assertFalse(text.contains("I/O error"), () -> "the guest's kernel logged an I/O error" + diagnostics());
            assertTrue(guest.isAlive() || GUEST_OK.matcher(text).find(), () -> "qemu exited with " + guest.exitValue() + diagnostics());
        }

        String text() throws IOException {
            return Files.readString(console, StandardCharsets.ISO_8859_1);
        }

        String diagnostics() {
            try {
                return "\n--- serial console (tail) ---\n" + ClusterUpProcessTest.tail(text())
                        + "\n--- qemu output ---\n" + ClusterUpProcessTest.tail(Files.readString(qemuLog, StandardCharsets.ISO_8859_1));
            } catch (IOException e) {
                return "\n(console unreadable: " + e + ")";
            }
        }
    }

    /**
     * The guest's /init (busybox ash): rounds of write, fsync, O_DIRECT read-back and SHA-256 check
     * of 1 MiB slots, until block 0 holds the test's end mark ('E's); then every slot is read again
     * and checked against the sum its last round recorded. A step that fails prints FAIL and powers off.
     */
    static String initScript(List<String> moduleFiles) {
        return GuestImage.initPrelude(moduleFiles) + """
                round=0
                while :; do
                  round=$((round + 1))
                  slot=$(( (round - 1) %% %d ))
                  at=$(( 16 + slot * 16 ))
                  dd if=/dev/urandom of=/tmp/p bs=65536 count=16 2>/dev/null || fail "round $round: urandom"
                  sum=$(sha256sum /tmp/p | cut -d' ' -f1)
                  dd if=/tmp/p of=/dev/vda bs=65536 seek=$at conv=fsync 2>/tmp/err || fail "round $round: write of slot $slot: $(cat /tmp/err)"
                  got=$(dd if=/dev/vda bs=65536 skip=$at count=16 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
                  [ "$got" = "$sum" ] || fail "round $round: slot $slot read back sha256=$got (expected: $sum)"
                  echo "$sum" > /tmp/sum.$slot
                  echo "BASALT-GUEST-ROUND $round ok"
                  mark=$(dd if=/dev/vda bs=512 count=1 iflag=direct 2>/dev/null | head -c 8)
                  [ "$mark" = "EEEEEEEE" ] && break
                done
                n=0
                for slot in $(seq 0 %d); do
                  [ -f /tmp/sum.$slot ] || continue
                  got=$(dd if=/dev/vda bs=65536 skip=$(( 16 + slot * 16 )) count=16 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
                  [ "$got" = "$(cat /tmp/sum.$slot)" ] || fail "at the end: slot $slot sha256=$got (expected: $(cat /tmp/sum.$slot))"
                  n=$((n + 1))
                done
                echo "BASALT-GUEST-OK rounds=$round slots=$n"
                sync
                poweroff -f
                sleep 60
                """.formatted(SLOTS, SLOTS - 1);
    }
}
