package io.basalt.cluster.raft;

import java.io.IOException;
import java.lang.reflect.Field;

import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.raftlog.RaftLog;
import org.apache.ratis.server.raftlog.segmented.SegmentedRaftLog;
import org.apache.ratis.util.AwaitToRun;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Works around a deadlock in Ratis 3.3.0's {@code SegmentedRaftLog.close()}: it takes the log's
 * write lock and then joins the log's cache-eviction thread; when that thread has just been woken
 * (a segment roll, a cache miss, a snapshot) it waits for the same write lock, which an interrupt
 * does not break, and the close waits forever. Seen in a ChaosHistoryTest teardown (a node's
 * close hung for 16 minutes; the thread dump is in docs/decisions/ratis-close-deadlock-workaround.md), and the same
 * close runs when a group is removed from a node. Stopping the eviction thread first, without
 * holding the lock, lets it finish its eviction and exit; the log's own close then finds it
 * gone. Eviction only trims the log's in-memory cache, so a log without it until its close
 * loses nothing.
 *
 * <p>The thread is a private field of {@code SegmentedRaftLog}: reached by reflection, pinned by
 * {@code LogEvictionStopTest} so a Ratis upgrade that renames it fails a test instead of
 * silently bringing the hang back.
 */
public final class LogEvictionStop {
    private static final Logger log = LoggerFactory.getLogger(LogEvictionStop.class);
    private static final Field CACHE_EVICTION = cacheEvictionField();

    private LogEvictionStop() {}

    private static Field cacheEvictionField() {
        try {
            Field f = SegmentedRaftLog.class.getDeclaredField("cacheEviction");
            f.setAccessible(true);
            return f;
        } catch (ReflectiveOperationException | RuntimeException e) {
            log.warn("Ratis's SegmentedRaftLog has no cacheEviction field ({}): closing a group may hang as in Ratis 3.3.0", e.toString());
            return null;
        }
    }

    /** True when this Ratis has the field the workaround needs. */
    static boolean available() {
        return CACHE_EVICTION != null;
    }

    /** Stops the cache-eviction thread of every group {@code server} holds; call just before closing it. */
    public static void beforeClose(RaftServer server) {
        for (RaftGroupId id : server.getGroupIds()) {
            beforeClose(server, id);
        }
    }

    /** Stops the cache-eviction thread of group {@code id}'s log on {@code server}; call just before removing the group. */
    public static void beforeClose(RaftServer server, RaftGroupId id) {
        if (CACHE_EVICTION == null) {
            return;
        }
        try {
            stop(server.getDivision(id).getRaftLog());
        } catch (IOException | RuntimeException e) {
            log.debug("group {}: log cache eviction not stopped: {}", id, e.toString());
        }
    }

    /** Stops {@code raftLog}'s cache-eviction thread; call just before the log is closed. */
    public static void stop(RaftLog raftLog) {
        if (CACHE_EVICTION == null || !(raftLog instanceof SegmentedRaftLog)) {
            return;
        }
        try {
            ((AwaitToRun) CACHE_EVICTION.get(raftLog)).close();
        } catch (IllegalAccessException | RuntimeException e) {
            log.debug("{}: log cache eviction not stopped: {}", raftLog, e.toString());
        }
    }
}
