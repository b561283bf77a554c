package io.basalt.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import java.util.regex.MatchResult;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.client.ClusterClient;
import io.basalt.host.GuestImage;
import io.basalt.node.TestProcesses;
import io.basalt.node.cli.CliResult;
import io.basalt.node.config.Configs;
import io.basalt.node.config.EmbeddedConfigs;
import io.basalt.node.host.ConsistentSnapshots;
import io.basalt.node.mirror.MirrorConfig;
import io.basalt.node.mirror.MirrorGroups;
import io.basalt.node.mirror.MirrorService;
import io.basalt.replication.MirrorStore;
import io.basalt.vdisk.store.VdiskStore;
import io.basalt.node.host.GuestFileSystem;
import io.basalt.node.host.Inventory;
import io.basalt.node.host.SequenceGuest;
import io.basalt.node.host.VmRecord;
import io.basalt.vdisk.BlockDevice;

/**
 * Hosts on a 3-node cluster, each its own {@code basalt host run} process (lease 3 s): a guest
 * whose disk is a cluster vdisk is created and started with {@code basalt vm}, sees its disk grow when
 * {@code basalt vdisk resize} runs in another process (no reboot), is migrated live
 * between the two hosts five times there and back (its uptime, boot id and sequence go on; each
 * move prints its downtime), then HA twice: its host's agent and QEMU are SIGKILLed and the guest
 * runs on the other host within 15 s, resuming after its last synced write; then that host's agent
 * and QEMU are frozen (SIGSTOP) until the guest runs on the first host again, and thawed: the
 * frozen agent finds its session ended, kills its stale guest and rejoins, and none of the frozen
 * guest's writes lands (every block of the disk carries the boot id of the guest that owned the
 * disk when it was written, boots in order). The guest's second disk holds an ext4 file system it
 * appends synced numbers to; after all that its file system checks clean ({@code e2fsck -fn}) and the
 * file's numbers have no gap.
 */
class HostsOnClusterProcessTest {
    private static final Pattern MIGRATED = Pattern.compile("migrated g1 from (host-[ab]) to (host-[ab]): downtime (\\d+) ms, total (\\d+) ms");
    private static final Pattern RESUME = Pattern.compile("BASALT-RESUME from=(\\d+) boot=(\\w+)");
    private static final Duration STEP = Duration.ofSeconds(120);
    /** The issue's goal is 15 s (measured 11–14.5 s here, most of it a TCG boot): the test allows slack for a loaded CI machine. */
    private static final Duration HA_GOAL = Duration.ofSeconds(15);
    private static final Duration HA_BOUND = Duration.ofSeconds(60);
    private static final int ROUND_TRIPS = 5;
    private static final Pattern FS_RESUME = Pattern.compile("BASALT-FS-RESUME from=(\\d+)");
    private static final String FS_SIZE = "32M";

    @TempDir
    Path dir;

    /** A {@code basalt host run} process and its log. */
    private record Agent(String name, Process process, Path log) {
        List<ProcessHandle> qemus() {
            return process.descendants().filter(p -> p.info().command().orElse("").contains("qemu-system")).toList();
        }
    }

    private final List<Agent> agents = new ArrayList<>();
    private final Map<String, Long> timings = new ConcurrentHashMap<>();

