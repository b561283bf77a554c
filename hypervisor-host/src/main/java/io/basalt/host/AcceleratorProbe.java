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
 * <p>On some machines opening or initializing {@code /dev/kvm} hangs. A hang inside the agent's
 * own process could not be undone, so the probe runs out of process: a short-lived QEMU with no
 * machine ({@code -machine none -accel kvm}) whose QMP greeting on stdout proves that KVM
 * initialized (QEMU sets up the accelerator before its monitor, and exits when it cannot). The
 * probe QEMU is killed (SIGKILL, by pid) when it has answered, failed, or run out of time.
 */
public final class AcceleratorProbe {
    /** How long {@code /dev/kvm} may take to answer before TCG is chosen. */
    public static final Duration PROBE_TIMEOUT_DEFAULT = Duration.ofSeconds(1);
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
        Process probe = new ProcessBuilder(List.of(qemu, "-machine", "none", "-accel", "kvm",
                "-nodefaults", "-no-user-config", "-display", "none", "-qmp", "stdio"))
                .redirectErrorStream(true)
                .start();
        Choice choice;
        try {
            choice = await(probe, kvmDevice, timeout);
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

    private static Choice await(Process probe, Path kvmDevice, Duration timeout) throws InterruptedException {
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
        if (line != null && line.startsWith("{\"QMP\"")) {
            return new Choice(Accelerator.KVM, "KVM: " + kvmDevice + " answered in " + tookMs + " ms");
        }
        // QEMU's first line is then its error, e.g. "Could not access KVM kernel module: Permission denied".
        return new Choice(Accelerator.TCG, "TCG: KVM unavailable: " + (line == null ? "probe QEMU exited silently" : line.strip()));
    }

    /** The QMP greeting if QEMU sends one, else the first line it wrote (its error), null if none. */
    private static String firstLine(Process probe) {
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(probe.getInputStream(), StandardCharsets.UTF_8));
            String first = null;
            for (String line = out.readLine(); line != null; line = out.readLine()) {
                if (line.startsWith("{\"QMP\"")) {
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
