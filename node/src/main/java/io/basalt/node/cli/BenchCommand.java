package io.basalt.node.cli;

import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

import io.basalt.vdisk.Sizes;
import io.basalt.vdisk.store.Extent;
import io.basalt.vdisk.store.Vdisk;
import io.basalt.vdisk.store.VdiskStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt bench}: the engine's benchmark, in-process, modelled on {@code rbd bench}. One
 * run prepares a fully written vdisk, then measures each workload {@code --runs} times after a
 * warm-up and prints every run and the median. Timings are measured, never asserted.
 */
@Command(name = "bench", description = {"Benchmark the local engine in-process (like 'rbd bench'):",
        "4K random read and write at --inflight, 1M sequential write, snapshot create latency, diff cost."})
public final class BenchCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Option(names = "--data", defaultValue = "./data-bench", description = "Scratch store directory, emptied first (default ${DEFAULT-VALUE}).")
    java.nio.file.Path data;
    @Option(names = "--size", defaultValue = "1G", converter = SizeConverter.class) long size;
    @Option(names = "--inflight", defaultValue = "32") int inflight;
    @Option(names = "--seconds", defaultValue = "10", description = "Measured seconds per run.") int seconds;
    @Option(names = "--warmup", defaultValue = "5", description = "Warm-up seconds before each workload.") int warmup;
    @Option(names = "--runs", defaultValue = "3") int runs;
    @Option(names = "--cache", defaultValue = "2G", converter = SizeConverter.class, description = "RocksDB block cache.") long cache;
    @Option(names = "--grain-size", defaultValue = "4K", converter = SizeConverter.class) long grainSize;
    @Option(names = "--io-threads", description = "Engine I/O threads (default: the engine's).") Integer ioThreads;
    @Option(names = "--snapshot-first", description = "Take a snapshot after preparing, so reads go through the floor seek.")
    boolean snapshotFirst;
    @Option(names = "--rocksdb-stats", description = "Print RocksDB's compaction and stall statistics after the I/O workloads.")
    boolean rocksdbStats;
    @Option(names = "--only", split = ",", description = "Workloads: randread,randread-snap,randwrite,seqwrite,seqread,snapshot,diff (default: all).")
    List<String> only;

    private PrintWriter out;

    @Override
    public Integer call() throws Exception {
        out = spec.commandLine().getOut();
        deleteTree(data);
        VdiskStore.Options defaults = VdiskStore.Options.defaults();
        VdiskStore.Options options = new VdiskStore.Options(cache, ioThreads == null ? defaults.ioThreads() : ioThreads);
        out.printf(Locale.ROOT, "basalt bench: %s vdisk, %s grains, %d in flight, %d io threads, %s cache, %d x %d s runs after %d s warm-up, %d cores%n",
                Sizes.format(size), Sizes.format(grainSize), inflight, options.ioThreads(), Sizes.format(cache), runs, seconds, warmup,
                Runtime.getRuntime().availableProcessors());
        try (VdiskStore store = VdiskStore.open(data, options)) {
            store.create("bench", size, 512, Math.toIntExact(grainSize));
            try (Vdisk disk = store.open("bench")) {
                long t0 = System.nanoTime();
                run(disk, Workload.SEQWRITE, Long.MAX_VALUE, size / (1 << 20));
                out.printf(Locale.ROOT, "prepare: wrote %s sequentially in %.1f s%n", Sizes.format(size), (System.nanoTime() - t0) / 1e9);
                if (snapshotFirst) {
                    store.createSnapshot("bench", "first");
                    out.println("(snapshot taken first: every grain lies below the head epoch)");
                }
                if (wanted("randread")) {
                    measure(disk, Workload.RANDREAD);
                }
                if (wanted("randread-snap")) {
                    // Every grain now lives below the head epoch: reads take the seek path.
                    store.createSnapshot("bench", "before-read");
                    out.println("(snapshot taken: reads below go through the floor seek)");
                    measure(disk, Workload.RANDREAD);
                    store.removeSnapshot("bench", "before-read");
                }
                if (wanted("randwrite")) {
                    measure(disk, Workload.RANDWRITE);
                }
                if (wanted("seqwrite")) {
                    measure(disk, Workload.SEQWRITE);
                }
                if (wanted("seqread")) {
                    measure(disk, Workload.SEQREAD);
                }
                if (rocksdbStats) {
                    out.println(store.blockStoreStats());
                }
                if (wanted("snapshot")) {
                    snapshots(store, disk);
                }
                if (wanted("diff")) {
                    diffs(store, disk);
                }
            }
        } finally {
            deleteTree(data);
        }
        return 0;
    }

    private boolean wanted(String name) {
        return only == null || only.contains(name);
    }

    enum Workload {
        RANDREAD(4096, false), RANDWRITE(4096, true), SEQWRITE(1 << 20, true), SEQREAD(1 << 20, false);

        final int ioBytes;
        final boolean write;

        Workload(int ioBytes, boolean write) {
            this.ioBytes = ioBytes;
            this.write = write;
        }
    }

    record Result(double iops, double mibPerSec, Histogram latency) {}

    private void measure(Vdisk disk, Workload w) throws InterruptedException {
        run(disk, w, TimeUnit.SECONDS.toNanos(warmup), Long.MAX_VALUE);
        List<Result> results = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            Result r = run(disk, w, TimeUnit.SECONDS.toNanos(seconds), Long.MAX_VALUE);
            results.add(r);
            out.printf(Locale.ROOT, "%-9s run %d: %9.0f IOPS %8.1f MiB/s  lat p50 %6.0f us  p99 %6.0f us%n", w.name().toLowerCase(Locale.ROOT),
                    i + 1, r.iops(), r.mibPerSec(), r.latency().getValueAtPercentile(50) / 1e3, r.latency().getValueAtPercentile(99) / 1e3);
        }
        results.sort((a, b) -> Double.compare(a.iops(), b.iops()));
        Result median = results.get(results.size() / 2);
        out.printf(Locale.ROOT, "%-9s MEDIAN: %9.0f IOPS %8.1f MiB/s%n", w.name().toLowerCase(Locale.ROOT), median.iops(), median.mibPerSec());
        out.flush();
    }

    /** Runs {@code w} for {@code durationNs} or {@code opsMax} operations, {@link #inflight} at a time. */
    private Result run(Vdisk disk, Workload w, long durationNs, long opsMax) throws InterruptedException {
        long blocksPerIo = w.ioBytes / 512;
        long slots = size / w.ioBytes;
        AtomicLong issued = new AtomicLong();
        AtomicLong done = new AtomicLong();
        AtomicLong seqCursor = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        ConcurrentHistogram latency = new ConcurrentHistogram(3);
        byte[] payload = new byte[w.ioBytes];
        new SplittableRandom(1).nextBytes(payload);
        CountDownLatch finished = new CountDownLatch(inflight);
        long start = System.nanoTime();
        long deadline = durationNs == Long.MAX_VALUE ? Long.MAX_VALUE : start + durationNs;
        for (int q = 0; q < inflight; q++) {
            SplittableRandom rnd = new SplittableRandom(q * 7919L + 1);
            Runnable[] next = new Runnable[1];
            next[0] = () -> {
                if (stop.get() || System.nanoTime() - deadline >= 0 && deadline != Long.MAX_VALUE || issued.incrementAndGet() > opsMax || failure.get() != null) {
                    finished.countDown();
                    return;
                }
                long slot = w == Workload.SEQWRITE || w == Workload.SEQREAD ? seqCursor.getAndIncrement() % slots : rnd.nextLong(slots);
                long lba = slot * blocksPerIo;
                long t = System.nanoTime();
                var f = w.write ? disk.write(lba, ByteBuffer.wrap(payload), false) : disk.read(lba, (int) blocksPerIo);
                f.whenComplete((ok, err) -> {
                    if (err != null) {
                        failure.compareAndSet(null, err);
                    }
                    latency.recordValue(Math.max(1, System.nanoTime() - t));
                    done.incrementAndGet();
                    next[0].run();
                });
            };
            next[0].run();
        }
        finished.await();
        stop.set(true);
        if (failure.get() != null) {
            throw new IllegalStateException("bench I/O failed: " + failure.get().getMessage(), failure.get());
        }
        double secs = (System.nanoTime() - start) / 1e9;
        double iops = done.get() / secs;
        return new Result(iops, iops * w.ioBytes / (1 << 20), latency);
    }

    /** Snapshot create latency on a vdisk with {@code size} written, with writes between snapshots. */
    private void snapshots(VdiskStore store, Vdisk disk) throws InterruptedException {
        List<Double> ms = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            run(disk, Workload.RANDWRITE, Long.MAX_VALUE, 1000);
            long t = System.nanoTime();
            store.createSnapshot("bench", "lat" + i);
            ms.add((System.nanoTime() - t) / 1e6);
        }
        ms.sort(Double::compare);
        out.printf(Locale.ROOT, "snapshot create (%s written, 20 snapshots): median %.2f ms, max %.2f ms%n", Sizes.format(size),
                ms.get(ms.size() / 2), ms.get(ms.size() - 1));
        store.purgeSnapshots("bench");
    }

    /** Diff cost against the fraction of grains changed between two snapshots. */
    private void diffs(VdiskStore store, Vdisk disk) throws InterruptedException {
        long grains = size / 4096;
        for (double fraction : new double[] {0.001, 0.01, 0.1}) {
            store.createSnapshot("bench", "a");
            long writes = Math.max(1, (long) (grains * fraction));
            SplittableRandom rnd = new SplittableRandom(3);
            byte[] payload = new byte[4096];
            for (long i = 0; i < writes; i++) {
                rnd.nextBytes(payload);
                disk.write(rnd.nextLong(grains) * 8, ByteBuffer.wrap(payload), false).join();
            }
            store.createSnapshot("bench", "b");
            List<Double> ms = new ArrayList<>();
            long changed = 0;
            for (int i = 0; i < Math.max(3, runs); i++) {
                long t = System.nanoTime();
                List<Extent> extents = store.diff("bench", "a", "b");
                ms.add((System.nanoTime() - t) / 1e6);
                changed = extents.stream().mapToLong(Extent::lengthBytes).sum();
            }
            ms.sort(Double::compare);
            out.printf(Locale.ROOT, "diff a..b with %5.1f%% of grains written (%d writes, %s changed): median %.1f ms%n",
                    fraction * 100, writes, Sizes.format(changed), ms.get(ms.size() / 2));
            store.purgeSnapshots("bench");
        }
    }

    private static void deleteTree(java.nio.file.Path dir) throws java.io.IOException {
        if (!java.nio.file.Files.exists(dir)) {
            return;
        }
        try (var paths = java.nio.file.Files.walk(dir)) {
            for (java.nio.file.Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                java.nio.file.Files.delete(p);
            }
        }
    }
}
