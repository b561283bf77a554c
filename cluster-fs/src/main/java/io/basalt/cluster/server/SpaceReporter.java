package io.basalt.cluster.server;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Collectors;

import org.apache.ratis.server.RaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.meta.NodeSpace;
import io.basalt.cluster.raft.DiskReserve;
import io.basalt.cluster.raft.RaftSetup;
import io.basalt.cluster.raft.StateMachines;

/**
 * Tells the meta group how much disk space this node has (at start, every {@link #REPORT_EVERY},
 * and at once when it crosses its reserve), and tells this node's leaders which nodes are full,
 * so a group refuses data writes while any of its replicas is full (docs/decisions/disk-reserve.md).
 *
 * <p>Kept light, because it runs on every node all the time: a node that holds a meta replica
 * reads the reports from it every {@link #TICK} (no network, no Raft round; its applied state
 * lags the leader's by milliseconds); other nodes ask the meta group every
 * {@link #REMOTE_READ_EVERY}. Reports are meta entries, so they are rare. (A first version read
 * through the meta leader every second on every node and reported every 10 s: under
 * ChaosHistoryTest's faults that extra traffic slowed recovery measurably.) While the meta group
 * is unreachable it keeps the last list it read and tries again later.
 */
final class SpaceReporter implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SpaceReporter.class);
    static final Duration TICK = Duration.ofSeconds(1);
    static final Duration REPORT_EVERY = Duration.ofSeconds(30);
    static final Duration REMOTE_READ_EVERY = Duration.ofSeconds(5);

    private final ClusterConfig config;
    private final int nodeId;
    private final DiskReserve reserve;
    private final RaftServer server;
    private final Thread thread;
    private volatile boolean closed;
    /** The node's client, shared with its other tasks (closed by the node). */
    private final Supplier<ClusterClient> client;
    private NodeSpace last;
    private long lastRemoteReadMs;
    private String lastFailure;

    private SpaceReporter(ClusterConfig config, int nodeId, DiskReserve reserve, RaftServer server, Supplier<ClusterClient> client) {
        this.config = config;
        this.client = client;
        this.nodeId = nodeId;
        this.reserve = reserve;
        this.server = server;
        this.thread = Thread.ofPlatform().daemon().name("basalt-space-reporter-" + nodeId).unstarted(this::run);
    }

    static SpaceReporter start(ClusterConfig config, int nodeId, DiskReserve reserve, RaftServer server, Supplier<ClusterClient> client) {
        SpaceReporter r = new SpaceReporter(config, nodeId, reserve, server, client);
        r.thread.start();
        return r;
    }

    private void run() {
        while (!closed) {
            // Separate steps: a report the meta group cannot take must not keep this node from
            // learning, from its own meta replica, which nodes are full.
            attempt(this::reportIfDue);
            attempt(this::refreshFullNodes);
            try {
                Thread.sleep(TICK);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Runs one step, logging a failure once until it changes or the step works again. */
    private void attempt(Runnable step) {
        try {
            step.run();
            lastFailure = null;
        } catch (RuntimeException e) {
            String why = String.valueOf(e.getMessage());
            if (!closed && !why.equals(lastFailure)) {
                log.info("node {}: exchanging space reports with the meta group failed (trying again): {}", nodeId, why);
            }
            lastFailure = why;
        }
    }

    /** Reports at start, every {@link #REPORT_EVERY}, and at once when this node crossed its reserve. */
    private void reportIfDue() {
        long now = System.currentTimeMillis();
        NodeSpace space = new NodeSpace(nodeId, reserve.freeBytes(), reserve.reserveBytes(), reserve.totalBytes(), now);
        boolean crossed = last != null && space.full() != last.full();
        if (last != null && !crossed && now - last.reportedMs() < REPORT_EVERY.toMillis()) {
            return;
        }
        client.get().reportSpace(space);
        if (crossed) {
            log.warn("node {}: {} MiB free, reserve {} MiB: {}", nodeId, space.freeBytes() >> 20, space.reserveBytes() >> 20,
                    space.full() ? "full, data writes to its groups are refused" : "no longer full");
        }
        last = space;
    }

    private void refreshFullNodes() {
        List<NodeSpace> reports = localReports();
        if (reports == null) {
            long now = System.currentTimeMillis();
            if (now - lastRemoteReadMs < REMOTE_READ_EVERY.toMillis()) {
                return;
            }
            lastRemoteReadMs = now;
            reports = client.get().nodeSpaces();
        }
        reserve.fullNodes(reports.stream().filter(NodeSpace::full).map(NodeSpace::nodeId).collect(Collectors.toSet()));
    }

    /** The reports as this node's meta replica holds them, or null when it holds none. */
    private List<NodeSpace> localReports() {
        try {
            return StateMachines.metaSpaces(server.getDivision(RaftSetup.metaGroupId(config)).getStateMachine());
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
