package io.basalt.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.node.config.EmbeddedConfigs;
import io.basalt.vdisk.store.VdiskStore;

/** basalt site, mirror and dr as typed: on a store no process holds, and through a serving process's control socket. */
class MirrorCliTest {
    @TempDir
    Path dir;

    CliResult run(String... args) {
        String[] withData = new String[args.length + 2];
        System.arraycopy(args, 0, withData, 0, args.length);
        withData[args.length] = "--data";
        withData[args.length + 1] = dir.resolve("store").toString();
        return CliResult.run(withData);
    }

    @Test
    void peersAndMirrorsAreRecordsOfTheStore() throws Exception {
        Path secret = dir.resolve("secret");
        CliResult made = CliResult.run("site", "secret");
        Files.writeString(secret, made.out());
        assertEquals(0, run("vdisk", "create", "vm1", "--size", "16M").exit());

        CliResult noName = run("mirror", "enable", "vm1", "--to", "site-b");
        assertEquals(1, noName.exit());
        assertTrue(noName.err().contains("basalt site init NAME"), noName.err());
        assertEquals(0, run("site", "init", "site-a").exit());
        CliResult add = run("site", "peer", "add", "site-b", "127.0.0.1:7702", "--secret-file", secret.toString());
        assertEquals(0, add.exit(), add.err());
        CliResult ls = run("site", "peer", "ls");
        assertTrue(ls.out().contains("site site-a") && ls.out().contains("site-b           127.0.0.1:7702"), ls.out());
        assertFalse(ls.out().contains(made.out().strip()), "the secret is never shown");

        CliResult enable = run("mirror", "enable", "vm1", "--to", "site-b", "--interval", "500ms");
        assertEquals(0, enable.exit(), enable.err());
        assertTrue(enable.out().contains("mirroring vm1 to site site-b every 500ms (once basalt serve --mirror-port runs"), enable.out());
        CliResult status = run("mirror", "status", "--format", "json");
        assertTrue(status.out().contains("\"state\" : \"NOT_SERVING\"") && status.out().contains("\"lagBytes\" : 16777216"), status.out());
        CliResult failover = run("dr", "failover", "vm1", "--planned");
        assertEquals(1, failover.exit());
        assertTrue(failover.err().contains("no mirror link runs on this store"), failover.err());
        CliResult inUse = run("site", "peer", "rm", "site-b");
        assertEquals(1, inUse.exit());
        assertTrue(inUse.err().contains("mirrors [vm1]"), inUse.err());
        assertEquals(0, run("mirror", "disable", "vm1").exit());

        // A consistency group: its members are mirrored by it, not one by one.
        assertEquals(0, run("vdisk", "create", "vm1-data", "--size", "16M").exit());
        CliResult group = run("mirror", "group", "create", "vm1-disks", "vm1", "vm1-data", "--to", "site-b");
        assertEquals(0, group.exit(), group.err());
        assertTrue(group.out().contains("mirroring group vm1-disks (vm1, vm1-data) to site site-b every 2s"), group.out());
        CliResult again = run("mirror", "group", "create", "other", "vm1-data", "--to", "site-b");
        assertEquals(1, again.exit());
        assertTrue(again.err().contains("vm1-data is mirrored to site site-b in group vm1-disks"), again.err());
        CliResult groups = run("mirror", "group", "ls");
        assertTrue(groups.out().contains("vm1-disks    primary  site-b") && groups.out().contains("vm1,vm1-data"), groups.out());
        CliResult both = run("dr", "failover", "vm1", "--group", "vm1-disks");
        assertEquals(2, both.exit());
        assertTrue(both.err().contains("target: vm1 and --group vm1-disks (expected: VDISK or --group G)"), both.err());
        CliResult rm = run("mirror", "group", "rm", "vm1-disks");
        assertEquals(0, rm.exit(), rm.err());
        assertTrue(run("mirror", "status", "--format", "json").out().strip().equals("[ ]"), "no mirror left");
        assertEquals(0, run("site", "peer", "rm", "site-b").exit());
    }

    @Test
    void aServingProcessRunsTheCommandsAgainstItsOpenStore() throws Exception {
        Path data = dir.resolve("store");
        try (VdiskStore store = VdiskStore.open(data, new VdiskStore.Options(64L << 20, 2, 0))) {
            EmbeddedConfigs configs = EmbeddedConfigs.open(store);
            try (ControlServer control = ControlServer.start(data, new ControlServer.Serving(io.basalt.replication.MirrorStore.of(store), configs, Optional.empty()))) {
                assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(data.resolve(ControlServer.FILE))));
                CliResult init = run("site", "init", "site-a");
                assertEquals(0, init.exit(), init.err());
                assertEquals("site site-a\n", init.out());
                // The store is held here, so the command could only have run through the control socket, in this "process".
                assertTrue(configs.read("mirror/site").isPresent());
                CliResult status = run("mirror", "status");
                assertEquals(0, status.exit(), status.err());
            }
            assertFalse(Files.exists(data.resolve(ControlServer.FILE)), "the control file goes with the serving process");
        }
    }

    @Test
    void demoDrFailsOverAndBackShippingOnlyTheDifference() {
        CliResult demo = CliResult.run("demo", "dr", "--dir", dir.toString(), "--size", "64M");
        assertEquals(0, demo.exit(), demo.err());
        assertTrue(demo.out().contains("site-b's demo-disk equals site-a's demo-disk@mirror-"), demo.out());
        assertTrue(demo.out().contains("bit for bit: true"), demo.out());
        assertTrue(demo.out().contains("site-a: primary SPLIT_BRAIN") && demo.out().contains("site-b: primary SPLIT_BRAIN"), demo.out());
        assertTrue(demo.out().matches("(?s).*failback shipped [0-9.]+ [KM]iB of a 64 MiB vdisk \\([0-3]\\.[0-9]+ %\\); site-a's and site-b's demo-disk equal: true.*"),
                demo.out());
    }
}