    @Test
    void aGuestMigratesFiveRoundTripsThenRestartsElsewhereWhenItsHostIsKilledAndWhenItIsFrozen() throws Exception {
        String qemu = TestProcesses.which("qemu-system-x86_64");
        assumeTrue(qemu != null, "needs qemu-system-x86_64 (qemu-system-x86, qemu-block-extra): scripts/install-test-deps.sh");
        SequenceGuest guest = SequenceGuest.build(dir);
        assumeTrue(guest != null, "no kernel image in /boot with its modules (linux-image-amd64): scripts/install-test-deps.sh");
        GuestFileSystem fs = GuestFileSystem.find();
        assumeTrue(fs != null, GuestFileSystem.MISSING);
        Path clusterDir = dir.resolve("cluster");
        try (ClusterUp c = ClusterUp.start(clusterDir, "64M", "--vdisk", "g1-disk");
             ClusterClient client = ClusterClient.open(io.basalt.node.cluster.ClusterFile.read(clusterDir.resolve("cluster.json")).clientConfig(clusterDir.resolve("cluster.json")))) {
            try {
                Inventory inventory = new Inventory(Configs.of(client.configs()));
                Agent a = startAgent(c, "host-a");
                Agent b = startAgent(c, "host-b");
                // cluster up makes a TLS cluster: its agents serve HTTPS, and every call below (CLI to agent, agent to agent) is over it.
                await("both agents registered", () -> inventory.host("host-a").isPresent() && inventory.host("host-b").isPresent());
                for (String h : List.of("host-a", "host-b")) {
                    String api = inventory.host(h).orElseThrow().api();
                    assertTrue(api.startsWith("https://"), h + " registered " + api);
                }
                // A second disk with an ext4 file system on it, made on this side and imported: the guest mounts it and appends to a file.
                Path fsImage = dir.resolve("g1-fs.img");
                fs.make(fsImage, "g1fs", FS_SIZE);
                cli("vdisk", "import", fsImage.toString(), "g1-fs");
                cli("vm", "create", "g1", "--memory", "128M", "--disk", "g1-disk", "--disk", "g1-fs", "--kernel", guest.kernel().toString(),
                        "--initrd", guest.initrd().toString(), "--append", GuestImage.KERNEL_COMMAND_LINE + " basalt.fs=vdb");
                assertEquals("started vm g1 on host-a\n", cli("vm", "start", "g1", "--on", "host-a"));
                List<Path> consoles = List.of(console("host-a"), console("host-b"));
                awaitSeq(consoles, 10);
                await("the guest appends to the file on its ext4 disk", () -> lastFsSeq(consoles) >= 10);
                // `basalt vdisk resize` from another process: host-a's agent passes it on, the guest's kernel sees it.
                cli("vdisk", "resize", "g1-disk", "--size", "128M");
                await("the guest sees its disk grown to 128 MiB", () -> {
                    try {
                        return SequenceGuest.hardware(console("host-a"))[2] == (128L << 20) / 512;
                    } catch (IOException e) {
                        return false;
                    }
                });
                migrateRoundTrips(consoles, inventory);
                backUpTheRunningGuest(consoles, client);
                mirrorTheRunningGuest(a, consoles, client);

                // HA 1: the agent running the guest (host-a after the round trips) and its QEMU die at once.
                long lastBeforeKill = lastSeq(consoles);
                List<ProcessHandle> qemuA = a.qemus();
                assertEquals(1, qemuA.size(), "host-a runs one QEMU: " + qemuA);
                long killedNs = System.nanoTime();
                a.process().destroyForcibly();
                qemuA.forEach(ProcessHandle::destroyForcibly);
                String bootB = awaitRestart("host-b", console("host-b"), inventory, killedNs, lastBeforeKill, "kill");
                awaitSeq(consoles, lastSeq(consoles) + 10);

                // HA 2: host-a's agent comes back; then host-b (now running the guest) is frozen with its QEMU.
                Agent a2 = startAgent(c, "host-a");
                List<ProcessHandle> qemuB = b.qemus();
                assertEquals(1, qemuB.size(), "host-b runs one QEMU: " + qemuB);
                long lastBeforeFreeze = lastSeq(consoles);
                long lastFsBeforeFreeze = lastFsSeq(consoles);
                long frozenNs = System.nanoTime();
                signal("STOP", b.process().pid());
                qemuB.forEach(q -> signal("STOP", q.pid()));
                String bootA = awaitRestart("host-a", console("host-a"), inventory, frozenNs, lastBeforeFreeze, "freeze");
                await("the guest restarted on host-a mounts its file system again", () -> FS_RESUME.matcher(read(console("host-a"))).results().count() >= 2);
                long fsResumedFrom = FS_RESUME.matcher(read(console("host-a"))).results().mapToLong(r -> Long.parseLong(r.group(1))).max().orElseThrow();
                assertTrue(fsResumedFrom >= lastFsBeforeFreeze, "the file resumed from " + fsResumedFrom + ", before the last synced " + lastFsBeforeFreeze);
                signal("CONT", b.process().pid());
                qemuB.forEach(q -> signal("CONT", q.pid()));
                await("host-b's agent, thawed, finds its session ended and kills its stale guest", () -> read(b.log()).contains("stale guests and rejoining")
                        && qemuB.stream().noneMatch(ProcessHandle::isAlive));
                awaitSeq(consoles, lastSeq(consoles) + 10);
                assertTrue(a2.process().isAlive(), "host-a's agent runs");

                assertEquals("killed vm g1 on host-a (stopped)\n", cli("vm", "kill", "g1"));
                long last = lastSeq(consoles);
                try (BlockDevice disk = client.open("g1-disk")) {
                    List<String> boots = SequenceGuest.checkSequenceOnDisk(disk, last);
                    String bootFirst = boots.get(0);
                    assertEquals(List.of(bootFirst, bootB, bootA), List.copyOf(new LinkedHashSet<>(boots)),
                            "the boots that wrote the disk, in block order: the first guest, the one restarted on host-b, the one restarted"
                                    + " on host-a; a write of the frozen guest after the restart would show its boot again");
                    assertEquals(List.of(bootFirst, bootB, bootA), runs(boots), "each boot wrote one run of blocks");
                }
                checkFileSystem(fs, lastFsSeq(consoles));
                System.out.println("[hosts] timings ms: " + timings);
            } finally {
                stopAgents();
            }
        }
    }

