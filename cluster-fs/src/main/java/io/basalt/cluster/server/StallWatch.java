package io.basalt.cluster.server;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;

import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.server.RaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Says so, with every thread's stack, when one of this node's groups stops making progress
 * with work waiting: entries committed but not applied (the state machine is stuck), or, on the
 * leader, entries appended but not committed while the commit index stands still (its log
 * cannot flush, or it lost its quorum). Once per stall: the warning comes again only after the
 * group moved. A stuck group otherwise shows only as clients' timeouts ("no quorum or no leader
 * within …"), which name neither the node nor what it is waiting for.
 */
final class StallWatch implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StallWatch.class);
    static final Duration TICK = Duration.ofSeconds(5);
    /** Longer than any apply or flush seen in the benchmarks, and than an election timeout. */
    static final Duration STALL = Duration.ofSeconds(20);

    /** One group's position at the last tick that saw it move, and whether its stall was reported. */
    record Seen(long applied, long committed, long movedNanos, boolean reported) {}

    /**
     * The group's state after a tick that finds it at {@code applied} and {@code committed} (its
     * log ending at {@code last}): moved (a new position, not reported), or stalled past
     * {@link #STALL} with work waiting (reported: true from then on until it moves).
     */
    static Seen next(Seen before, long applied, long committed, long last, boolean leader, long nowNanos) {
        if (before == null || before.applied() != applied || before.committed() != committed) {
            return new Seen(applied, committed, nowNanos, false);
        }
        boolean waiting = committed > applied || (leader && last > committed);
        boolean stalled = waiting && nowNanos - before.movedNanos() >= STALL.toNanos();
        return stalled == before.reported() ? before : new Seen(applied, committed, before.movedNanos(), stalled);
    }

    private final int nodeId;
    private final RaftServer server;
    private final Function<RaftGroupId, String> names;
    private final Map<RaftGroupId, Seen> seen = new HashMap<>();
    private final Thread thread;
    private volatile boolean closed;

    private StallWatch(int nodeId, RaftServer server, Function<RaftGroupId, String> names) {
        this.nodeId = nodeId;
        this.server = server;
        this.names = names;
        this.thread = Thread.ofPlatform().daemon().name("basalt-stall-watch-" + nodeId).unstarted(this::run);
    }

    static StallWatch start(int nodeId, RaftServer server, Function<RaftGroupId, String> names) {
        StallWatch w = new StallWatch(nodeId, server, names);
        w.thread.start();
        return w;
    }

    private void run() {
        while (!closed) {
            try {
                Thread.sleep(TICK);
                tick(System.nanoTime());
            } catch (InterruptedException e) {
                return;
            } catch (IOException | RuntimeException e) {
                if (!closed) {
                    log.debug("node {}: stall watch: {}", nodeId, e.toString());
                }
            }
        }
    }

    private void tick(long nowNanos) throws IOException {
        java.util.Set<RaftGroupId> held = new java.util.HashSet<>();
        server.getGroupIds().forEach(held::add);
        seen.keySet().retainAll(held);
        for (RaftGroupId id : held) {
            RaftServer.Division d = server.getDivision(id);
            if (!d.getInfo().isAlive()) {
                seen.remove(id);
                continue;
            }
            long applied = d.getInfo().getLastAppliedIndex();
            long committed = d.getRaftLog().getLastCommittedIndex();
            long last = d.getRaftLog().getNextIndex() - 1;
            Seen before = seen.get(id);
            Seen now = next(before, applied, committed, last, d.getInfo().isLeader(), nowNanos);
            seen.put(id, now);
            if (!now.reported() || (before != null && before.reported())) {
                continue;
            }
            log.warn("node {}: {} made no progress for {} s with work waiting (log ends at {}, committed {}, applied {}, role {});"
                            + " every thread's stack follows{}", nodeId, names.apply(id), (nowNanos - now.movedNanos()) / 1_000_000_000L,
                    last, committed, applied, d.getInfo().getCurrentRole(), threadDump());
        }
    }

    /** Every thread's stack with the locks it holds and waits for, as {@code jstack -l} would show. */
    static String threadDump() {
        StringBuilder out = new StringBuilder();
        for (ThreadInfo t : ManagementFactory.getThreadMXBean().dumpAllThreads(true, true)) {
            out.append(System.lineSeparator()).append('"').append(t.getThreadName()).append("\" ").append(t.getThreadState());
            if (t.getLockName() != null) {
                out.append(" on ").append(t.getLockName());
            }
            if (t.getLockOwnerName() != null) {
                out.append(" owned by \"").append(t.getLockOwnerName()).append('"');
            }
            for (StackTraceElement e : t.getStackTrace()) {
                out.append(System.lineSeparator()).append("    at ").append(e);
            }
            for (var m : t.getLockedMonitors()) {
                out.append(System.lineSeparator()).append("    holds monitor ").append(m);
            }
            for (var l : t.getLockedSynchronizers()) {
                out.append(System.lineSeparator()).append("    holds ").append(l);
            }
        }
        return out.toString();
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
    }
}
