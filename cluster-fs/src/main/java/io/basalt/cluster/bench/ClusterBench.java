package io.basalt.cluster.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.ClusterNode;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.client.ClusterVdisk;
import io.basalt.vdisk.store.VdiskStore;

/**
 * Random 4 KiB write and read IOPS of a {@link ClusterVdisk} on an in-process cluster (every
 * node and the client in this JVM, over gRPC on loopback). Not a test: it measures, it asserts
 * nothing. Usage (see docs/cluster-fs.md for the exact command):
 *
 * <pre>ClusterBench --nodes 3 --replicas 3 --pgs 6 --inflight 32 --warmup-s 20 --measure-s 20 [--colocated 1] --dir /tmp/x</pre>
 *
 * With {@code --engine} it runs the same workload on the embedded engine (no Raft) instead.
 */
public final class ClusterBench {
    private static final int BLOCK = 4096;
    private static final long REGION_BYTES = 256L << 20;

    private ClusterBench() {}

    public static void main(String[] args) throws Exception {
        int nodes = intArg(args, "--nodes", 3);
        int replicas = intArg(args, "--replicas", 3);
        int pgs = intArg(args, "--pgs", 6);
        int inflight = intArg(args, "--inflight", 32);
        int pgInflight = intArg(args, "--pg-inflight", ClusterConfig.Tuning.PG_INFLIGHT_ENTRIES_DEFAULT);
        int warmupS = intArg(args, "--warmup-s", 20);
        int measureS = intArg(args, "--measure-s", 20);
        // The client runs in node 1's process (a gateway on a storage node): 1 = yes, 0 = a separate client.
        boolean colocated = intArg(args, "--colocated", nodes == 1 ? 1 : 0) == 1;
        Path dir = Path.of(strArg(args, "--dir", Files.createTempDirectory("cluster-bench").toString()));
        if (Arrays.asList(args).contains("--engine")) {
            engine(dir, inflight, warmupS, measureS);
            return;
        }

        List<ClusterConfig.NodeAddress> addrs = new ArrayList<>();
        for (int id = 1; id <= nodes; id++) {
            addrs.add(new ClusterConfig.NodeAddress(id, "127.0.0.1", io.basalt.cluster.LoopbackPorts.free()));
        }
        ClusterConfig config = new ClusterConfig("bench", addrs, pgs, replicas, Math.min(3, nodes),
                ClusterConfig.STRIPE_GRAINS_DEFAULT, ClusterConfig.Tuning.defaults().withPgInflightEntriesMax(pgInflight));
        List<ClusterNode> running = new ArrayList<>();
        try {
            for (int id = 1; id <= nodes; id++) {
                running.add(ClusterNode.start(config, new ClusterNode.Options(id, dir.resolve("node" + id), new VdiskStore.Options(64L << 20, 4))));
            }
            // A co-located client sends to node 1's server in-process where it can (LocalSubmitter).
            try (ClusterClient client = colocated ? ClusterClient.open(config, running.get(0)) : ClusterClient.open(config)) {
                client.createVdisk("bench", 1L << 30, BLOCK, BLOCK);
                try (ClusterVdisk disk = client.open("bench")) {
                    System.out.printf("cluster: %d nodes, %d replicas, %d PGs, %d in flight, %d entries in flight per PG, client %s, 4 KiB random I/O over %d MiB%n",
                            nodes, replicas, pgs, inflight, pgInflight, colocated ? "in node 1's process" : "separate", REGION_BYTES >> 20);
                    run(disk, true, inflight, Duration.ofSeconds(warmupS), "warm-up write");
                    ClusterClient.EntryStats before = client.writeEntryStats();
                    Result w = run(disk, true, inflight, Duration.ofSeconds(measureS), "randwrite");
                    System.out.println("  " + client.writeEntryStats().minus(before));
                    run(disk, false, inflight, Duration.ofSeconds(Math.max(5, warmupS / 4)), "warm-up read");
                    Result r = run(disk, false, inflight, Duration.ofSeconds(measureS), "randread");
                    System.out.printf("RESULT replicas=%d randwrite_iops=%.0f randread_iops=%.0f write_p50_ms=%.2f write_p99_ms=%.2f read_p50_ms=%.2f read_p99_ms=%.2f%n",
                            replicas, w.iops(), r.iops(), w.p50Ms(), w.p99Ms(), r.p50Ms(), r.p99Ms());
                }
            }
        } finally {
            for (ClusterNode n : running) {
                n.close();
            }
        }
    }

