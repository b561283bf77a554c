package io.basalt.node.metrics;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import io.micrometer.core.instrument.Gauge;

/**
 * Space of the embedded store, read when scraped: each vdisk's provisioned size and the store
 * filesystem's free and total bytes. A vdisk's used and stored bytes are not here: they take a
 * scan of its grains (see GET /api/vdisks/NAME), too slow for every scrape.
 */
public final class StoreMeters implements Runnable {
    private final NodeMetrics metrics;
    private final Supplier<Map<String, Long>> vdiskSizes;
    private final Path dir;
    private final Map<String, AtomicLong> provisioned = new ConcurrentHashMap<>();
    private final Map<String, Gauge> gauges = new ConcurrentHashMap<>();
    private final AtomicLong freeBytes = new AtomicLong();
    private final AtomicLong totalBytes = new AtomicLong();

    private StoreMeters(NodeMetrics metrics, Supplier<Map<String, Long>> vdiskSizes, Path dir) {
        this.metrics = metrics;
        this.vdiskSizes = vdiskSizes;
        this.dir = dir;
    }

    /**
     * Registers the space gauges of a store kept in {@code dir} whose vdisks' sizes by name
     * {@code vdiskSizes} lists; they refresh at each scrape until {@link #close}d.
     */
    public static StoreMeters register(NodeMetrics metrics, Supplier<Map<String, Long>> vdiskSizes, Path dir) {
        StoreMeters m = new StoreMeters(metrics, vdiskSizes, dir);
        Gauge.builder("basalt.store.free", m.freeBytes, AtomicLong::get).baseUnit("bytes")
                .description("Free bytes on the store's filesystem").register(metrics.registry());
        Gauge.builder("basalt.store.total", m.totalBytes, AtomicLong::get).baseUnit("bytes")
                .description("Size of the store's filesystem").register(metrics.registry());
        metrics.onScrape(m);
        return m;
    }

    @Override
    public void run() {
        try {
            FileStore fs = Files.getFileStore(dir);
            freeBytes.set(fs.getUsableSpace());
            totalBytes.set(fs.getTotalSpace());
        } catch (IOException e) {
            throw new UncheckedIOException("space of " + dir + ": " + e.getMessage(), e);
        }
        Map<String, Long> now = vdiskSizes.get();
        now.forEach((name, size) -> provisioned.computeIfAbsent(name, n -> {
            AtomicLong value = new AtomicLong();
            gauges.put(n, Gauge.builder("basalt.vdisk.provisioned", value, AtomicLong::get).baseUnit("bytes").tag("vdisk", n)
                    .description("A vdisk's size").register(metrics.registry()));
            return value;
        }).set(size));
        for (String gone : provisioned.keySet()) {
            if (!now.containsKey(gone)) {
                provisioned.remove(gone);
                metrics.registry().remove(gauges.remove(gone));
            }
        }
    }

    public void close() {
        metrics.removeOnScrape(this);
    }
}
