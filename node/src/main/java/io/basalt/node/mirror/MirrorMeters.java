package io.basalt.node.mirror;

import java.util.List;
import java.util.Optional;

import io.basalt.node.metrics.NodeMetrics;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;

/**
 * A site's mirroring in {@code /metrics}, read from {@code basalt mirror status} at each scrape:
 * per mirrored vdisk (tags {@code site}, {@code vdisk}, {@code role}, {@code peer}) the lag in
 * seconds (the age of the newest snapshot the replica holds complete: the recovery point) and
 * in bytes, and the rounds shipped. A vdisk no longer mirrored drops out at the next scrape.
 */
public final class MirrorMeters implements AutoCloseable {
    private final NodeMetrics metrics;
    private final MirrorService service;
    private final MultiGauge lagSeconds;
    private final MultiGauge lagBytes;
    private final MultiGauge rounds;
    private final Runnable refresh = this::refresh;

    private MirrorMeters(NodeMetrics metrics, MirrorService service) {
        this.metrics = metrics;
        this.service = service;
        this.lagSeconds = MultiGauge.builder("basalt.mirror.lag").baseUnit("seconds")
                .description("Age of the newest snapshot the replica holds complete (the recovery point)").register(metrics.registry());
        this.lagBytes = MultiGauge.builder("basalt.mirror.lag.bytes")
                .description("Bytes changed on the primary since the replica's last complete snapshot").register(metrics.registry());
        this.rounds = MultiGauge.builder("basalt.mirror.rounds")
                .description("Rounds shipped by this process since it started").register(metrics.registry());
    }

    /** Shows {@code service}'s mirrors in {@code metrics} until closed. */
    public static MirrorMeters register(NodeMetrics metrics, MirrorService service) {
        MirrorMeters m = new MirrorMeters(metrics, service);
        metrics.onScrape(m.refresh);
        return m;
    }

    private void refresh() {
        List<MirrorStatus.Row> rows = service.status(Optional.empty());
        // A lag not known (no round yet, or a replica's bytes, which only the primary can count) is left out rather than shown as -1.
        lagSeconds.register(rows.stream().filter(r -> r.lagSeconds() >= 0).map(r -> MultiGauge.Row.of(tags(r), r.lagSeconds())).toList(), true);
        lagBytes.register(rows.stream().filter(r -> r.lagBytes() >= 0).map(r -> MultiGauge.Row.of(tags(r), r.lagBytes())).toList(), true);
        rounds.register(rows.stream().map(r -> MultiGauge.Row.of(tags(r), r.rounds())).toList(), true);
    }

    private Tags tags(MirrorStatus.Row r) {
        return Tags.of("site", service.siteName(), "vdisk", r.vdisk(), "role", r.role(), "peer", r.peer());
    }

    @Override
    public void close() {
        metrics.removeOnScrape(refresh);
        lagSeconds.register(List.of(), true);
        lagBytes.register(List.of(), true);
        rounds.register(List.of(), true);
    }
}
