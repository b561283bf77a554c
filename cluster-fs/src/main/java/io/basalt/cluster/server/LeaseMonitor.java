package io.basalt.cluster.server;

import java.io.IOException;
import java.time.Duration;
import java.util.function.Supplier;

import org.apache.ratis.server.RaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.raft.MetaLeases;
import io.basalt.cluster.raft.RaftSetup;
import io.basalt.cluster.raft.StateMachines;
import io.basalt.lock.LockCommand;
import io.basalt.lock.LockResult;

/**
 * Expires host sessions whose lease ran out, on the node that leads the meta group
 * (docs/architecture.md, "Locks and fencing"). Every {@link #TICK} it looks whether this node's
 * meta replica leads (and has applied its term's first entry); on becoming leader, in a new term,
 * it restarts every lease timer from now, so a session is never expired on the word of an older
 * leader's clock. Then it proposes an {@link LockCommand.ExpireSession} for each timer that ran
 * out, through the meta group (one at a time, synchronously: a failure leaves the timer, which is
 * tried again at the next tick), and pushes the fences the expiry raised to every PG (best effort:
 * the next holder raises them anyway).
 *
 * <p>Costs nothing on a node without a meta replica or while it follows: one local look per tick.
 */
final class LeaseMonitor implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LeaseMonitor.class);
    /** How often the timers are read: an expiry happens at most this much after the lease ran out. */
    static final Duration TICK = Duration.ofMillis(200);

    private final ClusterConfig config;
    private final int nodeId;
    private final RaftServer server;
    private final Thread thread;
    private volatile boolean closed;
    /** The node's client, shared with its other tasks (closed by the node). */
    private final Supplier<ClusterClient> client;
    /** The term in which this node last restarted the timers as leader; -1 while it does not lead. */
    private long leadingTerm = -1;

    private LeaseMonitor(ClusterConfig config, int nodeId, RaftServer server, Supplier<ClusterClient> client) {
        this.config = config;
        this.client = client;
        this.nodeId = nodeId;
        this.server = server;
        this.thread = Thread.ofPlatform().daemon().name("basalt-lease-monitor-" + nodeId).unstarted(this::run);
    }

    static LeaseMonitor start(ClusterConfig config, int nodeId, RaftServer server, Supplier<ClusterClient> client) {
        LeaseMonitor m = new LeaseMonitor(config, nodeId, server, client);
        m.thread.start();
        return m;
    }

    private void run() {
        while (!closed) {
            try {
                tick(System.nanoTime());
            } catch (RuntimeException e) {
                if (!closed) {
                    log.info("node {}: lease monitor: {} (trying again)", nodeId, e.toString());
                }
            }
            try {
                Thread.sleep(TICK);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void tick(long nowNanos) {
        MetaLeases leases = leadingLeases();
        if (leases == null) {
            leadingTerm = -1;
            return;
        }
        for (LockCommand.ExpireSession expiry : leases.expired(nowNanos)) {
            if (closed) {
                return;
            }
            expire(leases, expiry);
        }
    }

    /** This node's meta leases while it leads the meta group (timers restarted once per term), else null. */
    private MetaLeases leadingLeases() {
        RaftServer.Division meta;
        try {
            meta = server.getDivision(RaftSetup.metaGroupId(config));
        } catch (IOException e) {
            return null; // no meta replica here
        }
        var info = meta.getInfo();
        if (!info.isAlive() || !info.isLeader() || !info.isLeaderReady()) {
            return null;
        }
        MetaLeases leases = StateMachines.metaLeases(meta.getStateMachine());
        long term = info.getCurrentTerm();
        if (term != leadingTerm) {
            leases.restartAll(System.nanoTime());
            leadingTerm = term;
            log.info("node {}: leads the meta group in term {}: every lease timer restarted", nodeId, term);
        }
        return leases;
    }

    private void expire(MetaLeases leases, LockCommand.ExpireSession expiry) {
        LockResult r = client.get().locks().submit(expiry);
        switch (r) {
            case LockResult.SessionEnded ended -> {
                log.warn("node {}: session {} expired (lease ran out); its locks: {}", nodeId, ended.sessionId(), ended.changed());
                ended.changed().forEach(lock -> pushFence(lock));
            }
            case LockResult.Refused refused when refused.reason() == LockResult.Reason.NO_SESSION -> leases.ended(expiry.sessionId());
            default -> { } // STALE: a renewal came first, and its apply restarted the timer
        }
    }

    private void pushFence(io.basalt.lock.VdiskLock lock) {
        if (lock.fence() > 0) {
            try {
                client.get().locks().raiseFence(lock.vdisk(), lock.fence());
            } catch (RuntimeException e) {
                log.info("node {}: raising the fence of {} to {} failed (its next holder raises it): {}", nodeId, lock.vdisk(), lock.fence(), e.toString());
            }
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