    /**
     * {@code backup create --vm} of the running guest on a cluster: both disks snapshotted at one
     * instant through the host that runs it (the guest paused, so no write is in one placement
     * group's part and not another's), held shared-read meanwhile; the backup of the boot disk,
     * restored to a new vdisk, holds the guest's sequence whole up to at least what it had synced
     * before the backup began.
     */
    private void backUpTheRunningGuest(List<Path> consoles, ClusterClient client) throws Exception {
        long startNs = System.nanoTime();
        Path repo = dir.resolve("repo");
        long syncedBefore = lastSeq(consoles);
        String made = cli("backup", "create", "--vm", "g1", "--to", repo.toString());
        assertTrue(made.contains("holding g1-disk, g1-fs shared-read"), made);
        assertTrue(made.contains("through host host-a, which runs vm g1 (guest paused"), made);
        Matcher id = Pattern.compile("backup (\\S+) of g1-disk@").matcher(made);
        assertTrue(id.find(), made);
        cli("backup", "restore", "--repo", repo.toString(), id.group(1), "--to-vdisk", "g1-restored");
        try (BlockDevice restored = client.open("g1-restored")) {
            long inBackup = SequenceGuest.sequenceLength(restored);
            assertTrue(inBackup >= syncedBefore, "the backup holds seq " + inBackup + "; the guest had synced " + syncedBefore + " before it");
            SequenceGuest.checkSequenceOnDisk(restored, inBackup);
        }
        assertTrue(client.locks().lock("g1-disk").orElseThrow().holders().size() == 1, "the backup's shared-read lock is gone");
        timings.put("backup of the running guest", ms(System.nanoTime() - startNs));
    }

