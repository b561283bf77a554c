package io.basalt.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.vdisk.store.VdiskStore;

/**
 * {@code basalt vm} on the embedded store without a host agent: the records it keeps, what it
 * shows, and the refusals (each one line naming the bad value). Starting, migrating and HA with
 * real agents and QEMU are {@code HostAgentMigrationTest} and {@code HostsOnClusterProcessTest}.
 */
class VmCliTest {
    @TempDir
    Path dir;

    private CliResult run(String... args) {
        String[] withData = new String[args.length + 2];
        System.arraycopy(args, 0, withData, 0, args.length);
        withData[args.length] = "--data";
        withData[args.length + 1] = dir.resolve("store").toString();
        return CliResult.run(withData);
    }

    private void disks(String... names) {
        try (VdiskStore s = VdiskStore.open(dir.resolve("store"))) {
            for (String n : names) {
                s.create(n, 64L << 20);
            }
        }
    }

    @Test
    void createListInfoAndRemoveAVm() {
        disks("web1-root", "web1-data");
        CliResult created = run("vm", "create", "web1", "--vcpus", "2", "--memory", "1G", "--disk", "web1-root", "--disk", "web1-data");
        assertEquals(0, created.exit(), created.err());
        assertTrue(created.out().matches("created vm web1: 2 vCPUs, 1024 MiB, disks web1-root, web1-data, mac 52:54:00(:[0-9a-f]{2}){3}\n"), created.out());

        CliResult ls = run("vm", "ls");
        assertEquals(0, ls.exit(), ls.err());
        assertEquals("NAME                 STATE     HOST                 VCPUS   MEMORY  DISKS\n"
                + "web1                 stopped   -                        2    1024M  web1-root,web1-data\n", ls.out());

        CliResult json = run("vm", "info", "web1", "--format", "json");
        assertEquals(0, json.exit(), json.err());
        assertTrue(json.out().contains("\"desired\" : \"STOPPED\"") && json.out().contains("\"memoryMiB\" : 1024"), json.out());

        CliResult info = run("vm", "info", "web1");
        assertTrue(info.out().contains("  state:    stopped (wanted: stopped)") && info.out().contains("  disks:    web1-root, web1-data"), info.out());

        CliResult rm = run("vm", "rm", "web1");
        assertEquals(0, rm.exit(), rm.err());
        assertEquals("removed vm web1\n", rm.out());
        assertEquals("NAME                 STATE     HOST                 VCPUS   MEMORY  DISKS\n", run("vm", "ls").out());
    }

    @Test
    void badValuesAreRefusedNamingThem() {
        disks("d1");
        assertRefused(run("vm", "create", "v1", "--disk", "nope"), "nope");
        assertRefused(run("vm", "create", "v1", "--disk", "d1", "--memory", "1000K"), "--memory 1024000 bytes");
        assertRefused(run("vm", "create", "v1", "--disk", "d1", "--disk", "d1"), "a vdisk given twice");
        assertRefused(run("vm", "create", "v1", "--disk", "d1", "--vcpus", "0"), "0");
        assertRefused(run("vm", "create", "bad name", "--disk", "d1"), "bad name");
        assertRefused(run("vm", "create", "v1", "--disk", "d1", "--append", "quiet"), "--append quiet without --kernel");
        assertEquals(0, run("vm", "create", "v1", "--disk", "d1").exit());
        assertRefused(run("vm", "create", "v1", "--disk", "d1"), "vm: v1 (expected: a new name");
        assertRefused(run("vm", "start", "v1"), "no live host has room for 1 vCPUs and 512 MiB (no live hosts: start one with basalt host run)");
        assertRefused(run("vm", "start", "v1", "--on", "h9"), "--on h9: no live host of that name");
        assertRefused(run("vm", "migrate", "v1", "--to", "h9"), "vm v1: stopped (expected: a running VM)");
        assertRefused(run("vm", "info", "v2"), "vm: v2 (expected: an existing VM");
        assertRefused(run("host", "maintenance", "h9"), "host: h9 (expected: a host that ran `basalt host run`)");
        CliResult stop = run("vm", "stop", "v1");
        assertEquals("stopped vm v1 (no live host ran it)\n", stop.out(), stop.err());
    }

    @Test
    void diskAttachAndDetachEditAStoppedVmAndRefuseNamingTheVdisk() {
        disks("w-root", "w-logs");
        assertEquals(0, run("vm", "create", "w", "--disk", "w-root").exit());
        assertRefused(run("vm", "disk", "attach", "w", "nope"), "vdisk nope: no such vdisk");
        CliResult attached = run("vm", "disk", "attach", "w", "w-logs");
        assertEquals("attached vdisk w-logs to vm w (stopped): disks w-root, w-logs from its next start\n", attached.out(), attached.err());
        assertRefused(run("vm", "disk", "attach", "w", "w-logs"), "vdisk w-logs: already attached to this VM");
        assertRefused(run("vm", "disk", "detach", "w", "w-root"), "vdisk w-root: the boot disk of vm w");
        assertRefused(run("vm", "disk", "detach", "w", "w-logs", "--timeout", "0"), "--timeout 0");
        CliResult detached = run("vm", "disk", "detach", "w", "w-logs");
        assertEquals("detached vdisk w-logs from vm w (stopped): disks w-root\n", detached.out(), detached.err());
        assertRefused(run("vm", "disk", "detach", "w", "w-logs"), "vdisk w-logs: not attached to vm w");
    }

    private static void assertRefused(CliResult r, String named) {
        assertEquals(1, r.exit(), () -> "expected a refusal naming '" + named + "'; out: " + r.out() + " err: " + r.err());
        assertTrue(r.err().contains(named), () -> "the error names '" + named + "': " + r.err());
        assertEquals(1, r.err().strip().lines().count(), () -> "one line: " + r.err());
    }
}
