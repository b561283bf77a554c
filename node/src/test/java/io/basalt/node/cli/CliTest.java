package io.basalt.node.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.io.TempDir;


/** The CLI end to end on a real store: what operators type, what they read back. */
class CliTest {
    @TempDir
    Path dir;

    /** {@code basalt ARGS --data DIR/store}. */
    CliResult run(String... args) {
        String[] withData = new String[args.length + 2];
        System.arraycopy(args, 0, withData, 0, args.length);
        withData[args.length] = "--data";
        withData[args.length + 1] = dir.resolve("store").toString();
        return CliResult.run(withData);
    }

    @Test
    void vdiskLifecycleLikeRbd() throws Exception {
        assertEquals(0, run("vdisk", "create", "web1", "--size", "64M").exit());
        CliResult info = run("vdisk", "info", "web1");
        assertTrue(info.out().contains("size:          64 MiB"), info.out());
        assertTrue(info.out().contains("used:          0 B"), info.out());

        byte[] data = new byte[10_000];
        new Random(5).nextBytes(data);
        Path in = dir.resolve("in.bin");
        Files.write(in, data);
        CliResult w = run("vdisk", "write", "web1", "--offset", "1000", "--input", in.toString());
        assertEquals(0, w.exit(), w.err());
        assertTrue(w.out().contains("wrote 10000 bytes to web1 at offset 1000"), w.out());

        CliResult snap = run("snap", "create", "web1@s1");
        assertEquals(0, snap.exit(), snap.err());
        assertTrue(snap.out().startsWith("created snapshot web1@s1 (epoch 1)"), snap.out());

        Files.write(in, new byte[4096]);
        assertEquals(0, run("vdisk", "write", "web1", "--offset", "8192", "--input", in.toString()).exit());
        CliResult diff = run("vdisk", "diff", "web1@s1", "web1");
        assertEquals(0, diff.exit(), diff.err());
        assertTrue(diff.out().contains("8192           4096       zero"), diff.out());

        Path out = dir.resolve("out.bin");
        assertEquals(0, run("vdisk", "read", "web1@s1", "--offset", "1000", "--length", "10000", "--output", out.toString()).exit());
        assertArrayEquals(data, Files.readAllBytes(out));

        assertEquals(0, run("vdisk", "clone", "web1@s1", "web2").exit());
        CliResult rm = run("snap", "rm", "web1@s1");
        assertEquals(1, rm.exit());
        assertTrue(rm.err().contains("snapshot web1@s1 has 1 clones (web2); flatten or remove them first"), rm.err());
        CliResult flat = run("vdisk", "flatten", "web2");
        assertEquals(0, flat.exit(), flat.err());
        assertEquals(0, run("vdisk", "read", "web2", "--offset", "1000", "--length", "10000", "--output", out.toString()).exit());
        assertArrayEquals(data, Files.readAllBytes(out));
        CliResult removed = run("snap", "rm", "web1@s1");
        assertEquals(0, removed.exit(), removed.err());
        // The embedded store collects only while a process has it open: the command waits for it by default.
        assertTrue(removed.out().startsWith("removed snapshot web1@s1; reclaimed "), removed.out());
        assertEquals("web1: 0 removed snapshots being collected\n", run("snap", "gc", "web1").out());

        assertEquals(0, run("snap", "create", "web1@s2").exit());
        assertEquals(0, run("snap", "rollback", "web1@s2").exit());
        CliResult ls = run("vdisk", "ls", "-l");
        assertTrue(ls.out().contains("web1") && ls.out().contains("web2"), ls.out());
        CliResult rmv = run("vdisk", "rm", "web1");
        assertEquals(1, rmv.exit());
        assertTrue(rmv.err().contains("has 1 snapshots (s2)"), rmv.err());
        CliResult purged = run("snap", "purge", "web1", "--no-wait");
        assertEquals(0, purged.exit(), purged.err());
        assertTrue(purged.out().startsWith("removed 1 snapshots of web1; its space is reclaimed in the background"), purged.out());
        CliResult du = run("vdisk", "du", "web1");
        assertEquals(0, du.exit(), du.err());
        assertTrue(du.out().contains("<TOTAL>"), du.out());
        CliResult collected = run("snap", "gc", "web1", "--wait");
        assertEquals(0, collected.exit(), collected.err());
        assertTrue(collected.out().startsWith("web1: "), collected.out());
        assertEquals(0, run("vdisk", "rm", "web1").exit());
        assertEquals("web2\n", run("vdisk", "ls").out());
    }