    /**
     * The running guest's two disks mirrored from the cluster as one consistency group to an
     * embedded site (both mirror services in this JVM, as a site's mirroring gateway runs them):
     * every round's snapshots are taken by the host that runs the guest, one pause for both disks
     * (its log says so, once per round), and the replica's boot disk at the group's round holds the
     * guest's sequence whole, up to at least what the guest had synced before the group began.
     */
    private void mirrorTheRunningGuest(Agent host, List<Path> consoles, ClusterClient client) throws Exception {
        long startNs = System.nanoTime();
        List<String> disks = List.of("g1-disk", "g1-fs");
        Pattern paused = Pattern.compile("snapshot (mirror-\\d+) of vm g1 on " + host.name() + " \\(guest paused (\\d+) ms\\)");
        long pausesBefore = paused.matcher(read(host.log())).results().count();
        io.basalt.node.datastore.Datastore.Cluster cluster = new io.basalt.node.datastore.Datastore.Cluster(client); // not closed: the client is the test's
        MirrorStore siteA = ConsistentSnapshots.mirrorSite(cluster);
        MirrorConfig configA = new MirrorConfig(cluster.configs());
        configA.initSite("site-a");
        long syncedBefore = lastSeq(consoles);
        long round;
        try (VdiskStore storeB = VdiskStore.open(dir.resolve("site-b"), new VdiskStore.Options(64L << 20, 2, 0))) {
            EmbeddedConfigs configsB = EmbeddedConfigs.open(storeB);
            MirrorConfig configB = new MirrorConfig(configsB);
            configB.initSite("site-b");
            MirrorStore siteB = MirrorStore.of(storeB);
            byte[] raw = new byte[32];
            new java.security.SecureRandom().nextBytes(raw);
            String secret = java.util.Base64.getEncoder().encodeToString(raw);
            try (MirrorService b = MirrorService.start(storeB, configsB, new InetSocketAddress("127.0.0.1", 0), dir.resolve("site-b-staging"));
                 MirrorService a = MirrorService.start(siteA, cluster.configs(), new InetSocketAddress("127.0.0.1", 0), dir.resolve("site-a-staging"))) {
                configA.putPeer(new MirrorConfig.Peer("site-b", "127.0.0.1:" + b.address().getPort(), secret, 0));
                configB.putPeer(new MirrorConfig.Peer("site-a", "127.0.0.1:" + a.address().getPort(), secret, 0));
                MirrorGroups.create(siteA, configA, new MirrorConfig.Group("g1", "site-b", 1000, disks));
                await("three group rounds of the running guest's disks on site b",
                        () -> MirrorGroups.consistentRound(siteB, disks).orElse(0) >= 3);
            }
            round = MirrorGroups.consistentRound(siteB, disks).orElseThrow();
            try (BlockDevice replica = storeB.open("g1-disk@mirror-" + round)) {
                long inReplica = SequenceGuest.sequenceLength(replica);
                assertTrue(inReplica >= syncedBefore, "the replica holds seq " + inReplica + "; the guest had synced " + syncedBefore + " before");
                SequenceGuest.checkSequenceOnDisk(replica, inReplica);
            }
        } finally {
            if (configA.group("g1").isPresent()) {
                MirrorGroups.removeRecords(siteA, configA, "g1"); // its mirror snapshots on the cluster go too
            }
        }
        List<MatchResult> pauses = paused.matcher(read(host.log())).results().skip(pausesBefore).toList();
        assertTrue(pauses.stream().anyMatch(p -> p.group(1).equals("mirror-" + round)),
                "host " + host.name() + " took mirror-" + round + " of both disks: " + pauses.stream().map(MatchResult::group).toList());
        assertTrue(pauses.size() >= round, "one pause per round, taken by the host: " + pauses.size() + " for " + round + " rounds");
        System.out.println("[hosts] mirror group of the running guest: " + round + " rounds through " + host.name() + ", guest paused ms "
                + pauses.stream().map(p -> p.group(2)).toList());
        timings.put("mirror group of the running guest", ms(System.nanoTime() - startNs));
    }

    /**
     * The guest's file system after the kill of its last QEMU (the freeze's restart and the kill are
     * crashes to it): exported to a raw image, its journal replayed (what a mount or fsck does
     * first), then {@code e2fsck -fn} finds it clean, and /seq holds 1, 2, ... with no gap or
     * repeat, up to at least the last number a guest synced.
     */
    private void checkFileSystem(GuestFileSystem fs, long lastSynced) throws Exception {
        long startNs = System.nanoTime();
        Path raw = dir.resolve("g1-fs-after.raw");
        cli("vdisk", "export", "g1-fs", raw.toString());
        int lines = fs.check(raw, lastSynced);
        timings.put("fs check", ms(System.nanoTime() - startNs));
        System.out.println("[hosts] the guest's ext4: e2fsck -fn clean; /seq 1.." + lines + " with no gap (last synced " + lastSynced + ")");
    }

