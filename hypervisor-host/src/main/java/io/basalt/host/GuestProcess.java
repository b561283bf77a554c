package io.basalt.host;

import io.basalt.host.qmp.Qmp;
import io.basalt.host.qmp.QmpException;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;

/**
 * One guest: a QEMU child process started from a {@link VmSpec}, controlled over QMP on a unix
 * socket in the VM's run directory, its serial console appended to {@code console.log} there and
 * QEMU's own output to {@code qemu.log}. No display, {@code -no-reboot} (a guest reboot ends the
 * process, so the agent decides what happens next), no network yet.
 *
 * <p>Owns the process and the QMP connection; one thread drives it (start, stop, kill, close).
 * The process is killed by pid on {@link #close} if still running, and on a failed start.
 */
public final class GuestProcess implements AutoCloseable {
    /** How long QEMU may take from exec to answering QMP (it opens the socket before the guest runs). */
    public static final Duration QMP_CONNECT_TIMEOUT = Duration.ofSeconds(10);
    /** How long {@link #stop} waits for the guest to power off after the ACPI button, unless told. */
    public static final Duration POWERDOWN_TIMEOUT_DEFAULT = Duration.ofSeconds(30);
    /** How long {@link #stop} waits for QEMU to exit after {@code quit} before SIGKILL. */
    public static final Duration QUIT_TIMEOUT = Duration.ofSeconds(5);
    /** How long a SIGKILLed QEMU may take to be reaped before that is an error. */
    public static final Duration KILL_WAIT = Duration.ofSeconds(5);
    /** A unix socket path is at most 107 bytes (sun_path is 108 with the NUL). */
    static final int SOCKET_PATH_BYTES_MAX = 107;
    private static final Duration CONNECT_RETRY_PAUSE = Duration.ofMillis(20);
    /** How long a QEMU whose QMP greeting broke off is given to exit (it failed on its options) before the break is reported as is. */
    private static final Duration EXIT_AFTER_BROKEN_GREETING = Duration.ofSeconds(2);

    /** How {@link #stop} ended the guest. */
    public enum StopWay {
        /** The process had exited before stop was called. */
        EXITED,
        /** The guest powered off after the ACPI power button. */
        POWERED_DOWN,
        /** The guest ignored the button (or QMP could not press it); QEMU quit on {@code quit}. */
        QUIT,
        /** QEMU did not answer {@code quit} in time and was killed (SIGKILL). */
        KILLED
    }

    /** What {@link #stop} did, QEMU's exit code, and how long it took. */
    public record Stopped(StopWay way, int exitCode, Duration took) {}

    private final VmSpec spec;
    private final Path runDir;
    private final Process process;
    private final Qmp qmp;

    private GuestProcess(VmSpec spec, Path runDir, Process process, Qmp qmp) {
        this.spec = spec;
        this.runDir = runDir;
        this.process = process;
        this.qmp = qmp;
    }

