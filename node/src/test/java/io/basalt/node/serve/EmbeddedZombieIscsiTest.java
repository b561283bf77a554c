package io.basalt.node.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.node.locks.EmbeddedLocks;
import io.basalt.node.locks.LockedStore;
import io.basalt.vdisk.store.Vdisk;
import io.basalt.vdisk.store.VdiskStore;

/**
 * The zombie test on the embedded store, over real iSCSI: one serving process (this JVM's
 * {@link Exporter}), two hosts that are two initiators ({@code qemu-io}, QEMU's libiscsi client)
 * with different IQNs. A holds the lock and writes numbered blocks; A is frozen (SIGSTOP) past its
 * lease while its iSCSI connection stays open; B takes the lock and writes; A resumes and keeps
 * writing through the same iSCSI session, with its old token. Zero of A's writes after B's fence
 * are applied, every block holds B's data, A's data from before the takeover, or nothing, and A
 * is told (its writes fail: DATA PROTECT, which QEMU reports as EACCES).
 *
 * <p>With {@code -Dbasalt.test.skipEngineFences=true} (EmbeddedLocks's test switch) the engine's
 * fences are never raised and this test fails: A's resumed writes land.
 */
class EmbeddedZombieIscsiTest {
    private static final String IQN = "iqn.2026-11.io.basalt:zombie";
    private static final String HOST_A = "iqn.2026-11.io.basalt:host-a";
    private static final String HOST_B = "iqn.2026-11.io.basalt:host-b";
    private static final Duration LEASE = Duration.ofSeconds(1);
    private static final int BLOCK = 4096;
    private static final int BLOCK_COUNT = 160;
    /** A is frozen once it has written this many blocks. */
    private static final int FREEZE_AT = 40;
    /** B writes blocks 0 .. this - 1. */
    private static final int B_BLOCKS = 24;
    private static final byte A = (byte) 0xaa;
    private static final byte B = (byte) 0xbb;
    private static final Duration STEP_WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void aFrozenInitiatorsWritesAfterAnotherHostTookTheLockAreRefused() throws Exception {
        String qemuIo = which("qemu-io");
        assumeTrue(qemuIo != null, "qemu-io is not installed (Debian: apt-get install qemu-utils qemu-block-extra)");
        TargetsFile.Config config = new TargetsFile.Config(List.of(new TargetsFile.Target(IQN, new TreeMap<>(Map.of(0, "web1")), List.of(), null)));
        try (VdiskStore store = VdiskStore.open(dir.resolve("store"))) {
            store.create("web1", (long) BLOCK_COUNT * BLOCK, 512, BLOCK);
            List<Process> started = new ArrayList<>();
            try (EmbeddedLocks locks = EmbeddedLocks.open(store).startLeaseMonitor();
                 Exporter exporter = Exporter.start(LockedStore.embedded(store, locks), config, "127.0.0.1", 0, LEASE);
                 Vdisk check = store.open("web1")) {
                int port = exporter.address().getPort();
                List<String> aCommands = new ArrayList<>();
                for (int i = 0; i < BLOCK_COUNT; i++) {
                    aCommands.add("write -P 0xaa " + (long) i * BLOCK + " " + BLOCK);
                    aCommands.add("sleep 20");
                }
                Process a = start(started, qemuIo, port, HOST_A, aCommands, dir.resolve("a.log"));
                awaitTrue(() -> firstByte(check, FREEZE_AT) == A, "A wrote block " + FREEZE_AT);
                signal(a, "STOP");
                long frozenAt = System.nanoTime();
                awaitTrue(() -> locks.sessions().stream().noneMatch(s -> s.host().equals(HOST_A)), "A's session expired");
                double expiredAfterSeconds = (System.nanoTime() - frozenAt) / 1e9;

                Process b = start(started, qemuIo, port, HOST_B, List.of("write -P 0xbb 0 " + B_BLOCKS * BLOCK), dir.resolve("b.log"));
                assertTrue(b.waitFor(STEP_WAIT.toSeconds(), TimeUnit.SECONDS), "B finished");
                String bLog = Files.readString(dir.resolve("b.log"));
                assertTrue(bLog.contains("wrote " + B_BLOCKS * BLOCK + "/" + B_BLOCKS * BLOCK), "B's write went through:\n" + bLog);
                TreeSet<Integer> aBeforeTakeover = blocksHolding(check, A);

                signal(a, "CONT");
                assertTrue(a.waitFor(STEP_WAIT.toSeconds(), TimeUnit.SECONDS), "A finished");
                String aOut = Files.readString(dir.resolve("a.log"));
                String aErr = Files.readString(errorLog(dir.resolve("a.log")));
                String aLog = aOut + "\n--- stderr ---\n" + aErr;
                int refused = count(aOut, "write failed: Permission denied");
                TreeSet<Integer> aTold = new TreeSet<>();
                Matcher m = Pattern.compile("wrote 4096/4096 bytes at offset (\\d+)").matcher(aOut);
                while (m.find()) {
                    aTold.add((int) (Long.parseLong(m.group(1)) / BLOCK));
                }
                System.out.printf("zombie over iSCSI: A frozen after %d blocks, its session expired %.2f s later; A was told %d writes"
                        + " succeeded and %d were refused; %d blocks hold A's data from before the takeover%n",
                        FREEZE_AT, expiredAfterSeconds, aTold.size(), refused, aBeforeTakeover.size());

                assertTrue(refused >= 1, "A was told it was fenced:\n" + aLog);
                assertEquals(BLOCK_COUNT, aTold.size() + refused, "every write of A was answered:\n" + aLog);
                for (int i = 0; i < BLOCK_COUNT; i++) {
                    byte got = firstByte(check, i);
                    byte expected = i < B_BLOCKS ? B : aBeforeTakeover.contains(i) ? A : 0;
                    assertEquals(expected, got, "block " + i + " (B wrote 0.." + (B_BLOCKS - 1) + ", A before the takeover "
                            + aBeforeTakeover.first() + ".." + aBeforeTakeover.last() + ")");
                    assertTrue(uniform(check, i, got), "block " + i + " is whole");
                }
                assertTrue(aBeforeTakeover.containsAll(aTold.tailSet(B_BLOCKS)), "A was told success only for writes that landed before B's fence");
            } finally {
                for (Process p : started) {
                    if (p.isAlive()) {
                        signal(p, "CONT");
                        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                    }
                }
            }
        }
    }