    private static long lastFsSeq(List<Path> consoles) {
        try {
            return SequenceGuest.lastFsSeq(consoles);
        } catch (IOException e) {
            return 0;
        }
    }

    private void migrateRoundTrips(List<Path> consoles, Inventory inventory) throws Exception {
        List<Long> downtimes = new ArrayList<>();
        List<Long> totals = new ArrayList<>();
        for (int i = 0; i < 2 * ROUND_TRIPS; i++) {
            String to = i % 2 == 0 ? "host-b" : "host-a";
            long before = lastSeq(consoles);
            String line = cli("vm", "migrate", "g1", "--to", to).strip();
            Matcher m = MIGRATED.matcher(line);
            assertTrue(m.matches(), line);
            assertEquals(to, m.group(2));
            downtimes.add(Long.parseLong(m.group(3)));
            totals.add(Long.parseLong(m.group(4)));
            assertEquals(to, inventory.vm("g1").orElseThrow().host());
            awaitSeq(consoles, before + 10);
        }
        List<double[]> ticks = new ArrayList<>(SequenceGuest.ticks(consoles));
        ticks.sort(java.util.Comparator.comparingDouble(x -> x[0]));
        for (int i = 1; i < ticks.size(); i++) {
            assertEquals(ticks.get(i - 1)[0] + 1, ticks.get(i)[0], "seq after " + (long) ticks.get(i - 1)[0]);
            assertTrue(ticks.get(i)[1] >= ticks.get(i - 1)[1], "uptime went back at seq " + (long) ticks.get(i)[0] + ": the guest restarted");
        }
        assertEquals(1, new LinkedHashSet<>(SequenceGuest.boots(consoles)).size(), "one boot throughout the migrations");
        List<Long> sorted = downtimes.stream().sorted().toList();
        System.out.printf("[hosts] %d migrations: downtime ms %s (p50 %d, max %d); total ms %s%n", downtimes.size(), downtimes,
                sorted.get(sorted.size() / 2), sorted.get(sorted.size() - 1), totals);
    }

    /**
     * Waits for the guest to run on {@code host} after its old host was killed or frozen at
     * {@code sinceNs}: the record moves (detection and fencing: the old session expired), the agent
     * reports it running (start), the guest prints its resume line (first output), within the HA
     * goal, resuming at or after {@code lastSynced}. Returns the new boot's id.
     */
    private String awaitRestart(String host, Path console, Inventory inventory, long sinceNs, long lastSynced, String what) throws Exception {
        long deadline = sinceNs + STEP.toNanos();
        long movedNs = 0;
        long runningNs = 0;
        int resumesBefore = resumes(console).size();
        while (true) {
            assertTrue(System.nanoTime() < deadline, what + ": the guest did not restart on " + host + " within " + STEP + "; record "
                    + inventory.vm("g1") + "; agents' logs:\n" + agentLogs());
            Optional<VmRecord> vm = inventory.vm("g1");
            if (movedNs == 0 && vm.isPresent() && vm.get().host().equals(host)) {
                movedNs = System.nanoTime();
            }
            if (runningNs == 0 && movedNs != 0 && vm.get().state() == VmRecord.State.RUNNING) {
                runningNs = System.nanoTime();
            }
            List<Matcher> resumes = resumes(console);
            if (resumes.size() > resumesBefore) {
                long outputNs = System.nanoTime();
                Matcher r = resumes.get(resumes.size() - 1);
                assertTrue(Long.parseLong(r.group(1)) >= lastSynced, what + ": resumed from " + r.group(1) + ", before the last synced " + lastSynced);
                timings.put(what + " detect+fence", ms(movedNs - sinceNs));
                timings.put(what + " started", ms((runningNs == 0 ? outputNs : runningNs) - sinceNs));
                timings.put(what + " first output", ms(outputNs - sinceNs));
                if (outputNs - sinceNs > HA_GOAL.toNanos()) {
                    System.out.println("[hosts] " + what + ": first output after " + ms(outputNs - sinceNs) + " ms, over the goal of " + HA_GOAL.toMillis() + " ms");
                }
                assertTrue(outputNs - sinceNs <= HA_BOUND.toNanos(), what + ": the guest's first output on " + host + " came "
                        + ms(outputNs - sinceNs) + " ms after the " + what + " (bound: " + HA_BOUND.toMillis() + " ms); timings " + timings + "; agents' logs:\n"
                        + agentLogs());
                return r.group(2);
            }
            Thread.sleep(50);
        }
    }

