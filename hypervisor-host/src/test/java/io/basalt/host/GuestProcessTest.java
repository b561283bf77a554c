package io.basalt.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.basalt.host.qmp.QmpEvent;
import io.basalt.host.qmp.QmpException;
import io.basalt.host.qmp.RunState;
import io.basalt.host.qmp.StatusInfo;
import io.basalt.host.GuestImage.Kernel;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real QEMU guests driven over QMP. One boots a tiny Linux (the host's kernel, busybox) that
 * prints a tick every 100 ms and powers off on the ACPI button (busybox acpid); the others need
 * no boot: a QEMU started paused ({@code -S}) runs no guest code, so it ignores the button, and
 * one frozen with SIGSTOP answers nothing.
 */
class GuestProcessTest {
    static final String NO_QEMU = "qemu-system-x86_64 is not installed (Debian: apt-get install qemu-system-x86, see scripts/install-test-deps.sh)";
    private static final Duration QMP_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration BOOT_TIMEOUT = Duration.ofSeconds(60);
    private static final Pattern TICK = Pattern.compile("tick (\\d+)");

    @TempDir
    Path dir;

    @AfterEach
    void leavesNoProcessBehind() {
        List<String> children = ProcessHandle.current().children()
                .map(p -> p.pid() + " " + p.info().commandLine().orElse("?")).toList();
        assertEquals(List.of(), children, "processes left running");
    }

    static String qemu() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path candidate = Path.of(dir, "qemu-system-x86_64");
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        return null;
    }

    /**
     * /init: busybox, the power-button modules, busybox acpid running /etc/acpi/PWRF/00000080
     * (print, sync, power off) on the button, then a tick on the console every 100 ms.
     */
    private static String init(List<String> moduleFiles) {
        return """
                #!/bin/busybox sh
                /bin/busybox --install -s /bin
                export PATH=/bin
                mount -t proc proc /proc
                mount -t sysfs sysfs /sys
                mount -t devtmpfs devtmpfs /dev
                for m in %s; do insmod /lib/modules/$m || echo "BASALT-GUEST-FAIL insmod $m"; done
                mkdir -p /etc/acpi/PWRF /var/run /var/log
                printf '#!/bin/sh\\necho BASALT-GUEST-POWERDOWN\\nsync\\npoweroff -f\\n' > /etc/acpi/PWRF/00000080
                chmod +x /etc/acpi/PWRF/00000080
                i=0
                while [ ! -e /dev/input/event0 ] && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
                acpid -d -c /etc/acpi > /dev/console 2>&1 &
                n=0
                while true; do echo "tick $n"; n=$((n + 1)); sleep 0.1; done
                """.formatted(String.join(" ", moduleFiles));
    }

    private VmSpec tickingGuest(Kernel kernel) throws IOException {
        byte[] initramfs = GuestImage.initramfs(GuestImage.BUSYBOX, kernel.modulesInLoadOrder(List.of("evdev", "button")),
                GuestProcessTest::init);
        Path initrd = Files.write(dir.resolve("initrd.img"), initramfs);
        return VmSpec.of("ticker", 1, 256, List.of(), Optional.of(new VmSpec.DirectBoot(
                kernel.image().toString(), Optional.of(initrd.toString()), GuestImage.KERNEL_COMMAND_LINE)));
    }

    @Test
    void bootedGuestIsPausedResumedAndPoweredDownOverQmp() throws Exception {
        String qemu = qemu();
        assumeTrue(qemu != null, NO_QEMU);
        Kernel kernel = Kernel.find(Path.of("/boot"), Path.of("/lib/modules"));
        assumeTrue(kernel != null, "no kernel image /boot/vmlinuz-VERSION with /lib/modules/VERSION/modules.dep (Debian: apt-get install linux-image-amd64)");
        // TCG, not the probe's answer: on the build machines the probe QEMU runs its firmware under
        // KVM within 60 ms, yet a Linux guest under KVM prints nothing for minutes (see AcceleratorProbe).
        try (GuestProcess guest = GuestProcess.start(qemu, Accelerator.TCG, tickingGuest(kernel), dir.resolve("run"), QMP_TIMEOUT)) {
            BlockingQueue<QmpEvent> events = new LinkedBlockingQueue<>();
            guest.qmp().onEvent(events::add);
            long bootNs = System.nanoTime();
            int booted = awaitTickAfter(guest, 4);
            System.out.printf("guest printed tick %d %d ms after QEMU answered QMP%n", booted, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - bootNs));
            assertEquals(new StatusInfo(true, RunState.RUNNING), guest.qmp().queryStatus());

            guest.qmp().stop();
            awaitEvent(events, "STOP");
            assertEquals(new StatusInfo(false, RunState.PAUSED), guest.qmp().queryStatus());
            int paused = lastTick(guest);
            Thread.sleep(500);
            assertEquals(paused, lastTick(guest), "a paused guest prints nothing");

            guest.qmp().cont();
            awaitEvent(events, "RESUME");
            assertEquals(new StatusInfo(true, RunState.RUNNING), guest.qmp().queryStatus());
            awaitTickAfter(guest, paused + 2);

            QmpException.CommandFailed unknown = assertThrows(QmpException.CommandFailed.class,
                    () -> guest.qmp().execute("no-such-command", null));
            assertEquals("CommandNotFound", unknown.errorClass());
            assertTrue(unknown.getMessage().startsWith("QMP no-such-command: CommandNotFound: "), unknown.getMessage());
            QmpException.CommandFailed noDevice = assertThrows(QmpException.CommandFailed.class, () -> guest.qmp().deviceDel("no-such-device"));
            assertTrue(noDevice.getMessage().startsWith("QMP device_del: DeviceNotFound: "), noDevice.getMessage());

            GuestProcess.Stopped stopped = guest.stop(Duration.ofSeconds(30));
            System.out.println("stop: " + stopped);
            assertEquals(GuestProcess.StopWay.POWERED_DOWN, stopped.way(), "console: " + tail(guest.consoleLog()));
            assertEquals(0, stopped.exitCode());
            QmpEvent shutdown = awaitEvent(events, "SHUTDOWN");
            assertEquals("guest-shutdown", shutdown.data().get("reason").asText(), shutdown.toString());
            assertTrue(console(guest.consoleLog()).contains("BASALT-GUEST-POWERDOWN"), "the guest's ACPI handler ran");
        }
    }

    @Test
    void guestThatIgnoresThePowerButtonIsQuit() throws Exception {
        String qemu = qemu();
        assumeTrue(qemu != null, NO_QEMU);
        VmSpec idle = VmSpec.of("idle", 1, 64, List.of(), Optional.empty()).startPaused();
        try (GuestProcess guest = GuestProcess.start(qemu, Accelerator.TCG, idle, dir.resolve("run"), QMP_TIMEOUT)) {
            BlockingQueue<QmpEvent> events = new LinkedBlockingQueue<>();
            guest.qmp().onEvent(events::add);
            assertEquals(new StatusInfo(false, RunState.PRELAUNCH), guest.qmp().queryStatus());

            GuestProcess.Stopped stopped = guest.stop(Duration.ofMillis(500));
            assertEquals(GuestProcess.StopWay.QUIT, stopped.way(), stopped.toString());
            assertEquals(0, stopped.exitCode());
            assertTrue(stopped.took().toMillis() >= 500, "waited for the guest first: " + stopped);
            awaitEvent(events, "POWERDOWN");
            assertEquals("host-qmp-quit", awaitEvent(events, "SHUTDOWN").data().get("reason").asText());
            assertFalse(guest.isAlive());
        }
    }

    @Test
    void frozenQemuTimesOutEveryCallAndIsKilledOnStop() throws Exception {
        String qemu = qemu();
        assumeTrue(qemu != null, NO_QEMU);
        VmSpec idle = VmSpec.of("frozen", 1, 64, List.of(), Optional.empty()).startPaused();
        Duration callTimeout = Duration.ofMillis(500);
        try (GuestProcess guest = GuestProcess.start(qemu, Accelerator.TCG, idle, dir.resolve("run"), callTimeout)) {
            signal("STOP", guest.pid());
            QmpException.TimedOut e = assertThrows(QmpException.TimedOut.class, () -> guest.qmp().queryStatus());
            assertEquals("QMP query-status: no reply within 500 ms (QEMU frozen or overloaded)", e.getMessage());

            GuestProcess.Stopped stopped = guest.stop(Duration.ofSeconds(30));
            assertEquals(GuestProcess.StopWay.KILLED, stopped.way(), stopped.toString());
            assertEquals(128 + 9, stopped.exitCode(), "SIGKILL");
            assertTrue(stopped.took().toMillis() < 10_000, "powerdown and quit each gave up at the call timeout: " + stopped);
        }
    }

    @Test
    void qemuThatFailsToStartIsReportedWithItsError() throws Exception {
        String qemu = qemu();
        assumeTrue(qemu != null, NO_QEMU);
        VmSpec missingDisk = VmSpec.of("nodisk", 1, 64, List.of(dir.resolve("missing.img").toString()), Optional.empty()).startPaused();
        IOException e = assertThrows(IOException.class,
                () -> GuestProcess.start(qemu, Accelerator.TCG, missingDisk, dir.resolve("run"), QMP_TIMEOUT));
        assertTrue(e.getMessage().startsWith("QEMU for vm nodisk exited with 1 before answering QMP: "), e.getMessage());
        assertTrue(e.getMessage().contains("missing.img"), "names QEMU's complaint: " + e.getMessage());
    }

    private static void signal(String signal, long pid) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start();
        assertEquals(0, kill.waitFor(), "kill -" + signal + " " + pid);
    }

    private static QmpEvent awaitEvent(BlockingQueue<QmpEvent> events, String name) throws InterruptedException {
        long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadlineNs) {
            QmpEvent event = events.poll(100, TimeUnit.MILLISECONDS);
            if (event != null && event.name().equals(name)) {
                return event;
            }
        }
        throw new AssertionError("no " + name + " event within 10 s");
    }

    /** Waits until the console shows a tick numbered at least {@code tick}; returns the last one. */
    private static int awaitTickAfter(GuestProcess guest, int tick) throws Exception {
        long deadlineNs = System.nanoTime() + BOOT_TIMEOUT.toNanos();
        while (System.nanoTime() < deadlineNs) {
            int last = lastTick(guest);
            if (last >= tick) {
                return last;
            }
            assertTrue(guest.isAlive(), "QEMU exited; console: " + tail(guest.consoleLog()));
            String console = console(guest.consoleLog());
            assertFalse(console.contains("BASALT-GUEST-FAIL"), "guest failed: " + tail(guest.consoleLog()));
            Thread.sleep(100);
        }
        throw new AssertionError("no tick " + tick + " within " + BOOT_TIMEOUT.toSeconds() + " s; console: " + tail(guest.consoleLog()));
    }

    private static int lastTick(GuestProcess guest) throws IOException {
        Matcher matcher = TICK.matcher(console(guest.consoleLog()));
        int last = -1;
        while (matcher.find()) {
            last = Integer.parseInt(matcher.group(1));
        }
        return last;
    }

    /** The console as bytes: the kernel's output need not be valid UTF-8. */
    private static String console(Path file) throws IOException {
        return new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
    }

    private static String tail(Path file) throws IOException {
        if (!Files.exists(file)) {
            return "(no " + file + ")";
        }
        List<String> lines = console(file).lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
    }
}
