package io.basalt.interop;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs {@code qemu-img} (scripts/install-test-deps.sh installs it) with a timeout; the process is killed by pid on timeout. */
final class QemuImg {
    static final Path BINARY = Path.of("/usr/bin/qemu-img");
    private static final long TIMEOUT_SECONDS = 30;

    record Outcome(int exit, String output) {
        boolean ok() {
            return exit == 0;
        }
    }

    private QemuImg() {}

    static void assumeInstalled() {
        assumeTrue(Files.isExecutable(BINARY), "qemu-img not installed at " + BINARY + " (scripts/install-test-deps.sh installs it)");
    }

    static Outcome run(String... args) {
        List<String> command = new ArrayList<>(List.of(BINARY.toString()));
        command.addAll(List.of(args));
        Process p = null;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                throw new AssertionError("timed out after " + TIMEOUT_SECONDS + " s: " + command);
            }
            return new Outcome(p.exitValue(), new String(out, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new AssertionError("run " + command + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted: " + command, e);
        } finally {
            if (p != null && p.isAlive()) {
                p.destroyForcibly();
            }
        }
    }

    /** Runs and fails the test unless qemu-img exits 0. */
    static String ok(String... args) {
        Outcome o = run(args);
        if (!o.ok()) {
            throw new AssertionError("qemu-img " + String.join(" ", args) + " exited " + o.exit() + ": " + o.output());
        }
        return o.output();
    }
}
