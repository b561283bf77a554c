package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kill -9 at random points: a child JVM ({@link CrashWriter}) writes with 16 I/Os in flight and
 * is killed with SIGKILL; after each kill the store is reopened (no repair step) and checked:
 * <ul>
 *   <li>every acknowledged write is there, unless a later write over the same block replaced it;</li>
 *   <li>every block holds whole data of one write that was issued for it (or zeros);</li>
 *   <li>writes are atomic: a write found in any of its blocks is found in all of them that no
 *       later write covers.</li>
 * </ul>
 */
class CrashTest {
    static final int ROUNDS = 4;

    @TempDir
    Path dir;

    record Issued(long seq, long lba, int count) {}

    @Test
    void acknowledgedWritesSurviveKillNine() throws Exception {
        killNineRounds("small");
    }

    /** Every second write 1 MiB, grain-aligned: their data goes to extent files (ExtentWrites). */
    @Test
    void acknowledgedLargeWritesSurviveKillNine() throws Exception {
        killNineRounds("large");
        try (var files = java.nio.file.Files.list(dir.resolve(ExtentFiles.DIR))) {
            assertTrue(files.findAny().isPresent(), "1 MiB aligned writes were to go to extent files, and none was written");
        }
    }

    private void killNineRounds(String mode) throws Exception {
        long seed = System.nanoTime();
        System.out.println("CrashTest seed=" + seed);
        Random rnd = new Random(seed);
        Map<Long, Issued> issued = new HashMap<>();
        Set<Long> acked = new HashSet<>();
        long seqBase = 1;
        for (int round = 0; round < ROUNDS; round++) {
            runAndKill(seqBase, rnd.nextLong(), 300 + rnd.nextInt(1500), issued, acked, mode);
            seqBase = issued.keySet().stream().mapToLong(Long::longValue).max().orElse(0) + 1_000_000;
            verify(issued, acked, "seed=" + seed + " round=" + round);
            System.out.println("CrashTest " + mode + " round " + round + ": " + issued.size() + " writes issued, " + acked.size() + " acknowledged, all found");
        }
        assertTrue(acked.size() > 100, "too few acknowledged writes to mean anything: " + acked.size());
    }

    private void runAndKill(long seqBase, long childSeed, long runMs, Map<Long, Issued> issued, Set<Long> acked, String mode) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), CrashWriter.class.getName(),
                dir.toString(), Long.toString(seqBase), Long.toString(childSeed), mode);
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        Process child = pb.start();
        try {
            Thread reader = Thread.ofPlatform().start(() -> readLog(child, issued, acked));
            // Wait until the child is writing, then let it run a random while.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (countAcked(acked) == 0 && System.nanoTime() < deadline && child.isAlive()) {
                Thread.sleep(20);
            }
            Thread.sleep(runMs);
            assertTrue(child.isAlive(), "the writer died by itself, exit " + (child.isAlive() ? "" : child.exitValue()));
            child.destroyForcibly(); // SIGKILL on Linux
            assertTrue(child.waitFor(30, TimeUnit.SECONDS), "child did not die");
            reader.join(10_000);
        } finally {
            if (child.isAlive()) {
                child.destroyForcibly();
            }
        }
    }

    private static int countAcked(Set<Long> acked) {
        synchronized (acked) {
            return acked.size();
        }
    }

    private static void readLog(Process child, Map<Long, Issued> issued, Set<Long> acked) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.US_ASCII))) {
            for (String line; (line = in.readLine()) != null; ) {
                String[] f = line.split(" ");
                if (f[0].equals("I") && f.length == 4) {
                    synchronized (issued) {
                        issued.put(Long.parseLong(f[1]), new Issued(Long.parseLong(f[1]), Long.parseLong(f[2]), Integer.parseInt(f[3])));
                    }
                } else if (f[0].equals("A") && f.length == 2) {
                    synchronized (acked) {
                        acked.add(Long.parseLong(f[1]));
                    }
                }
            }
        } catch (java.io.IOException e) {
            // the pipe breaks when the child is killed mid-line
        }
    }

    private void verify(Map<Long, Issued> issued, Set<Long> acked, String context) {
        int blocks = (int) (CrashWriter.SIZE_BYTES / CrashWriter.BLOCK);
        long[] found = new long[blocks];
        try (VdiskStore store = VdiskStore.open(dir); Vdisk disk = store.open(CrashWriter.VDISK)) {
            ByteBuffer all = disk.read(0, blocks).join();
            byte[] block = new byte[CrashWriter.BLOCK];
            byte[] zeros = new byte[CrashWriter.BLOCK];
            for (int b = 0; b < blocks; b++) {
                all.get(block);
                if (java.util.Arrays.equals(block, zeros)) {
                    found[b] = 0;
                    continue;
                }
                ByteBuffer view = ByteBuffer.wrap(block);
                long seq = view.getLong();
                long lba = view.getLong();
                assertEquals(b, lba, context + " block " + b + " holds data written for lba " + lba);
                byte[] want = new byte[CrashWriter.BLOCK];
                CrashWriter.fillBlock(want, 0, seq, lba);
                assertArrayEquals(want, block, context + " block " + b + " is torn (seq " + seq + ")");
                Issued w = issued.get(seq);
                if (w != null) {
                    assertTrue(b >= w.lba() && b < w.lba() + w.count(), context + " block " + b + " not covered by write " + w);
                }
                found[b] = seq;
            }
        }
        // Latest acknowledged write per block, and atomicity of every write seen.
        List<Issued> writes = new ArrayList<>(issued.values());
        writes.sort((a, c) -> Long.compare(a.seq(), c.seq()));
        long[] latestAcked = new long[blocks];
        for (Issued w : writes) {
            if (acked.contains(w.seq())) {
                for (int i = 0; i < w.count(); i++) {
                    latestAcked[(int) w.lba() + i] = w.seq();
                }
            }
        }
        for (int b = 0; b < blocks; b++) {
            if (found[b] < latestAcked[b]) {
                fail(context + " block " + b + " lost acknowledged write " + latestAcked[b] + " (holds " + found[b] + ")");
            }
        }
        for (Issued w : writes) {
            boolean seen = false;
            boolean older = false;
            for (int i = 0; i < w.count(); i++) {
                long s = found[(int) w.lba() + i];
                seen |= s == w.seq();
                older |= s < w.seq();
            }
            if (seen && older) {
                fail(context + " write " + w + " is torn: partly present, partly older data");
            }
        }
    }
}
