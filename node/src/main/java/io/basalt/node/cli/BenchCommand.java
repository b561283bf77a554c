package io.basalt.node.cli;

import io.basalt.node.datastore.Datastore;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.Sizes;
import io.basalt.vdisk.store.Extent;
import io.basalt.vdisk.store.VdiskStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt bench}: the engine's benchmark, in-process, modelled on {@code rbd bench}, or
 * with {@code --cluster} the same workloads against a cluster through its client (as {@code rbd
 * bench} runs against a Ceph pool). One run prepares a fully written vdisk, then measures each
 * workload {@code --runs} times after a warm-up and prints every run and the median. Timings are
 * measured, never asserted.
 */
@Command(name = "bench", description = {"Benchmark the local engine in-process, or a cluster with --cluster (like 'rbd bench'):",
        "4K random read and write at --inflight, 1M sequential write, snapshot create latency, diff cost."})
public final class BenchCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Option(names = "--data", defaultValue = "./data-bench", description = "Scratch store directory, emptied first (default ${DEFAULT-VALUE}).")
    java.nio.file.Path data;
    @Option(names = "--cluster", description = {"Benchmark this cluster (a cluster file, or a 'basalt cluster up' directory) instead of the",
            "local engine: vdisk --image is created there, measured and removed."})
    java.nio.file.Path cluster;
    @Option(names = "--image", defaultValue = "bench", description = "The vdisk to create, measure and remove (default ${DEFAULT-VALUE}); on a cluster it must not exist yet.")
    String image;
    @Option(names = "--size", defaultValue = "1G", converter = SizeConverter.class) long size;
    @Option(names = "--inflight", defaultValue = "32") int inflight;
    @Option(names = "--seconds", defaultValue = "10", description = "Measured seconds per run.") int seconds;
    @Option(names = "--warmup", defaultValue = "5", description = "Warm-up seconds before each workload.") int warmup;
    @Option(names = "--runs", defaultValue = "3") int runs;
    @Option(names = "--cache", defaultValue = "2G", converter = SizeConverter.class, description = "RocksDB block cache (local engine).") long cache;
    @Option(names = "--grain-size", defaultValue = "4K", converter = SizeConverter.class) long grainSize;
    @Option(names = "--io-threads", description = "Engine I/O threads (local engine; default: the engine's).") Integer ioThreads;
    @Option(names = "--snapshot-first", description = "Take a snapshot after preparing, so reads go through the floor seek.")
    boolean snapshotFirst;
    @Option(names = "--rocksdb-stats", description = "Print RocksDB's compaction and stall statistics after the I/O workloads (local engine).")
    boolean rocksdbStats;
    @Option(names = "--pg-inflight", paramLabel = "N", description = {"Raft entries the client keeps in flight per placement group and lane",
            "(--cluster; default: the cluster's tuning, " + ClusterConfig.Tuning.PG_INFLIGHT_ENTRIES_DEFAULT + ")."})
    Integer pgInflight;
    @Option(names = "--metered", description = {"Count the I/O on this process's metrics (basalt_io_*, as the iSCSI target and the API's",
            "/metrics do), to measure what counting costs."})
    boolean metered;
    @Option(names = "--extents", description = {"Put the data of large aligned writes (whole grains, >= 64K) in extent files beside RocksDB",
            "(local engine; default: the engine's, basalt.engine.extents)."})
    boolean extents;
    @Option(names = "--vs-qcow2", description = {"After the engine's workloads, run seqwrite and randwrite on a qcow2 file in --data's directory",
            "(the same disk) with 'qemu-img bench' (-t none; randwrite also writeback) and print engine/qcow2 ratios (local engine)."})
    boolean vsQcow2;
    @Option(names = "--only", split = ",", description = "Workloads: randread,randread-snap,randwrite,seqwrite,seqread,snapshot,diff (default: all).")
    List<String> only;

    /** A run fails when no I/O completes for this long; a cluster's I/O timeout is 30 s by default. */
    private static final java.time.Duration STALL = java.time.Duration.ofSeconds(120);

    private PrintWriter out;
    /** The cluster's client with {@code --cluster}, else null: its write entry counts show how well group commit batches. */
    private ClusterClient clusterClient;
    /** The engine's median per workload, for {@code --vs-qcow2}. */
    private final java.util.Map<Workload, Result> medians = new java.util.EnumMap<>(Workload.class);

    @Override
    public Integer call() throws Exception {
        out = spec.commandLine().getOut();
        checkOptions();
        if (cluster != null) {
            try (Datastore ds = Datastore.cluster(cluster, c -> pgInflight == null ? c
                    : c.withTuning(c.tuning().withPgInflightEntriesMax(pgInflight)))) {
                if (ds.list().stream().anyMatch(v -> v.name().equals(image))) {
                    throw new IllegalArgumentException("--image: " + image + " exists on the cluster (expected: a new name; bench creates and removes it)");
                }
                clusterClient = ((Datastore.Cluster) ds).client();
                var config = clusterClient.config();
                out.printf(Locale.ROOT, "basalt bench: cluster %s (%d nodes, %d replicas, %d placement groups), %s vdisk %s, %s grains, %d in flight, "
                                + "%d entries in flight per PG, %d x %d s runs after %d s warm-up, %d cores here%n", config.name(), config.nodes().size(),
                        config.replicaCount(), config.pgCount(), Sizes.format(size), image, Sizes.format(grainSize), inflight,
                        config.tuning().pgInflightEntriesMax(), runs, seconds, warmup, Runtime.getRuntime().availableProcessors());
                // Created before the try: a create that fails leaves nothing to remove (and must not remove a namesake).
                ds.create(image, size, 512, Math.toIntExact(grainSize));
                try {
                    bench(ds, null);
                } finally {
                    // The bench's vdisk goes whatever happened: it is scratch data on the operator's cluster.
                    ds.purgeSnapshots(image);
                    ds.remove(image);
                    out.println("removed vdisk " + image);
                }
            }
            return 0;
        }
        deleteTree(data);
        VdiskStore.Options defaults = VdiskStore.Options.defaults();
        VdiskStore.Options options = new VdiskStore.Options(cache, ioThreads == null ? defaults.ioThreads() : ioThreads);
        options = extents ? options.withExtents(true) : options;
        out.printf(Locale.ROOT, "basalt bench: %s vdisk, %s grains, %d in flight, %d io threads, %s cache, extent files %s, %d x %d s runs after %d s warm-up, %d cores%n",
                Sizes.format(size), Sizes.format(grainSize), inflight, options.ioThreads(), Sizes.format(cache), options.extents() ? "on" : "off", runs, seconds, warmup,
                Runtime.getRuntime().availableProcessors());
        try (VdiskStore store = VdiskStore.open(data, options)) {
            store.create(image, size, 512, Math.toIntExact(grainSize));
            bench(new Datastore.Local(store), store);
        } finally {
            deleteTree(data);
        }
        if (vsQcow2) {
            compareWithQcow2();
        }
        return 0;
    }

    /**
     * {@code --vs-qcow2}: the engine's write workloads again on a qcow2 file in {@link #data} (same
     * disk, the engine's store removed first), at the same depth, and the ratio engine / qcow2.
     */
    private void compareWithQcow2() throws java.io.IOException, InterruptedException {
        java.nio.file.Files.createDirectories(data);
        QemuImgBench qcow2 = new QemuImgBench(out, data, size, inflight, seconds, runs);
        out.printf(Locale.ROOT, "qcow2 reference: qemu-img bench on %s, %d in flight; it writes the fixed pattern %s (the engine wrote random data);"
                + " its randwrite is a stride of %d 4K slots through the file (qemu-img bench has no random mode)%n",
                data.toAbsolutePath(), inflight, QemuImgBench.PATTERN, QemuImgBench.strideSlots(size / 4096));
        List<String> ratios = new ArrayList<>();
        try {
            qcow2.prepare();
            if (medians.containsKey(Workload.SEQWRITE)) {
                double q = qcow2.measure(new QemuImgBench.Spec("qcow2 seqwrite none", 1 << 20, true, "none"));
                ratios.add(ratio("seqwrite (1M) vs qcow2 -t none", medians.get(Workload.SEQWRITE).mibPerSec(), q));
            }
            if (medians.containsKey(Workload.RANDWRITE)) {
                for (String cache : List.of("none", "writeback")) {
                    double q = qcow2.measure(new QemuImgBench.Spec("qcow2 randwrite " + cache, 4096, false, cache));
                    ratios.add(ratio("randwrite (4K) vs qcow2 -t " + cache, medians.get(Workload.RANDWRITE).mibPerSec(), q));
                }
            }
        } finally {
            qcow2.delete();
            deleteTree(data);
        }
        if (ratios.isEmpty()) {
            out.println("vs qcow2: no write workload ran (expected: --only with seqwrite and/or randwrite)");
        }
        ratios.forEach(out::println);
        out.flush();
    }

    private static String ratio(String what, double engineMib, double qcow2Mib) {
        return String.format(Locale.ROOT, "vs qcow2: %-34s engine %8.1f MiB/s, qcow2 %8.1f MiB/s, ratio %.2f", what, engineMib, qcow2Mib,
                engineMib / qcow2Mib);
    }

    /** Engine-only options are refused with {@code --cluster}, naming them. */
    private void checkOptions() {
        var parsed = spec.commandLine().getParseResult();
        if (inflight < 1 || runs < 1 || seconds < 1 || warmup < 0 || size < (1 << 20)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "--inflight %d, --runs %d, --seconds %d, --warmup %d, --size %d (expected: >= 1, >= 1, >= 1, >= 0, >= 1M)",
                    inflight, runs, seconds, warmup, size));
        }
        if (cluster == null) {
            if (vsQcow2) {
                QemuImgBench.find(); // fails now, naming what is missing, not after the engine's runs
            }
            if (pgInflight != null) {
                throw new IllegalArgumentException("--pg-inflight: only with --cluster (expected: --cluster FILE|DIR, or no --pg-inflight)");
            }
            return;
        }
        for (String engineOnly : List.of("--data", "--cache", "--io-threads", "--rocksdb-stats", "--vs-qcow2", "--extents")) {
            if (parsed.hasMatchedOption(engineOnly)) {
                throw new IllegalArgumentException(engineOnly + ": not with --cluster (expected: one of them; " + engineOnly + " is for the local engine)");
            }
        }
    }

    /** Prepares the new, empty vdisk {@link #image} on {@code ds} and runs the wanted workloads; {@code store} (local engine) or null. */
    private void bench(Datastore ds, VdiskStore store) throws InterruptedException {
        try (BlockDevice disk = metered ? new io.basalt.node.metrics.MeteredDevice(ds.open(image),
                io.basalt.node.metrics.NodeMetrics.process().io(image, "bench")) : ds.open(image)) {
            if (metered) {
                out.println("(metered: reads and writes counted on the metrics, as the iSCSI target counts them)");
            }
            long t0 = System.nanoTime();
            run(disk, Workload.SEQWRITE, Long.MAX_VALUE, size / (1 << 20));
            out.printf(Locale.ROOT, "prepare: wrote %s sequentially in %.1f s%n", Sizes.format(size), (System.nanoTime() - t0) / 1e9);
            if (snapshotFirst) {
                ds.createSnapshot(image, "first");
                out.println("(snapshot taken first: every grain lies below the head epoch)");
            }
            if (wanted("randread")) {
                measure(disk, Workload.RANDREAD);
            }
            if (wanted("randread-snap")) {
                // Every grain now lives below the head epoch: reads take the seek path.
                ds.createSnapshot(image, "before-read");
                out.println("(snapshot taken: reads below go through the floor seek)");
                measure(disk, Workload.RANDREAD);
                ds.removeSnapshot(image, "before-read");
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
            if (rocksdbStats && store != null) {
                out.println(store.blockStoreStats());
            }
            if (wanted("snapshot")) {
                snapshots(ds, disk);
            }
            if (wanted("diff")) {
                diffs(ds, disk);
            }
        }
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

    private void measure(BlockDevice disk, Workload w) throws InterruptedException {
        run(disk, w, TimeUnit.SECONDS.toNanos(warmup), Long.MAX_VALUE);
        io.basalt.cluster.client.EntryStats entriesBefore = clusterClient == null ? null : clusterClient.writeEntryStats();
        List<Result> results = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            Result r = run(disk, w, TimeUnit.SECONDS.toNanos(seconds), Long.MAX_VALUE);
            results.add(r);
            out.printf(Locale.ROOT, "%-9s run %d: %9.0f IOPS %8.1f MiB/s  lat p50 %6.0f us  p99 %6.0f us%n", w.name().toLowerCase(Locale.ROOT),
                    i + 1, r.iops(), r.mibPerSec(), r.latency().getValueAtPercentile(50) / 1e3, r.latency().getValueAtPercentile(99) / 1e3);
        }
        results.sort((a, b) -> Double.compare(a.iops(), b.iops()));
        Result median = results.get(results.size() / 2);
        medians.put(w, median);
        out.printf(Locale.ROOT, "%-9s MEDIAN: %9.0f IOPS %8.1f MiB/s%n", w.name().toLowerCase(Locale.ROOT), median.iops(), median.mibPerSec());
        if (entriesBefore != null && w.write) {
            // Ops per Raft entry over the measured runs: how much group commit batched.
            out.printf(Locale.ROOT, "%-9s client: %s%n", w.name().toLowerCase(Locale.ROOT), clusterClient.writeEntryStats().minus(entriesBefore));
        }
        out.printf(Locale.ROOT, "%-9s memory: %s%n", w.name().toLowerCase(Locale.ROOT), processMemory());
        out.flush();
    }

    /**
     * This process's resident memory now and at its peak (Linux: VmRSS and VmHWM of
     * /proc/self/status; heap, RocksDB's block cache and memtables, and off-heap buffers), so a
     * run shows whether memory stays bounded.
     */
    private static String processMemory() {
        try {
            java.util.Map<String, String> status = new java.util.HashMap<>();
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                int colon = line.indexOf(':');
                if (colon > 0) {
                    status.put(line.substring(0, colon), line.substring(colon + 1).trim());
                }
            }
            return "rss " + status.getOrDefault("VmRSS", "?") + ", peak " + status.getOrDefault("VmHWM", "?");
        } catch (java.io.IOException e) {
            return "unknown (" + e.getMessage() + ")";
        }
    }

    /** Runs {@code w} for {@code durationNs} or {@code opsMax} operations, {@link #inflight} at a time. */
    private Result run(BlockDevice disk, Workload w, long durationNs, long opsMax) throws InterruptedException {
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
            // One I/O slot. It loops while its I/Os complete on this thread (the engine answers
            // small I/O inline when it can) and only continues from a callback when one is still
            // running: continuing from every completion recursed until the stack overflowed, the
            // error vanished inside the future, and the run waited forever (seen on the engine).
            next[0] = () -> {
                while (true) {
                    if (stop.get() || System.nanoTime() - deadline >= 0 && deadline != Long.MAX_VALUE || issued.incrementAndGet() > opsMax || failure.get() != null) {
                        finished.countDown();
                        return;
                    }
                    long slot = w == Workload.SEQWRITE || w == Workload.SEQREAD ? seqCursor.getAndIncrement() % slots : rnd.nextLong(slots);
                    long lba = slot * blocksPerIo;
                    long t = System.nanoTime();
                    CompletableFuture<?> f;
                    try {
                        f = w.write ? disk.write(lba, ByteBuffer.wrap(payload), false) : disk.read(lba, (int) blocksPerIo);
                    } catch (RuntimeException e) {
                        failure.compareAndSet(null, e);
                        finished.countDown();
                        return;
                    }
                    if (!f.isDone()) {
                        f.whenComplete((ok, err) -> {
                            completed(err, t, failure, latency, done);
                            next[0].run();
                        });
                        return;
                    }
                    completed(f.isCompletedExceptionally() ? f.exceptionNow() : null, t, failure, latency, done);
                }
            };
            next[0].run();
        }
        awaitSlots(finished, done, disk);
        stop.set(true);
        if (failure.get() != null) {
            throw new IllegalStateException("bench I/O failed: " + failure.get().getMessage(), failure.get());
        }
        double secs = (System.nanoTime() - start) / 1e9;
        double iops = done.get() / secs;
        return new Result(iops, iops * w.ioBytes / (1 << 20), latency);
    }

    private static void completed(Throwable err, long startNanos, AtomicReference<Throwable> failure, ConcurrentHistogram latency, AtomicLong done) {
        if (err != null) {
            failure.compareAndSet(null, err);
        }
        latency.recordValue(Math.max(1, System.nanoTime() - startNanos));
        done.incrementAndGet();
    }

    /** Waits for every slot to finish; fails when no I/O has completed for {@link #STALL} (a hung device, not a slow one). */
    private void awaitSlots(CountDownLatch finished, AtomicLong done, BlockDevice disk) throws InterruptedException {
        long seen = -1;
        long progressNanos = System.nanoTime();
        while (!finished.await(1, TimeUnit.SECONDS)) {
            long now = System.nanoTime();
            if (done.get() != seen) {
                seen = done.get();
                progressNanos = now;
            } else if (now - progressNanos > STALL.toNanos()) {
                throw new IllegalStateException("bench: no I/O completed for " + STALL.toSeconds() + " s (" + finished.getCount() + " of "
                        + inflight + " I/O slots waiting) on vdisk " + disk.name());
            }
        }
    }

    /** Snapshot create latency on a vdisk with {@code size} written, with writes between snapshots. */
    private void snapshots(Datastore ds, BlockDevice disk) throws InterruptedException {
        List<Double> ms = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            run(disk, Workload.RANDWRITE, Long.MAX_VALUE, 1000);
            long t = System.nanoTime();
            ds.createSnapshot(image, "lat" + i);
            ms.add((System.nanoTime() - t) / 1e6);
        }
        ms.sort(Double::compare);
        out.printf(Locale.ROOT, "snapshot create (%s written, 20 snapshots): median %.2f ms, max %.2f ms%n", Sizes.format(size),
                ms.get(ms.size() / 2), ms.get(ms.size() - 1));
        long storedBefore = ds.usage(image).storedBytes();
        long t = System.nanoTime();
        ds.purgeSnapshots(image);
        out.printf(Locale.ROOT, "snapshot purge (20 snapshots, newest first): %.2f s (their space is collected in the background)%n",
                (System.nanoTime() - t) / 1e9);
        if (ds.pendingSnapshotGc(image).isPresent()) {
            backgroundGc(ds, disk, storedBefore, t);
        }
    }

    /**
     * The embedded engine's collection after the purge: 1,000 random 4K writes while it runs (how
     * long they take beside it), then how long it takes in all and the space it gives back.
     */
    private void backgroundGc(Datastore ds, BlockDevice disk, long storedBeforeBytes, long purgeStartNanos) throws InterruptedException {
        Result writes = run(disk, Workload.RANDWRITE, Long.MAX_VALUE, 1000);
        int pendingAfterWrites = ds.pendingSnapshotGc(image).orElseThrow();
        ds.awaitSnapshotGc(image, java.time.Duration.ofHours(1));
        out.printf(Locale.ROOT, "snapshot gc in the background: done %.2f s after the purge began; stored %s -> %s;"
                        + " 1,000 random 4K writes during it: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d removed snapshots still queued after them)%n",
                (System.nanoTime() - purgeStartNanos) / 1e9, Sizes.format(storedBeforeBytes), Sizes.format(ds.usage(image).storedBytes()),
                writes.latency().getValueAtPercentile(50) / 1e6, writes.latency().getValueAtPercentile(99) / 1e6,
                writes.latency().getMaxValue() / 1e6, pendingAfterWrites);
    }

    /** Diff cost against the fraction of grains changed between two snapshots. */
    private void diffs(Datastore ds, BlockDevice disk) throws InterruptedException {
        long grains = size / 4096;
        for (double fraction : new double[] {0.001, 0.01, 0.1}) {
            ds.createSnapshot(image, "a");
            long writes = Math.max(1, (long) (grains * fraction));
            SplittableRandom rnd = new SplittableRandom(3);
            byte[] payload = new byte[4096];
            for (long i = 0; i < writes; i++) {
                rnd.nextBytes(payload);
                disk.write(rnd.nextLong(grains) * 8, ByteBuffer.wrap(payload), false).join();
            }
            ds.createSnapshot(image, "b");
            List<Double> ms = new ArrayList<>();
            long changed = 0;
            for (int i = 0; i < Math.max(3, runs); i++) {
                long t = System.nanoTime();
                List<Extent> extents = ds.diff(image, "a", "b");
                ms.add((System.nanoTime() - t) / 1e6);
                changed = extents.stream().mapToLong(Extent::lengthBytes).sum();
            }
            ms.sort(Double::compare);
            out.printf(Locale.ROOT, "diff a..b with %5.1f%% of grains written (%d writes, %s changed): median %.1f ms%n",
                    fraction * 100, writes, Sizes.format(changed), ms.get(ms.size() / 2));
            ds.purgeSnapshots(image);
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
