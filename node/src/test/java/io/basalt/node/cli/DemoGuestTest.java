package io.basalt.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code basalt demo}'s guest part, as a newcomer runs it: a guest booted from a vdisk on host-a,
 * migrated live to host-b and back, still counting and its disk intact; run twice (the second
 * run removes the first one's VM and disk). Without QEMU, busybox or a readable kernel it says
 * what is missing, and {@code --guest on} then fails naming it.
 */
class DemoGuestTest {
    private static final Pattern MIGRATED = Pattern.compile("migrated demo-vm from host-([ab]) to host-([ab]): downtime (\\d+) ms, total (\\d+) ms");

    @TempDir
    Path dir;

    private CliResult demo(String guest, String accel) {
        return CliResult.run("demo", "--size", "64M", "--write", "8M", "--serve-seconds", "0", "--guest", guest, "--accel", accel,
                "--data", dir.resolve("data").toString());
    }

    @Test
    void theDemoBootsAGuestAndMigratesItToHostBAndBack() throws Exception {
        java.util.Optional<String> missing = DemoVm.missing(DemoVm.qemuOnPath());
        if (missing.isPresent()) {
            CliResult auto = demo("auto", "auto");
            assertEquals(0, auto.exit(), auto.err());
            assertTrue(auto.out().contains("9. guest part skipped: " + missing.get()), auto.out());
            CliResult on = demo("on", "auto");
            assertEquals(1, on.exit(), on.out());
            assertTrue(on.err().contains("--guest on: " + missing.get()), on.err());
        }
        assumeTrue(missing.isEmpty(), "the guest part needs " + missing.orElse("") + ": scripts/install-test-deps.sh");
        for (int run = 0; run < 2; run++) {
            // The first run as a newcomer's (the accelerator probed; a KVM that runs no kernel falls back to TCG), the second under TCG.
            CliResult r = demo("on", run == 0 ? "auto" : "tcg");
            assertEquals(0, r.exit(), r.out() + r.err());
            String out = r.out();
            System.out.println("[demo guest] run " + run + ":\n" + out);
            assertTrue(out.contains("9. guest demo-vm: kernel "), out);
            assertTrue(out.matches("(?s).*   booted demo-vm on host-a in [0-9.]+ s; console: BASALT-SEQ \\d+ up=.*"), out);
            Matcher m = MIGRATED.matcher(out);
            assertTrue(m.find() && m.group(1).equals("a") && m.group(2).equals("b"), "to host-b:\n" + out);
            assertTrue(m.find() && m.group(1).equals("b") && m.group(2).equals("a"), "back to host-a:\n" + out);
            assertTrue(out.contains("10. live migration of demo-vm to host-b and back"), out);
            assertTrue(out.contains("   | migrated demo-vm from host-a to host-b: downtime "), "the agents' lines, indented:\n" + out);
            assertTrue(out.matches("(?s).*still the same boot \\(\\w+\\), uptime and counter went on.*"), out);
            assertTrue(out.matches("(?s).*its disk holds SEQ 1\\.\\.\\d+ in order, each once.*"), out);
        }
        CliResult ls = CliResult.run("vm", "ls", "--data", dir.resolve("data").toString());
        assertEquals(0, ls.exit(), ls.err());
        assertTrue(ls.out().matches("(?s).*demo-vm +stopped.*"), "the demo leaves its VM stopped:\n" + ls.out());
    }
}