    @Test
    void badValuesAreNamed() throws Exception {
        CliResult size = run("vdisk", "create", "x", "--size", "ten");
        assertEquals(2, size.exit());
        assertTrue(size.err().contains("'ten'"), size.err());

        CliResult block = run("vdisk", "create", "x", "--size", "1G", "--block-size", "1000");
        assertEquals(1, block.exit());
        assertTrue(block.err().contains("block size: 1000 (expected: 512 or 4096)"), block.err());

        CliResult name = run("vdisk", "create", "bad/name", "--size", "1G");
        assertTrue(name.err().contains("'bad/name'"), name.err());

        CliResult missing = run("vdisk", "info", "nope");
        assertEquals(1, missing.exit());
        assertTrue(missing.err().contains("no vdisk named nope"), missing.err());

        assertEquals(0, run("vdisk", "create", "small", "--size", "1M").exit());
        CliResult shrink = run("vdisk", "resize", "small", "--size", "2M");
        assertEquals(0, shrink.exit(), shrink.err());
        Path big = dir.resolve("big.bin");
        java.nio.file.Files.write(big, new byte[3 << 20]);
        CliResult tooBig = run("vdisk", "write", "small", "--input", big.toString());
        assertEquals(1, tooBig.exit());
        assertTrue(tooBig.err().contains("is 3145728 bytes at offset 0 (expected: within the vdisk's 2097152 bytes)"), tooBig.err());
        assertTrue(run("vdisk", "info", "small").out().contains("used:          0 B"), "a refused write must write nothing");
        Path page = dir.resolve("page.bin");
        java.nio.file.Files.write(page, new byte[4096]);
        CliResult reserved = run("vdisk", "write", "small", "--input", page.toString(), "--disk-reserve", "1P");
        assertEquals(1, reserved.exit());
        assertTrue(reserved.err().contains("(expected: >= the reserve of 1073741824 MiB); writes are refused until space is freed"), reserved.err());
        assertTrue(run("vdisk", "info", "small").out().contains("used:          0 B"), "a write refused for space must write nothing");
        CliResult reserveOnCluster = CliResult.run("vdisk", "ls", "--cluster", dir.toString(), "--disk-reserve", "1G");
        assertEquals(1, reserveOnCluster.exit());
        assertTrue(reserveOnCluster.err().contains("--disk-reserve 1073741824 with --cluster (expected: only with the embedded store"),
                reserveOnCluster.err());
        CliResult snapSpec = run("snap", "create", "small");
        assertTrue(snapSpec.err().contains("'small' (expected: NAME@SNAP)"), snapSpec.err());

        CliResult demoWrite = run("demo", "--write", "0", "--serve-seconds", "0");
        assertEquals(2, demoWrite.exit(), demoWrite.out());
        assertTrue(demoWrite.err().contains("--write: 0 bytes (expected: a multiple of 4 KiB from 8 MiB to the vdisk size 1 GiB)"), demoWrite.err());
    }

    @Test
    void targetsAreConfiguredAndValidated() {
        assertEquals(0, run("vdisk", "create", "web1", "--size", "16M").exit());
        assertEquals(0, run("target", "create", "iqn.2026-11.io.basalt:web1").exit());
        CliResult badIqn = run("target", "create", "not-an-iqn");
        assertEquals(1, badIqn.exit());
        assertTrue(badIqn.err().contains("'not-an-iqn'"), badIqn.err());
        CliResult lun = run("target", "lun", "add", "iqn.2026-11.io.basalt:web1", "web1");
        assertEquals(0, lun.exit(), lun.err());
        assertTrue(lun.out().contains("exported web1 as iqn.2026-11.io.basalt:web1 lun 0"), lun.out());
        CliResult missing = run("target", "lun", "add", "iqn.2026-11.io.basalt:web1", "nope");
        assertTrue(missing.err().contains("no vdisk named nope"), missing.err());
        CliResult shortSecret = run("target", "chap", "set", "iqn.2026-11.io.basalt:web1", "--user", "u", "--secret", "short");
        assertTrue(shortSecret.err().contains("basalt target chap set: secret length: 5 bytes (expected: 12..255)"), shortSecret.err());
        assertEquals(0, run("target", "chap", "set", "iqn.2026-11.io.basalt:web1", "--user", "u", "--secret", "twelve-bytes!").exit());
        assertEquals(0, run("target", "acl", "add", "iqn.2026-11.io.basalt:web1", "iqn.2026-11.host:h1").exit());
        CliResult ls = run("target", "ls");
        assertTrue(ls.out().contains("lun 0: web1") && ls.out().contains("iqn.2026-11.host:h1") && ls.out().contains("one-way"), ls.out());
        CliResult portal = run("serve", "--portal", "localhost");
        assertTrue(portal.err().contains("portal: 'localhost' (expected: HOST:PORT"), portal.err());
        JsonNode targets = json(run("target", "ls", "--format", "json"));
        assertEquals("iqn.2026-11.io.basalt:web1", targets.get(0).get("iqn").asText());
        assertEquals("web1", targets.get(0).get("luns").get("0").asText());
        assertEquals("u", targets.get(0).get("chap").get("user").asText());
        assertTrue(!targets.toString().contains("twelve-bytes!"), "the CHAP secret is never listed: " + targets);
    }

