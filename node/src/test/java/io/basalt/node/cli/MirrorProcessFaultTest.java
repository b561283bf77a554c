package io.basalt.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.LoopbackPorts;
import io.basalt.replication.MirrorRoles;
import io.basalt.replication.MirrorSnapshots;
import io.basalt.vdisk.store.Vdisk;
import io.basalt.vdisk.store.VdiskStore;

/**
 * Mirroring between two {@code basalt serve --mirror-port} processes, as operators run it, with
 * the link between them through a proxy. A writer (qemu-io over iSCSI at site A) keeps changing
 * the vdisk while the link is cut and restored, and while site B's process is killed with
 * SIGKILL three times and restarted: rounds cut mid-stream or mid-apply. Afterwards replication
 * has resumed by itself, B's replica equals A's copy at the snapshot both hold, byte for byte,
 * and B's log shows every round applied once, in order.
 */
class MirrorProcessFaultTest {
    private static final String QEMU_IO = "/usr/bin/qemu-io";
    private static final String IQN = "iqn.2026-12.io.basalt:mirror-fault";
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int SOURCES = 8;
    private static final Pattern APPLIED = Pattern.compile("vm1 round (\\d+) applied");

    @TempDir
    Path dir;

    @Test
    void mirroringResumesByItselfAfterALinkCutAndTheSecondaryKilledMidRoundAndAppliesEachRoundOnce() throws Exception {
        assumeTrue(new File(QEMU_IO).canExecute(), "qemu-io is not installed (apt-get install qemu-utils qemu-block-extra)");
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        Path secret = dir.resolve("secret");
        Files.writeString(secret, CliResult.run("site", "secret").out());
        int portal = LoopbackPorts.free();
        int mirrorA = LoopbackPorts.free();
        int mirrorB = LoopbackPorts.free();
        cli(a, "site", "init", "site-a");
        cli(b, "site", "init", "site-b");
        List<Process> started = new ArrayList<>();
        try (LinkProxy link = new LinkProxy(mirrorB)) {
            cli(a, "site", "peer", "add", "site-b", "127.0.0.1:" + link.port(), "--secret-file", secret.toString());
            cli(b, "site", "peer", "add", "site-a", "127.0.0.1:" + mirrorA, "--secret-file", secret.toString());
            cli(a, "vdisk", "create", "vm1", "--size", "64M");
            cli(a, "target", "create", IQN);
            cli(a, "target", "lun", "add", IQN, "vm1");
            cli(a, "mirror", "enable", "vm1", "--to", "site-b", "--interval", "500ms");
            Process siteA = serve(started, a, "--portal", "127.0.0.1:" + portal, "--mirror-port", Integer.toString(mirrorA));
            Process siteB = serve(started, b, "--mirror-port", Integer.toString(mirrorB));
            await("site B applied round 1", () -> !applied(b).isEmpty());
            SplittableRandom random = new SplittableRandom(7);

            // The link is cut for 3 s while the vdisk changes, then restored.
            write(portal, random, 16);
            link.cut();
            write(portal, random, 16);
            Thread.sleep(3000);
            int beforeRestore = applied(b).size();
            link.restore();
            await("a round applied after the link came back", () -> applied(b).size() > beforeRestore);

            // Site B is killed while rounds of 32 MiB flow, and started again.
            int interrupted = 0;
            for (int kill = 0; kill < 3; kill++) {
                write(portal, random, 32);
                long before = link.forwardedBytes();
                await("a round of the writes on the link", () -> link.forwardedBytes() > before + (1 << 20));
                Thread.sleep(random.nextInt(400)); // mid-stream, or past it: mid-apply
                long forwarded = link.forwardedBytes();
                Thread.sleep(50);
                boolean busy = link.forwardedBytes() > forwarded;
                siteB.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
                interrupted += busy ? 1 : 0;
                siteB = serve(started, b, "--mirror-port", Integer.toString(mirrorB));
            }
            write(portal, random, 8);
            String last = awaitCaughtUp(a, b);
            List<Long> rounds = applied(b);
            System.out.printf("mirror between processes: %d rounds applied on site B (%s), last %s; %d of 3 kills while the link carried a round;"
                    + " %d bytes through the link; site B's log: %s%n", rounds.size(), rounds, last, interrupted, link.forwardedBytes(),
                    interruptions(b));
            assertTrue(interrupted >= 1, "at least one kill struck while a round crossed the link");
            for (int i = 1; i < rounds.size(); i++) {
                assertTrue(rounds.get(i) > rounds.get(i - 1), "each round applied once, in order: " + rounds);
            }
            stop(siteA);
            stop(siteB);
            try (VdiskStore storeA = VdiskStore.open(a); VdiskStore storeB = VdiskStore.open(b)) {
                // Rounds go on while nothing changes (empty ones), so B may hold a later one than status showed.
                String held = MirrorRoles.replicaOf(storeB, "vm1").orElseThrow().lastSnapshot().orElseThrow();
                assertTrue(MirrorSnapshots.sequenceOf(held).getAsLong() >= MirrorSnapshots.sequenceOf(last).getAsLong(), held + " vs " + last);
                assertSameBytes(storeA, "vm1@" + held, storeB, "vm1@" + held);
                assertSameBytes(storeA, "vm1", storeB, "vm1@" + held); // nothing written at A after it
            }
        } finally {
            for (Process p : started) {
                p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    /** Waits until A has nothing unshipped; returns the snapshot both sites then hold. */
    private String awaitCaughtUp(Path a, Path b) throws InterruptedException {
        String[] last = new String[1];
        await("site A's mirror caught up", () -> {
            CliResult s = CliResult.run("mirror", "status", "vm1", "--format", "json", "--data", a.toString());
            Matcher lag = Pattern.compile("\"lagBytes\" : (\\d+)").matcher(s.out());
            Matcher snap = Pattern.compile("\"lastSnapshot\" : \"(mirror-\\d+)\"").matcher(s.out());
            if (s.exit() == 0 && lag.find() && lag.group(1).equals("0") && snap.find()) {
                last[0] = snap.group(1);
                return true;
            }
            return false;
        });
        return last[0];
    }

    /** What site B's log says of rounds it took up again after a restart: resumed streams, refused replays. */
    private static String interruptions(Path b) throws IOException {
        String log = Files.readString(b.resolveSibling("b.log"));
        return Pattern.compile("resuming stream").matcher(log).results().count() + " streams resumed after staged bytes, "
                + Pattern.compile("ALREADY_APPLIED|already holds").matcher(log).results().count() + " rounds refused as already applied";
    }

    /** Rounds site B's log says it applied, in log order (across its restarts). */
    private List<Long> applied(Path b) {
        List<Long> out = new ArrayList<>();
        try {
            Matcher m = APPLIED.matcher(Files.readString(b.resolveSibling("b.log")));
            while (m.find()) {
                out.add(Long.parseLong(m.group(1)));
            }
        } catch (IOException e) {
            // not written yet
        }
        return out;
    }

    /**
     * {@code count} writes of 1 MiB of random data (one of {@link #SOURCES} files, so the link
     * carries what LZ4 cannot shrink) at random MiB offsets of vm1, through site A's portal.
     */
    private void write(int portal, SplittableRandom random, int count) throws Exception {
        for (int i = 0; i < SOURCES; i++) {
            Path f = dir.resolve("random-" + i);
            if (!Files.exists(f)) {
                byte[] data = new byte[1 << 20];
                random.nextBytes(data);
                Files.write(f, data);
            }
        }
        List<String> cmd = new ArrayList<>(List.of(QEMU_IO, "--image-opts"));
        for (int i = 0; i < count; i++) {
            cmd.addAll(List.of("-c", "write -s " + dir.resolve("random-" + random.nextInt(SOURCES)) + " " + random.nextInt(64) + "M 1M"));
        }
        cmd.add("driver=iscsi,transport=tcp,portal=127.0.0.1:" + portal + ",target=" + IQN + ",lun=0,initiator-name=iqn.2026-12.io.basalt:writer");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "qemu-io: " + out);
        assertEquals(count, out.lines().filter(l -> l.startsWith("wrote ")).count(), out);
    }

    /** {@code basalt serve --data DIR OPTIONS…} in its own JVM, its output appended to DIR.log. */
    private static Process serve(List<Process> started, Path data, String... options) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-Xmx384m",
                "-cp", System.getProperty("java.class.path"), "io.basalt.node.Main",
                "serve", "--data", data.toString(), "--mirror-bind", "127.0.0.1", "--api-listen", "off"));
        cmd.addAll(List.of(options));
        Path log = data.resolveSibling(data.getFileName() + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        started.add(p);
        return p;
    }

