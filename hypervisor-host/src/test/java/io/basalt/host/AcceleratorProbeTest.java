package io.basalt.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The KVM probe: stand-in QEMUs (shell scripts) that hang, fail or greet make each answer
 * happen on any machine; one test probes this machine's real {@code /dev/kvm}.
 */
class AcceleratorProbeTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(1);

    @TempDir
    Path dir;

    @AfterEach
    void leavesNoProcessBehind() {
        List<ProcessHandle> children = ProcessHandle.current().children().toList();
        assertEquals(List.of(), children.stream().map(p -> p.pid() + " " + p.info().commandLine().orElse("?")).toList(),
                "processes the probe left running");
    }

    private Path fakeQemu(String body) throws Exception {
        Path script = dir.resolve("fake-qemu");
        Files.writeString(script, "#!/bin/sh\n" + body + "\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        return script;
    }

    private Path kvmDevice() throws Exception {
        return Files.createFile(dir.resolve("kvm"));
    }

    @Test
    void hangingKvmFallsBackToTcgAtTheTimeoutAndKillsTheProbe() throws Exception {
        // exec: the probe's pid is the sleeping process itself, as a QEMU stuck in /dev/kvm would be.
        Path qemu = fakeQemu("exec sleep 60");
        long startNs = System.nanoTime();
        AcceleratorProbe.Choice choice = AcceleratorProbe.probe(qemu.toString(), kvmDevice(), TIMEOUT);
        long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs);
        assertEquals(Accelerator.TCG, choice.accelerator());
        assertTrue(choice.reason().matches("TCG: .*kvm did not answer within 1000 ms \\(probe QEMU pid \\d+ killed\\)"), choice.reason());
        assertTrue(tookMs >= 1_000 && tookMs < 3_000, "answered after " + tookMs + " ms (expected: about 1000)");
    }

    @Test
    void kvmThatFailsFallsBackToTcgWithQemusError() throws Exception {
        Path qemu = fakeQemu("echo 'Could not access KVM kernel module: Permission denied'; echo 'failed to initialize kvm'; exit 1");
        AcceleratorProbe.Choice choice = AcceleratorProbe.probe(qemu.toString(), kvmDevice(), TIMEOUT);
        assertEquals(new AcceleratorProbe.Choice(Accelerator.TCG,
                "TCG: KVM unavailable: Could not access KVM kernel module: Permission denied"), choice);
    }

    @Test
    void kvmThatAnswersIsChosen() throws Exception {
        Path qemu = fakeQemu("echo 'qemu: warning: host lacks a feature'\n"
                + "echo 'SeaBIOS (version 1.16.2-debian-1.16.2-1)'\nexec sleep 60");
        AcceleratorProbe.Choice choice = AcceleratorProbe.probe(qemu.toString(), kvmDevice(), TIMEOUT);
        assertEquals(Accelerator.KVM, choice.accelerator(), choice.reason());
        assertTrue(choice.reason().matches("KVM: guest code ran in \\d+ ms \\(.*kvm\\)"), choice.reason());
    }

    @Test
    void missingDeviceMeansTcgWithoutStartingQemu() throws Exception {
        AcceleratorProbe.Choice choice = AcceleratorProbe.probe("/nonexistent/qemu", dir.resolve("no-kvm"), TIMEOUT);
        assertEquals(new AcceleratorProbe.Choice(Accelerator.TCG, "TCG: no " + dir.resolve("no-kvm")), choice);
    }

    @Test
    void firmwareBannerFromRealQemuIsRecognizedAsGuestCodeRunning() throws Exception {
        String qemu = GuestProcessTest.qemu();
        assumeTrue(qemu != null, GuestProcessTest.NO_QEMU);
        // TCG runs everywhere: the same probe QEMU as for KVM, to show its answer is recognized.
        AcceleratorProbe.Choice choice = AcceleratorProbe.probe(qemu, Accelerator.TCG, kvmDevice(), Duration.ofSeconds(5));
        assertEquals(Accelerator.TCG, choice.accelerator(), choice.reason());
        assertTrue(choice.reason().startsWith("TCG: guest code ran in "), choice.reason());
    }

    @Test
    void thisMachinesKvmAnswersWithinTheTimeoutOrTcgIsChosen() throws Exception {
        String qemu = GuestProcessTest.qemu();
        assumeTrue(qemu != null, GuestProcessTest.NO_QEMU);
        long startNs = System.nanoTime();
        AcceleratorProbe.Choice choice = AcceleratorProbe.probe(qemu, Path.of("/dev/kvm"), TIMEOUT);
        long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs);
        System.out.println("accelerator probe: " + choice.reason() + " (" + tookMs + " ms)");
        assertTrue(tookMs < 3_000, "probe took " + tookMs + " ms (expected: < 3000)");
        assertTrue(choice.reason().startsWith(choice.accelerator().name() + ": "), choice.reason());
    }
}
