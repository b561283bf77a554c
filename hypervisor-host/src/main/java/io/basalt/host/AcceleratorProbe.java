package io.basalt.host;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Picks KVM when {@code /dev/kvm} answers within a timeout, TCG otherwise, and says why in one
 * line for the agent to print.
 *
 * <p>On some machines {@code /dev/kvm} opens and even creates a VM at once, but running guest code
 * in it hangs. So the probe runs guest code, out of process (a hang inside the agent's own
 * process could not be undone): a short-lived QEMU with a {@code pc} machine under KVM whose
 * firmware (SeaBIOS) writes its banner to the debug console port; the banner on QEMU's stdout
 * proves that vCPUs ran under KVM. QEMU exits at once when KVM cannot initialize (its error is
 * the first line). The probe QEMU is killed (SIGKILL, by pid) when it has answered, failed, or
 * run out of time.
 *
 * <p>Known gap: on the build machines this probe answers KVM (firmware banner in ~60 ms), yet a
 * Linux guest under KVM there prints nothing for minutes, so the probe does not yet catch every
 * KVM that cannot run a guest; a probe that runs a tiny kernel to its first output is the next step.
 */
public final class AcceleratorProbe {
    /** How long {@code /dev/kvm} may take to answer before TCG is chosen. */
    public static final Duration PROBE_TIMEOUT_DEFAULT = Duration.ofSeconds(1);
    /** The I/O port SeaBIOS writes its debug output to (QEMU's isa-debugcon listens there). */
    static final String FIRMWARE_DEBUG_PORT = "0x402";
    /** How the firmware's first debug line starts, e.g. {@code SeaBIOS (version 1.16.2-debian-1.16.2-1)}. */
    static final String FIRMWARE_BANNER = "SeaBIOS";
    /** How long a killed probe may take to be reaped before the probe reports it as left behind. */
    static final Duration KILL_WAIT = Duration.ofSeconds(5);

    /** The chosen accelerator and a one-line reason (e.g. {@code "TCG: /dev/kvm did not answer within 1000 ms"}). */
    public record Choice(Accelerator accelerator, String reason) {
        public Choice {
            Objects.requireNonNull(accelerator, "accelerator");
            Objects.requireNonNull(reason, "reason");
        }
    }

    private AcceleratorProbe() {}

    /** Probes {@code /dev/kvm} with {@code qemu} (e.g. {@code qemu-system-x86_64}), waiting at most {@code timeout}. */
    public static Choice probe(String qemu, Path kvmDevice, Duration timeout) throws IOException, InterruptedException {
        if (!Files.exists(kvmDevice)) {
            return new Choice(Accelerator.TCG, "TCG: no " + kvmDevice);
        }
        return probe(qemu, Accelerator.KVM, kvmDevice, timeout);
    }

    /** Runs the probe QEMU under {@code tried} (tests try TCG, to see the firmware's banner detected on any machine). */
    static Choice probe(String qemu, Accelerator tried, Path kvmDevice, Duration timeout) throws IOException, InterruptedException {
        Process probe = new ProcessBuilder(List.of(qemu, "-machine", "pc", "-accel", tried.qemuName(), "-m", "16",
                "-nodefaults", "-no-user-config", "-display", "none",
                "-chardev", "stdio,id=firmware", "-device", "isa-debugcon,iobase=" + FIRMWARE_DEBUG_PORT + ",chardev=firmware"))
                .redirectErrorStream(true)
                .start();
        Choice choice;
        try {
            choice = await(probe, tried, kvmDevice, timeout);
        } finally {
            probe.destroyForcibly();
        }
        if (!probe.waitFor(KILL_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
            // A process blocked inside the kernel dies only when the kernel call returns: say so.
            return new Choice(choice.accelerator(), choice.reason() + "; probe QEMU pid " + probe.pid()
                    + " still there " + KILL_WAIT.toMillis() + " ms after SIGKILL");
        }
        return choice;
    }

    private static Choice await(Process probe, Accelerator tried, Path kvmDevice, Duration timeout) throws InterruptedException {
        long startNs = System.nanoTime();
        CompletableFuture<String> answer = CompletableFuture.supplyAsync(() -> firstLine(probe),
                command -> Thread.ofVirtual().name("kvm-probe").start(command));
        String line;
        try {
            line = answer.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            return new Choice(Accelerator.TCG, "TCG: " + kvmDevice + " did not answer within "
                    + timeout.toMillis() + " ms (probe QEMU pid " + probe.pid() + " killed)");
        } catch (ExecutionException e) {
            return new Choice(Accelerator.TCG, "TCG: KVM probe failed: " + e.getCause());
        }
        long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs);
        if (line != null && line.startsWith(FIRMWARE_BANNER)) {
            return new Choice(tried, tried.name() + ": guest code ran in " + tookMs + " ms (" + kvmDevice + ")");
        }
        // QEMU's first line is then its error, e.g. "Could not access KVM kernel module: Permission denied".
        return new Choice(Accelerator.TCG, "TCG: KVM unavailable: " + (line == null ? "probe QEMU exited silently" : line.strip()));
    }

    /** The firmware's banner if QEMU's guest prints it, else the first line it wrote (its error), null if none. */
    private static String firstLine(Process probe) {
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(probe.getInputStream(), StandardCharsets.UTF_8));
            String first = null;
            for (String line = out.readLine(); line != null; line = out.readLine()) {
                if (line.startsWith(FIRMWARE_BANNER)) {
                    return line;
                }
                first = first == null ? line : first;
            }
            return first;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