    private static void stop(Process p) throws InterruptedException {
        p.destroy(); // SIGTERM: the serving process closes its store
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "basalt serve stopped on SIGTERM");
    }

    private static void cli(Path data, String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--data", data.toString()));
        CliResult r = CliResult.run(all.toArray(String[]::new));
        assertEquals(0, r.exit(), String.join(" ", args) + ": " + r.err());
    }

    private static void await(String what, BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!done.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "waited " + WAIT + " for " + what);
            Thread.sleep(100);
        }
    }

    private static void assertSameBytes(VdiskStore x, String specX, VdiskStore y, String specY) {
        try (Vdisk vx = x.open(specX); Vdisk vy = y.open(specY)) {
            assertEquals(vx.sizeBytes(), vy.sizeBytes(), specX + " vs " + specY + ": size");
            int chunk = (1 << 20) / vx.logicalBlockSizeBytes();
            TreeMap<Long, Integer> differ = new TreeMap<>();
            for (long lba = 0; lba < vx.blockCount(); lba += chunk) {
                ByteBuffer bx = vx.read(lba, chunk).join();
                ByteBuffer by = vy.read(lba, chunk).join();
                if (!bx.equals(by)) {
                    differ.put(lba * vx.logicalBlockSizeBytes(), bx.mismatch(by));
                }
            }
            assertTrue(differ.isEmpty(), specX + " and " + specY + " differ in the MiB at (offset, first byte differing) " + differ);
        }
    }
}