    record Result(double iops, double p50Ms, double p99Ms) {}

    /** The same workload on the embedded engine (one VdiskStore, no Raft): the baseline. */
    private static void engine(Path dir, int inflight, int warmupS, int measureS) throws InterruptedException {
        try (VdiskStore store = VdiskStore.open(dir.resolve("engine"), new VdiskStore.Options(64L << 20, 4))) {
            store.create("bench", 1L << 30, BLOCK, BLOCK);
            try (io.basalt.vdisk.store.Vdisk disk = store.open("bench")) {
                System.out.printf("embedded engine: %d in flight, 4 KiB random I/O over %d MiB%n", inflight, REGION_BYTES >> 20);
                run(disk, true, inflight, Duration.ofSeconds(warmupS), "warm-up write");
                Result w = run(disk, true, inflight, Duration.ofSeconds(measureS), "randwrite");
                run(disk, false, inflight, Duration.ofSeconds(Math.max(5, warmupS / 4)), "warm-up read");
                Result r = run(disk, false, inflight, Duration.ofSeconds(measureS), "randread");
                System.out.printf("RESULT engine randwrite_iops=%.0f randread_iops=%.0f write_p50_ms=%.2f write_p99_ms=%.2f read_p50_ms=%.2f read_p99_ms=%.2f%n",
                        w.iops(), r.iops(), w.p50Ms(), w.p99Ms(), r.p50Ms(), r.p99Ms());
            }
        }
    }

    private static Result run(io.basalt.vdisk.BlockDevice disk, boolean write, int inflight, Duration duration, String label) throws InterruptedException {
        Semaphore slots = new Semaphore(inflight);
        SplittableRandom rnd = new SplittableRandom(label.hashCode());
        long blocks = REGION_BYTES / BLOCK;
        byte[] payload = new byte[BLOCK];
        rnd.nextBytes(payload);
        AtomicLong done = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        long[] latencies = new long[1 << 22];
        AtomicLong latencyCount = new AtomicLong();
        long start = System.nanoTime();
        long end = start + duration.toNanos();
        while (System.nanoTime() < end) {
            if (!slots.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                continue;
            }
            long lba = rnd.nextLong(blocks);
            long t0 = System.nanoTime();
            CompletableFuture<?> f = write ? disk.write(lba, ByteBuffer.wrap(payload), false) : disk.read(lba, 1);
            f.whenComplete((x, ex) -> {
                if (ex != null) {
                    failed.incrementAndGet();
                } else {
                    done.incrementAndGet();
                    long i = latencyCount.getAndIncrement();
                    if (i < latencies.length) {
                        latencies[(int) i] = System.nanoTime() - t0;
                    }
                }
                slots.release();
            });
        }
        slots.acquire(inflight);
        double seconds = (System.nanoTime() - start) / 1e9;
        int n = (int) Math.min(latencies.length, latencyCount.get());
        long[] sorted = Arrays.copyOf(latencies, n);
        Arrays.sort(sorted);
        double p50 = n == 0 ? 0 : sorted[n / 2] / 1e6;
        double p99 = n == 0 ? 0 : sorted[Math.min(n - 1, (int) (n * 0.99))] / 1e6;
        Result r = new Result(done.get() / seconds, p50, p99);
        System.out.printf("%-14s %8.0f IOPS  p50 %6.2f ms  p99 %6.2f ms  (%d ok, %d failed, %.1f s)%n",
                label, r.iops(), p50, p99, done.get(), failed.get(), seconds);
        return r;
    }


    private static int intArg(String[] args, String name, int dflt) {
        return Integer.parseInt(strArg(args, name, Integer.toString(dflt)));
    }

    private static String strArg(String[] args, String name, String dflt) {
        for (int i = 0; i + 1 < args.length; i++) {
            if (args[i].equals(name)) {
                return args[i + 1];
            }
        }
        return dflt;
    }
}