    /**
     * Starts {@code spec}'s guest with {@code qemu} (e.g. {@code qemu-system-x86_64}) under
     * {@code accelerator}, its files in {@code runDir}, and connects QMP, whose calls then wait
     * at most {@code qmpCallTimeout}. On any failure the process is killed before this throws.
     */
    public static GuestProcess start(String qemu, Accelerator accelerator, VmSpec spec, Path runDir,
                                     Duration qmpCallTimeout) throws IOException, InterruptedException {
        Files.createDirectories(runDir);
        Path socket = qmpSocket(runDir);
        Files.deleteIfExists(socket);
        Process process = new ProcessBuilder(commandLine(qemu, accelerator, spec, runDir))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(qemuLog(runDir).toFile()))
                .start();
        try {
            return new GuestProcess(spec, runDir, process, connect(process, spec, runDir, qmpCallTimeout));
        } catch (IOException | InterruptedException | RuntimeException e) {
            process.destroyForcibly();
            process.waitFor(KILL_WAIT.toMillis(), TimeUnit.MILLISECONDS);
            throw e;
        }
    }

    /** QEMU's arguments for {@code spec}: the one place that decides how a guest is run. */
    static List<String> commandLine(String qemu, Accelerator accelerator, VmSpec spec, Path runDir) {
        String dir = runDir.toAbsolutePath().toString();
        // QEMU's option values are comma-separated: a comma in the run dir would split them.
        if (dir.contains(",")) {
            throw new IllegalArgumentException("run dir: " + dir + " (expected: no ',') vm=" + spec.name());
        }
        byte[] socketPath = qmpSocket(runDir).toAbsolutePath().toString().getBytes(StandardCharsets.UTF_8);
        if (socketPath.length > SOCKET_PATH_BYTES_MAX) {
            throw new IllegalArgumentException("QMP socket path: " + socketPath.length + " bytes (expected: <= "
                    + SOCKET_PATH_BYTES_MAX + ") run dir=" + dir);
        }
        List<String> args = new ArrayList<>(List.of(qemu,
                "-name", "guest=" + spec.name() + ",debug-threads=on",
                "-accel", accelerator.qemuName(),
                // Boot memory and room for modules; vCPUs and room for more: the same on every host for one VM, so it migrates.
                "-m", spec.bootMemoryMiB() + "M,slots=" + VmSpec.DIMM_SLOTS + ",maxmem=" + (spec.bootMemoryMiB() + VmSpec.MEMORY_HOTPLUG_MIB_MAX) + "M",
                "-smp", spec.bootVcpus() + ",maxcpus=" + Math.max(spec.bootVcpus(), VmSpec.VCPUS_HOTPLUG_MAX),
                "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                "-chardev", "socket,id=qmp,path=" + qmpSocket(runDir).toAbsolutePath() + ",server=on,wait=off",
                "-mon", "chardev=qmp,mode=control",
                "-chardev", "file,id=console,path=" + consoleLog(runDir).toAbsolutePath() + ",append=on",
                "-serial", "chardev:console"));
        for (int i = 0; i < spec.disks().size(); i++) {
            args.addAll(GuestDisks.qemuArgs(spec.disks().get(i), spec.diskSlots().get(i)));
        }
        spec.boot().ifPresent(boot -> {
            args.addAll(List.of("-kernel", boot.kernel()));
            boot.initrd().ifPresent(initrd -> args.addAll(List.of("-initrd", initrd)));
            args.addAll(List.of("-append", boot.append()));
        });
        for (int i = 0; i < spec.hotVcpus().size(); i++) {
            // vCPUs hot-plugged before a migration: the destination starts with them in the same slots.
            HotVcpu cpu = spec.hotVcpus().get(i);
            StringBuilder device = new StringBuilder(cpu.type()).append(",id=").append(vcpuId(spec.bootVcpus() + i));
            cpu.props().forEach((k, v) -> device.append(',').append(k).append('=').append(v));
            args.addAll(List.of("-device", device.toString()));
        }
        for (int i = 0; i < spec.dimmsMiB().size(); i++) {
            // Modules hot-plugged before a migration: the destination starts with them, under the same ids.
            args.addAll(List.of("-object", "memory-backend-ram,id=" + memoryBackendId(i) + ",size=" + spec.dimmsMiB().get(i) + "M",
                    "-device", "pc-dimm,id=" + dimmId(i) + ",memdev=" + memoryBackendId(i)));
        }
        args.addAll(spec.network().qemuArgs(spec.mac()));
        if (spec.paused()) {
            args.add("-S");
        }
        spec.incoming().ifPresent(uri -> args.addAll(List.of("-incoming", uri)));
        return args;
    }

    /** The device id of vCPU {@code index} (counting from 0 over all the guest's vCPUs) when it was hot-plugged. */
    public static String vcpuId(int index) {
        return "vcpu" + index;
    }

    /** The QOM id of the {@code index}th hot-plugged memory module's backend, and of the module. */
    public static String memoryBackendId(int index) {
        return "mem" + index;
    }

    public static String dimmId(int index) {
        return "dimm" + index;
    }

    private static Qmp connect(Process process, VmSpec spec, Path runDir, Duration qmpCallTimeout)
            throws IOException, InterruptedException {
        Path socket = qmpSocket(runDir);
        long deadlineNs = System.nanoTime() + QMP_CONNECT_TIMEOUT.toNanos();
        while (true) {
            if (!process.isAlive()) {
                throw new IOException("QEMU for vm " + spec.name() + " exited with " + process.exitValue()
                        + " before answering QMP: " + lastLines(qemuLog(runDir), 5));
            }
            if (Files.exists(socket)) {
                try {
                    return Qmp.connect(socket, qmpCallTimeout);
                } catch (QmpException e) {
                    // Connected but no greeting: QEMU may have opened QMP and then failed on its options
                    // (a missing disk) and exited. Say that, with its complaint; else retrying would not help.
                    if (process.waitFor(EXIT_AFTER_BROKEN_GREETING.toMillis(), TimeUnit.MILLISECONDS)) {
                        throw new IOException("QEMU for vm " + spec.name() + " exited with " + process.exitValue()
                                + " before answering QMP: " + lastLines(qemuLog(runDir), 5), e);
                    }
                    throw e;
                } catch (IOException e) {
                    // The socket file exists a moment before QEMU listens on it.
                }
            }
            if (System.nanoTime() > deadlineNs) {
                throw new IOException("QEMU for vm " + spec.name() + " did not open QMP socket " + socket + " within "
                        + QMP_CONNECT_TIMEOUT.toMillis() + " ms: " + lastLines(qemuLog(runDir), 5));
            }
            Thread.sleep(CONNECT_RETRY_PAUSE);
        }
    }

    private static String lastLines(Path file, int count) {
        try {
            List<String> lines = Files.readAllLines(file);
            return String.join(" | ", lines.subList(Math.max(0, lines.size() - count), lines.size()));
        } catch (IOException e) {
            return "(" + file + " unreadable: " + e.getMessage() + ")";
        }
    }

    static Path qmpSocket(Path runDir) {
        return runDir.resolve("qmp.sock");
    }

    static Path consoleLog(Path runDir) {
        return runDir.resolve("console.log");
    }

    static Path qemuLog(Path runDir) {
        return runDir.resolve("qemu.log");
    }

    public VmSpec spec() {
        return spec;
    }

    public Qmp qmp() {
        return qmp;
    }

    public long pid() {
        return process.pid();
    }

    public Path runDir() {
        return runDir;
    }

    /** The guest's serial console, appended to across restarts of the VM on this host. */
    public Path consoleLog() {
        return consoleLog(runDir);
    }

    /** QEMU's own stdout and stderr (warnings, errors). */
    public Path qemuLog() {
        return qemuLog(runDir);
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** QEMU's exit code once it exited within {@code timeout}, else empty. */
    public OptionalInt waitFor(Duration timeout) throws InterruptedException {
        return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS) ? OptionalInt.of(process.exitValue()) : OptionalInt.empty();
    }

    /**
     * Stops the guest politely, then less so: the ACPI power button ({@code system_powerdown})
     * and {@code powerdownTimeout} for the guest to power off; then {@code quit} and
     * {@link #QUIT_TIMEOUT}; then SIGKILL. A QMP call that fails (frozen QEMU) moves to the next step.
     */
    public Stopped stop(Duration powerdownTimeout) throws InterruptedException {
        long startNs = System.nanoTime();
        if (!process.isAlive()) {
            return stopped(StopWay.EXITED, startNs);
        }
        if (delivered(qmp::systemPowerdown) && waitFor(powerdownTimeout).isPresent()) {
            return stopped(StopWay.POWERED_DOWN, startNs);
        }
        if (delivered(qmp::quit) && waitFor(QUIT_TIMEOUT).isPresent()) {
            return stopped(StopWay.QUIT, startNs);
        }
        kill();
        return stopped(StopWay.KILLED, startNs);
    }

    private interface QmpCall {
        void run() throws QmpException, InterruptedException;
    }

    /**
     * Whether QEMU took the command: it answered, or the connection closed (QEMU is exiting,
     * which is what stop wants). No answer in time or an error reply means it did not.
     */
    private static boolean delivered(QmpCall call) throws InterruptedException {
        try {
            call.run();
            return true;
        } catch (QmpException.Closed e) {
            return true;
        } catch (QmpException e) {
            return false;
        }
    }

    private Stopped stopped(StopWay way, long startNs) {
        return new Stopped(way, process.exitValue(), Duration.ofNanos(System.nanoTime() - startNs));
    }

    /** SIGKILL (a frozen QEMU too) and waits for the process to be gone. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(KILL_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("QEMU pid " + process.pid() + " of vm " + spec.name() + " still running "
                    + KILL_WAIT.toMillis() + " ms after SIGKILL");
        }
    }

    /** Kills QEMU if it still runs and closes QMP. */
    @Override
    public void close() {
        try {
            if (process.isAlive()) {
                kill();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        } finally {
            qmp.close();
        }
    }

    @Override
    public String toString() {
        return "GuestProcess[vm=" + spec.name() + " pid=" + process.pid() + " run dir=" + runDir + "]";
    }
}
