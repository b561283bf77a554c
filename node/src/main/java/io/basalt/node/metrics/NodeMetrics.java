package io.basalt.node.metrics;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/**
 * This process's metrics, in Prometheus text format at {@code /metrics} (Micrometer's Prometheus
 * registry). I/O meters are made once per (vdisk, target) and held by the devices that count on
 * them ({@link MeteredDevice}), so the I/O path does no lookup; gauges of space and Raft state are
 * read when scraped ({@link #onScrape}), never on the I/O path.
 */
public final class NodeMetrics {
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    /** Latency histogram range: 10 µs (a cached read) to 30 s (the cluster's I/O timeout is 30 s). */
    static final Duration LATENCY_MIN = Duration.ofNanos(10_000);
    static final Duration LATENCY_MAX = Duration.ofSeconds(30);
    private static final NodeMetrics PROCESS = new NodeMetrics();

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Map<List<String>, IoMeters> io = new ConcurrentHashMap<>();
    private final List<Runnable> beforeScrape = new CopyOnWriteArrayList<>();

    /** The meters of one vdisk as served through one target ("-" when not through iSCSI). */
    public record IoMeters(Timer readLatency, Timer writeLatency, Counter readBytes, Counter writeBytes) {}

    /** One registry per process: the targets, the gateway and the API of a process share it. */
    public static NodeMetrics process() {
        return PROCESS;
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** The I/O meters of {@code vdisk} through {@code target}, made the first time they are asked for. */
    public IoMeters io(String vdisk, String target) {
        return io.computeIfAbsent(List.of(vdisk, target), k -> new IoMeters(latency(vdisk, target, "read"), latency(vdisk, target, "write"),
                bytes(vdisk, target, "read"), bytes(vdisk, target, "write")));
    }

    private Timer latency(String vdisk, String target, String op) {
        return Timer.builder("basalt.io.latency").description("Latency of reads and writes, from the call to the completion")
                .tags("vdisk", vdisk, "target", target, "op", op)
                .publishPercentileHistogram().minimumExpectedValue(LATENCY_MIN).maximumExpectedValue(LATENCY_MAX).register(registry);
    }

    private Counter bytes(String vdisk, String target, String op) {
        return Counter.builder("basalt.io.bytes").description("Bytes read and written").baseUnit("bytes")
                .tags("vdisk", vdisk, "target", target, "op", op).register(registry);
    }

    /** {@code refresh} runs before each scrape: it updates gauges that are cheap to read then and costly to keep current. */
    public void onScrape(Runnable refresh) {
        beforeScrape.add(refresh);
    }

    public void removeOnScrape(Runnable refresh) {
        beforeScrape.remove(refresh);
    }

    /** The metrics in Prometheus text format (0.0.4). */
    public String scrape() {
        for (Runnable r : beforeScrape) {
            r.run();
        }
        return registry.scrape();
    }
}