    /** Every listing takes {@code --format json}, with the shapes of the API's resources. */
    @Test
    void listingsPrintJsonForScripts() throws Exception {
        assertEquals(0, run("vdisk", "create", "web1", "--size", "16M").exit());
        Path in = dir.resolve("in.bin");
        Files.write(in, new byte[] {1, 2, 3});
        assertEquals(0, run("vdisk", "write", "web1", "--offset", "4096", "--input", in.toString()).exit());
        assertEquals(0, run("snap", "create", "web1@s1").exit());

        JsonNode ls = json(run("vdisk", "ls", "--format", "json"));
        assertEquals(1, ls.size(), ls.toString());
        assertEquals("web1", ls.get(0).get("name").asText());
        assertEquals(16L << 20, ls.get(0).get("sizeBytes").asLong());
        assertEquals(1, ls.get(0).get("snapshotCount").asInt());
        JsonNode info = json(run("vdisk", "info", "web1", "--format", "json"));
        assertEquals(ls.get(0).get("id"), info.get("id"));
        assertEquals(4096, info.get("usedBytes").asLong(), info.toString());
        JsonNode du = json(run("vdisk", "du", "--format", "json"));
        assertEquals("web1", du.get(0).get("name").asText());
        assertEquals(16L << 20, du.get(0).get("provisionedBytes").asLong());
        assertEquals(4096, du.get(0).get("usedBytes").asLong());
        JsonNode snaps = json(run("snap", "ls", "web1", "--format", "json"));
        assertEquals("s1", snaps.get(0).get("name").asText());
        assertEquals("web1", snaps.get(0).get("vdisk").asText());
        JsonNode diff = json(run("vdisk", "diff", "web1", "--format", "json"));
        assertEquals(4096, diff.get(0).get("offset").asLong(), diff.toString());
        assertEquals("data", diff.get(0).get("type").asText());
        CliResult bad = run("vdisk", "ls", "--format", "yaml");
        assertEquals(2, bad.exit());
        assertTrue(bad.err().contains("yaml"), bad.err());
    }

    private static JsonNode json(CliResult r) {
        assertEquals(0, r.exit(), r.err());
        try {
            return new ObjectMapper().readTree(r.out());
        } catch (java.io.IOException e) {
            throw new AssertionError("not JSON: " + r.out(), e);
        }
    }

    /**
     * {@code basalt bench} on the engine runs every I/O workload to the end and reports it; it
     * once hung on its first workload (slots recursing from inline completions). Speed is not
     * asserted; the bound is for the hang.
     */
    @Test
    @org.junit.jupiter.api.Timeout(180)
    void benchOnTheEngineRunsEveryWorkloadAndCleansUp() {
        Path scratch = dir.resolve("bench");
        CliResult r = CliResult.run("bench", "--data", scratch.toString(), "--size", "8M", "--seconds", "1", "--warmup", "1", "--runs", "1",
                "--only", "randread,randwrite,seqwrite,seqread");
        assertEquals(0, r.exit(), r.out() + r.err());
        for (String w : new String[] {"randread  MEDIAN:", "randwrite MEDIAN:", "seqwrite  MEDIAN:", "seqread   MEDIAN:"}) {
            assertTrue(r.out().contains(w), "missing '" + w + "' in:\n" + r.out());
        }
        assertTrue(!Files.exists(scratch), "the scratch store is removed");
        CliResult bad = CliResult.run("bench", "--data", scratch.toString(), "--inflight", "0");
        assertEquals(1, bad.exit(), bad.out() + bad.err());
        assertTrue(bad.err().contains("--inflight 0"), bad.err());
        CliResult clusterOnly = CliResult.run("bench", "--data", scratch.toString(), "--pg-inflight", "2");
        assertEquals(1, clusterOnly.exit(), clusterOnly.out() + clusterOnly.err());
        assertTrue(clusterOnly.err().contains("--pg-inflight: only with --cluster"), clusterOnly.err());
    }

