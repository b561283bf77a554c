package io.basalt.node.metrics;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.ratis.metrics.MetricRegistries;
import org.apache.ratis.metrics.RatisMetricRegistry;
import org.apache.ratis.metrics.impl.RatisMetricRegistryImpl;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.thirdparty.com.codahale.metrics.Counter;
import org.apache.ratis.thirdparty.com.codahale.metrics.Timer;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.raft.RaftSetup;
import io.basalt.cluster.server.ClusterNode;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * A storage node's Raft groups and disk, read when scraped: per group this node's term, applied
 * index and whether it leads (from {@link ClusterNode#status()}), and from Ratis's own metrics the
 * commits the group's leader served here (count and latency quantiles of client write requests,
 * receipt to reply) and its elections; the node's free, reserved and total disk bytes.
 */
public final class RaftMeters implements Runnable {
    /** Ratis's names (RaftServerMetricsImpl, LeaderElectionMetrics). */
    static final String RATIS_WRITE_TIMER = "clientWriteRequest";
    static final String RATIS_ELECTIONS = "electionCount";
    static final double[] QUANTILES = {0.5, 0.99};

    private record Group(AtomicLong term, AtomicLong applied, AtomicLong leader, AtomicLong logBytes) {}

    private final MeterRegistry registry;
    private final ClusterNode node;
    private final Map<RaftGroupId, String> names = new HashMap<>();
    private final Map<String, Group> groups = new ConcurrentHashMap<>();
    private final Map<String, Boolean> bridged = new ConcurrentHashMap<>();

    private RaftMeters(MeterRegistry registry, ClusterNode node) {
        this.registry = registry;
        this.node = node;
        ClusterConfig c = node.config();
        names.put(RaftSetup.metaGroupId(c), "meta");
        for (int pg = 0; pg < c.pgCount(); pg++) {
            names.put(RaftSetup.pgGroupId(c, pg), "pg-" + pg);
        }
    }

    public static RaftMeters register(NodeMetrics metrics, ClusterNode node) {
        RaftMeters m = new RaftMeters(metrics.registry(), node);
        Gauge.builder("basalt.node.disk.free", node.diskReserve(), r -> r.freeBytes()).baseUnit("bytes").tag("node", Integer.toString(node.id()))
                .description("Free bytes on the node's data filesystem").register(metrics.registry());
        Gauge.builder("basalt.node.disk.reserve", node.diskReserve(), r -> r.reserveBytes()).baseUnit("bytes").tag("node", Integer.toString(node.id()))
                .description("Free space below which the node refuses writes").register(metrics.registry());
        Gauge.builder("basalt.node.disk.total", node.diskReserve(), r -> r.totalBytes()).baseUnit("bytes").tag("node", Integer.toString(node.id()))
                .description("Size of the node's data filesystem").register(metrics.registry());
        LockMeters.register(metrics, () -> m.metaLockEvents());
        metrics.onScrape(m);
        return m;
    }

    private io.basalt.lock.LockEvents metaLockEvents() {
        try {
            return io.basalt.cluster.raft.StateMachines.metaLockEvents(
                    node.server().getDivision(RaftSetup.metaGroupId(node.config())).getStateMachine());
        } catch (IOException e) {
            return null;    // the meta group is not (yet) on this node
        }
    }

    @Override
    public void run() {
        try {
            for (ClusterNode.GroupStatus s : node.status()) {
                Group g = groups.computeIfAbsent(s.group(), this::group);
                g.term().set(s.term());
                g.applied().set(s.appliedIndex());
                g.leader().set(s.role().equals("LEADER") ? 1 : 0);
                g.logBytes().set(logBytes(s.group()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("raft status of node " + node.id() + ": " + e.getMessage(), e);
        }
        bridgeRatis();
    }

    private Group group(String name) {
        Group g = new Group(new AtomicLong(), new AtomicLong(), new AtomicLong(), new AtomicLong());
        Gauge.builder("basalt.raft.log", g.logBytes(), AtomicLong::get).baseUnit("bytes").tag("group", name)
                .description("Bytes of the group's Raft log segments on this node (purged after each Raft snapshot)").register(registry);
        Gauge.builder("basalt.raft.term", g.term(), AtomicLong::get).tag("group", name)
                .description("The group's current term as this node sees it: each election raises it").register(registry);
        Gauge.builder("basalt.raft.applied.index", g.applied(), AtomicLong::get).tag("group", name)
                .description("The last log index this node applied").register(registry);
        Gauge.builder("basalt.raft.leader", g.leader(), AtomicLong::get).tag("group", name)
                .description("1 while this node leads the group").register(registry);
        return g;
    }

    /** The size of group {@code name}'s log segments here (Ratis's {@code <raft dir>/<group uuid>/current/log_*}); 0 when it has none. */
    private long logBytes(String name) {
        java.nio.file.Path current = names.entrySet().stream().filter(e -> e.getValue().equals(name)).findFirst()
                .map(e -> node.diskReserve().directory().resolve(e.getKey().getUuid().toString()).resolve("current")).orElse(null);
        if (current == null || !java.nio.file.Files.isDirectory(current)) {
            return 0;
        }
        long total = 0;
        try (java.nio.file.DirectoryStream<java.nio.file.Path> segments = java.nio.file.Files.newDirectoryStream(current, "log_*")) {
            for (java.nio.file.Path p : segments) {
                total += java.nio.file.Files.size(p);
            }
        } catch (java.nio.file.NoSuchFileException e) {
            // a segment rolled or purged while listed: the next scrape counts again
        } catch (IOException e) {
            throw new UncheckedIOException("raft log of " + name + " on node " + node.id() + ": " + e.getMessage(), e);
        }
        return total;
    }

    /** Ratis's registries are per member ("n1@group-..."); each is bridged once, when it appears. */
    private void bridgeRatis() {
        for (RatisMetricRegistry r : MetricRegistries.global().getMetricRegistries()) {
            if (!(r instanceof RatisMetricRegistryImpl impl)) {
                continue;
            }
            String prefix = r.getMetricRegistryInfo().getPrefix();
            String group = groupOf(prefix);
            if (group == null || !prefix.startsWith(RaftSetup.peerId(node.id()) + "@")) {
                continue;
            }
            String component = r.getMetricRegistryInfo().getMetricsComponentName();
            String key = component + "/" + prefix;
            if (bridged.containsKey(key)) {
                continue;
            }
            // Ratis makes its meters when first used: one not there yet is looked for again at the next scrape.
            if (component.equals("server") && impl.get(RATIS_WRITE_TIMER) instanceof Timer writes) {
                FunctionCounter.builder("basalt.raft.commits", writes, Timer::getCount).tag("group", group)
                        .description("Client write requests this node committed as the group's leader").register(registry);
                for (double q : QUANTILES) {
                    Gauge.builder("basalt.raft.commit.latency", writes, t -> t.getSnapshot().getValue(q) / 1e9).baseUnit("seconds")
                            .tags("group", group, "quantile", Double.toString(q))
                            .description("Leader's latency of client writes, receipt to reply (Ratis, recent samples)").register(registry);
                }
                bridged.put(key, true);
            } else if (component.equals("leader_election") && impl.get(RATIS_ELECTIONS) instanceof Counter elections) {
                FunctionCounter.builder("basalt.raft.elections", elections, Counter::getCount).tag("group", group)
                        .description("Elections this node started for the group").register(registry);
                bridged.put(key, true);
            }
        }
    }

    /** "n1@group-0A1B..." to the group's name, or null for a group of another cluster (in-process tests). */
    private String groupOf(String memberId) {
        int at = memberId.indexOf("@group-");
        if (at < 0) {
            return null;
        }
        String hex = memberId.substring(at + "@group-".length());
        return names.entrySet().stream().filter(e -> e.getKey().toString().equals("group-" + hex)).map(Map.Entry::getValue)
                .findFirst().orElse(null);
    }
}
