package io.basalt.node.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The reference for {@code basalt bench --vs-qcow2}: the same workloads on a qcow2 file in the
 * same directory (so on the same disk), driven by {@code qemu-img bench}. It writes one fixed
 * byte pattern (never zeros, which qcow2 could skip), where the engine's bench writes random data.
 * {@code qemu-img bench} has no random mode: "random" 4 KiB writes are a stride through the whole
 * file by an odd number of 4 KiB slots, coprime with the slot count, so every slot is visited and
 * consecutive writes land far apart. Each measured run is a request count calibrated to about
 * {@code seconds} from a first, unmeasured pass (which also allocates the file's clusters).
 */
final class QemuImgBench {
    /** One qcow2 workload: request size, whether it walks the file sequentially, and the cache mode ({@code -t}). */
    record Spec(String name, int ioBytes, boolean sequential, String cache) {}

    /** The fixed, non-zero byte {@code qemu-img bench} writes. */
    static final String PATTERN = "0xa5";
    private static final Pattern COMPLETED = Pattern.compile("Run completed in ([0-9.]+) seconds");

    private final PrintWriter out;
    private final Path file;
    private final long size;
    private final int depth;
    private final int seconds;
    private final int runs;
    private final String qemuImg;

    QemuImgBench(PrintWriter out, Path dir, long size, int depth, int seconds, int runs) {
        this.out = out;
        this.file = dir.resolve("bench.qcow2");
        this.size = size;
        this.depth = depth;
        this.seconds = seconds;
        this.runs = runs;
        this.qemuImg = find();
    }

    /** The {@code qemu-img} on the PATH; fails naming what is missing. */
    static String find() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, "qemu-img");
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        throw new IllegalArgumentException("--vs-qcow2: qemu-img not found on PATH=" + System.getenv("PATH")
                + " (expected: qemu-img installed, e.g. the qemu-utils package, or no --vs-qcow2)");
    }

    /** Creates the qcow2 file and writes it fully once (1 MiB requests), so later writes overwrite allocated clusters. */
    void prepare() throws IOException, InterruptedException {
        Files.deleteIfExists(file);
        exec(List.of(qemuImg, "create", "-q", "-f", "qcow2", file.toString(), Long.toString(size)));
        double secs = bench(new Spec("prepare", 1 << 20, true, "none"), size >> 20);
        out.printf(Locale.ROOT, "qcow2 prepare: wrote %d MiB sequentially in %.1f s (qemu-img bench, -t none, pattern %s)%n", size >> 20, secs, PATTERN);
    }

    /** Runs {@code spec} {@link #runs} times after a calibrating pass; prints each run and returns the median MiB/s. */
    double measure(Spec spec) throws IOException, InterruptedException {
        long slots = size / spec.ioBytes();
        long calibration = Math.min(slots, spec.ioBytes() >= (1 << 20) ? slots : 50_000);
        double calSecs = bench(spec, calibration);
        long count = Math.max(calibration, (long) (calibration / Math.max(calSecs, 1e-3) * seconds));
        List<Double> mibs = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            double secs = bench(spec, count);
            double iops = count / secs;
            double mib = iops * spec.ioBytes() / (1 << 20);
            mibs.add(mib);
            out.printf(Locale.ROOT, "%-22s run %d: %9.0f IOPS %8.1f MiB/s  (%d requests in %.2f s)%n", spec.name(), i + 1, iops, mib, count, secs);
        }
        mibs.sort(Double::compare);
        double median = mibs.get(mibs.size() / 2);
        out.printf(Locale.ROOT, "%-22s MEDIAN: %9.0f IOPS %8.1f MiB/s%n", spec.name(), median * (1 << 20) / spec.ioBytes(), median);
        out.flush();
        return median;
    }

    void delete() throws IOException {
        Files.deleteIfExists(file);
    }

    /** One {@code qemu-img bench} of {@code count} writes; returns the seconds it reports. */
    private double bench(Spec spec, long count) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(qemuImg, "bench", "-w", "-f", "qcow2", "-t", spec.cache(), "-d", Integer.toString(depth),
                "-s", Integer.toString(spec.ioBytes()), "-c", Long.toString(count), "--pattern=" + PATTERN));
        if (!spec.sequential()) {
            cmd.addAll(List.of("-S", Long.toString(strideSlots(size / spec.ioBytes()) * spec.ioBytes())));
        }
        cmd.add(file.toString());
        String output = exec(cmd);
        Matcher m = COMPLETED.matcher(output);
        if (!m.find()) {
            throw new IllegalStateException("qemu-img bench printed no 'Run completed in N seconds' (expected one): " + output.strip());
        }
        return Math.max(Double.parseDouble(m.group(1)), 1e-3);
    }

    /** An odd stride near 0.618 of {@code slots}, coprime with it, so a walk visits every slot once per lap. */
    static long strideSlots(long slots) {
        long s = Math.max(1, (long) (slots * 0.6180339887)) | 1;
        while (s > 1 && gcd(s, slots) != 1) {
            s += 2;
        }
        return s;
    }

    private static long gcd(long a, long b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    private static String exec(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", cmd) + " failed (exit " + (p.isAlive() ? "none, still running" : p.exitValue())
                        + "): " + output.strip() + (output.contains("O_DIRECT") || output.contains("Invalid argument")
                        ? " (this filesystem may not support -t none, O_DIRECT)" : ""));
            }
            return output;
        } finally {
            p.destroyForcibly();
        }
    }
}