    private static Process start(List<Process> started, String qemuIo, int port, String host, List<String> commands, Path log) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(qemuIo, "--image-opts"));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        cmd.add("driver=iscsi,transport=tcp,portal=127.0.0.1:" + port + ",target=" + IQN + ",lun=0,initiator-name=" + host);
        // qemu-io's answers (stdout: "wrote ...", "write failed: ...") apart from libiscsi's sense
        // messages (stderr): written to one file their lines interleave mid-line, and a split
        // answer would be counted as neither.
        Process p = new ProcessBuilder(cmd).redirectOutput(log.toFile()).redirectError(errorLog(log).toFile()).start();
        started.add(p);
        return p;
    }

    private static void signal(Process p, String signal) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid())).inheritIO().start();
        assertTrue(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0, "kill -" + signal + " " + p.pid());
    }

    private interface Check {
        boolean holds() throws Exception;
    }

    private static void awaitTrue(Check check, String what) throws Exception {
        long deadline = System.nanoTime() + STEP_WAIT.toNanos();
        while (!check.holds()) {
            assertTrue(System.nanoTime() < deadline, "not within " + STEP_WAIT + ": " + what);
            Thread.sleep(20);
        }
    }

    private static byte firstByte(Vdisk v, int block) {
        return v.read((long) block * BLOCK / 512, BLOCK / 512).join().get(0);
    }

    private static boolean uniform(Vdisk v, int block, byte value) {
        ByteBuffer b = v.read((long) block * BLOCK / 512, BLOCK / 512).join();
        while (b.hasRemaining()) {
            if (b.get() != value) {
                return false;
            }
        }
        return true;
    }

    private static TreeSet<Integer> blocksHolding(Vdisk v, byte value) {
        TreeSet<Integer> out = new TreeSet<>();
        for (int i = 0; i < BLOCK_COUNT; i++) {
            if (firstByte(v, i) == value) {
                out.add(i);
            }
        }
        return out;
    }

    private static int count(String text, String needle) {
        int n = 0;
        for (int at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
            n++;
        }
        return n;
    }

    private static String which(String name) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path exe = Path.of(d, name);
            if (Files.isExecutable(exe)) {
                return exe.toString();
            }
        }
        return null;
    }

    private static Path errorLog(Path log) {
        return log.resolveSibling(log.getFileName() + ".err");
    }
}