    @Test
    void demoRunsEndToEndAndCanRunAgain() {
        for (int i = 0; i < 2; i++) {
            CliResult demo = run("demo", "--size", "64M", "--write", "16M", "--serve-seconds", "1", "--portal", "127.0.0.1:0", "--guest", "off");
            assertEquals(0, demo.exit(), demo.err());
            assertTrue(demo.out().contains("3. snapshot demo-disk@base (epoch 1)"), demo.out());
            assertTrue(demo.out().contains("7. diff demo-disk@base..demo-disk: 1 extents, 8 MiB changed"), demo.out());
            assertTrue(demo.out().contains("/iqn.2026-11.io.basalt:demo/0  (demo-disk)"), demo.out());
        }
    }

    @Test
    void clusterStatusShowsUnreachableNodesAsDownAndExitsNonZeroWithoutQuorum() throws Exception {
        Path file = dir.resolve("cluster.json");
        // Ports 2..4 on loopback: nothing listens there, so every connection is refused at once.
        io.basalt.node.cluster.ClusterFile.local("c1", 3, 1, 2, 3).write(file);
        CliResult r = CliResult.run("cluster", "status", "--config", file.toString(), "--timeout-ms", "2000");
        String out = r.out();
        assertEquals(ClusterCommand.EXIT_NO_QUORUM, r.exit(), out + "\n" + r.err());
        assertTrue(out.startsWith("cluster c1: nodes 0 up, 3 down; groups 0 ok, 0 degraded, 3 unavailable"), out);
        assertTrue(out.matches("(?s).*\\n1 +127\\.0\\.0\\.1:2 +down .*") && out.contains("Connection refused"), out);
        assertTrue(out.contains("pg-1     -"), out);
        assertEquals("", r.err());
        CliResult noCluster = CliResult.run("scrub", "--cluster", dir.resolve("nowhere").toString());
        assertEquals(1, noCluster.exit(), noCluster.out());
        assertTrue(noCluster.err().contains("--cluster: " + dir.resolve("nowhere") + " (expected: a cluster file"), noCluster.err());
        CliResult j = CliResult.run("cluster", "status", "--config", file.toString(), "--timeout-ms", "2000", "--format", "json");
        assertEquals(ClusterCommand.EXIT_NO_QUORUM, j.exit(), j.err());
        JsonNode status = new ObjectMapper().readTree(j.out());
        assertEquals("UNAVAILABLE", status.get("health").asText(), j.out());
        assertEquals("c1", status.get("name").asText());
        assertEquals(3, status.get("nodes").size());
    }

    /** cluster.json's optional ioTimeoutMs: absent means the default, a value below one request's timeout is named. */
    @Test
    void clusterFileIoTimeoutIsOptionalAndValidated() throws Exception {
        Path file = dir.resolve("cluster.json");
        io.basalt.node.cluster.ClusterFile.local("c1", 3, 1, 2, 3).write(file);
        assertTrue(!Files.readString(file).contains("ioTimeoutMs"), "the default is not written: " + Files.readString(file));
        assertEquals(java.time.Duration.ofSeconds(30), io.basalt.node.cluster.ClusterFile.read(file).toConfig().tuning().ioTimeout());

        io.basalt.node.cluster.ClusterFile.local("c1", 3, 1, 2, 3).withIoTimeoutMs(12_000L).write(file);
        assertEquals(java.time.Duration.ofSeconds(12), io.basalt.node.cluster.ClusterFile.read(file).toConfig().tuning().ioTimeout());

        Files.writeString(file, Files.readString(file).replace("12000", "2000"));
        CliResult r = CliResult.run("cluster", "status", "--config", file.toString(), "--timeout-ms", "2000");
        assertEquals(1, r.exit(), r.out());
        assertTrue(r.err().contains("ioTimeoutMs: 2000 (expected: > 3000, the timeout of one request to a node)"), r.err());

        Path up = dir.resolve("up");
        CliResult badUp = CliResult.run("cluster", "up", "--nodes", "1", "--data", up.toString(), "--io-timeout-ms", "2000",
                "--serve-seconds", "0");
        assertEquals(1, badUp.exit(), badUp.out());
        assertTrue(badUp.err().contains("ioTimeoutMs: 2000"), badUp.err());
        assertTrue(!Files.exists(up.resolve("cluster.json")), "a refused value is not written");

        Files.writeString(file, "{\"name\": \"c1\", \"pgCount\": 1, \"replicas\": 1, \"metaVoters\": 1}");
        CliResult noNodes = CliResult.run("cluster", "status", "--config", file.toString());
        assertEquals(1, noNodes.exit(), noNodes.out());
        assertTrue(noNodes.err().contains("nodes: missing"), noNodes.err());
    }
}