    private static List<Matcher> resumes(Path console) throws IOException {
        List<Matcher> out = new ArrayList<>();
        Matcher m = RESUME.matcher(read(console));
        while (m.find()) {
            out.add(RESUME.matcher(m.group()));
            out.get(out.size() - 1).matches();
        }
        return out;
    }

    private static List<String> runs(List<String> boots) {
        List<String> runs = new ArrayList<>();
        for (String b : boots) {
            if (runs.isEmpty() || !runs.get(runs.size() - 1).equals(b)) {
                runs.add(b);
            }
        }
        return runs;
    }

    private Agent startAgent(ClusterUp c, String name) throws Exception {
        Path log = dir.resolve("agent-" + name + "-" + agents.size() + ".log");
        ProcessBuilder pb = TestProcesses.basalt("host", "run", "--cluster", dir.resolve("cluster").toString(), "--name", name,
                "--vcpus", "2", "--memory", "1G", "--accel", "tcg", "--lease", "3000", "--run-dir", dir.resolve("run-" + name).toString());
        pb.redirectOutput(log.toFile());
        Agent agent = new Agent(name, c.track(pb.start()), log);
        agents.add(agent);
        await(name + "'s agent runs", () -> read(log).contains("host " + name + " running"));
        return agent;
    }

    private void stopAgents() {
        for (Agent a : agents) {
            signal("CONT", a.process().pid());
            List<ProcessHandle> children = a.process().descendants().toList();
            a.process().destroyForcibly();
            children.forEach(ProcessHandle::destroyForcibly);
        }
    }

    private Path console(String host) {
        return dir.resolve("run-" + host).resolve("g1").resolve("console.log");
    }

    private String cli(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--cluster", dir.resolve("cluster").toString()));
        CliResult r = CliResult.run(all.toArray(String[]::new));
        assertEquals(0, r.exit(), () -> "basalt " + String.join(" ", all) + ": " + r.err() + "\nagents' logs:\n" + agentLogs());
        return r.out();
    }

    private String agentLogs() {
        StringBuilder sb = new StringBuilder();
        for (Agent a : agents) {
            sb.append("--- ").append(a.log()).append('\n').append(read(a.log()));
        }
        for (String host : List.of("host-a", "host-b")) {
            for (Path p : List.of(console(host), console(host).resolveSibling("qemu.log"))) {
                String text = read(p);
                sb.append("--- ").append(p).append(" (end)\n").append(text.substring(Math.max(0, text.length() - 3000))).append('\n');
            }
        }
        return sb.toString();
    }

    private static void signal(String signal, long pid) {
        try {
            new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start().waitFor();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static long lastSeq(List<Path> consoles) throws IOException {
        return SequenceGuest.ticks(consoles).stream().mapToLong(x -> (long) x[0]).max().orElse(0);
    }

    private void awaitSeq(List<Path> consoles, long atLeast) throws Exception {
        await("the guest reaches seq " + atLeast, () -> {
            try {
                return lastSeq(consoles) >= atLeast;
            } catch (IOException e) {
                return false;
            }
        });
    }

    private void await(String what, BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + STEP.toNanos();
        while (!done.getAsBoolean()) {
            assertFalse(System.nanoTime() > deadline, what + ": not within " + STEP + "; agents' logs:\n" + agentLogs());
            Thread.sleep(100);
        }
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file, StandardCharsets.ISO_8859_1) : "";
        } catch (IOException e) {
            return "";
        }
    }

    private static long ms(long nanos) {
        return nanos / 1_000_000;
    }
}
