package io.basalt.cluster.server;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.pg.PgRepair;
import io.basalt.cluster.pg.PgScrubState;
import io.basalt.cluster.pg.PgStore;
import io.basalt.cluster.pg.ScrubCodec;
import io.basalt.cluster.probe.ScrubCalls;
import io.basalt.cluster.raft.StateMachines;
import io.basalt.vdisk.store.GrainScrub;
import io.basalt.vdisk.store.GrainScrub.BadGrain;
import io.basalt.vdisk.store.GrainScrub.GrainKey;

/**
 * Scrubs this node's placement-group replicas (docs/decisions/scrub-and-repair.md), Ceph's deep
 * scrub for Basalt: every stored grain version of each local replica is read and its frame's
 * CRC32C checked, at most {@code rateBytesPerSecond} of frames per node, one replica at a time. A
 * bad version is repaired from a peer replica's healthy copy of the same key ({@link PgRepair}:
 * installed only while the key still holds the bad bytes, once this replica has applied the
 * peer's index); a version no peer holds a healthy copy of is reported unrepairable and left as
 * it is (its reads keep failing with CORRUPTION: no data is invented).
 *
 * <p>When: a pass of every replica every {@link #PASS_INTERVAL}, the first {@link #FIRST_PASS_DELAY}
 * after the node started; and a pass as soon as one is asked for ({@code basalt scrub}, or a read
 * of that replica that met a checksum mismatch), polled every {@link #IDLE_POLL}.
 */
final class ScrubWorker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ScrubWorker.class);
    /** The background rate per node: 32 MiB/s reads 1 TiB of grains in about 9 hours. */
    static final long RATE_BYTES_PER_SECOND_DEFAULT = 32L << 20;
    /** The system property that sets another rate (bytes per second) for a node's process. */
    static final String RATE_PROPERTY = "basalt.scrubRateBytesPerSecond";
    static final Duration PASS_INTERVAL = Duration.ofDays(1);
    static final Duration FIRST_PASS_DELAY = Duration.ofMinutes(10);
    static final Duration IDLE_POLL = Duration.ofMillis(200);
    /** Frames read per step: the unit the rate limit sleeps between. */
    static final long STEP_BYTES = 1L << 20;
    static final Duration PEER_CALL_TIMEOUT = Duration.ofSeconds(5);
    /** How long a repair waits for this replica to apply up to the peer's index. */
    static final Duration CATCH_UP_MAX = Duration.ofSeconds(10);
    static final Duration BEHIND_RETRY = Duration.ofMillis(50);

    private final ClusterConfig config;
    private final RaftServer server;
    private final RaftPeerId self;
    private final Map<RaftGroupId, Integer> pgs;
    private final long rateBytesPerSecond;
    private final Map<RaftGroupId, Long> lastPassNanos = new HashMap<>();
    private final long startNanos = System.nanoTime();
    private final Thread thread;
    private volatile boolean closed;

    private ScrubWorker(ClusterConfig config, RaftServer server, RaftPeerId self, Map<RaftGroupId, Integer> pgs, long rateBytesPerSecond) {
        if (rateBytesPerSecond <= 0) {
            throw new IllegalArgumentException("scrub rate: " + rateBytesPerSecond + " bytes/s (expected: > 0)");
        }
        this.config = config;
        this.server = server;
        this.self = self;
        this.pgs = Map.copyOf(pgs);
        this.rateBytesPerSecond = rateBytesPerSecond;
        this.thread = Thread.ofPlatform().daemon().name("basalt-scrub-" + self).unstarted(this::run);
    }

    static ScrubWorker start(ClusterConfig config, RaftServer server, RaftPeerId self, Map<RaftGroupId, Integer> pgs) {
        long rate = Long.getLong(RATE_PROPERTY, RATE_BYTES_PER_SECOND_DEFAULT);
        ScrubWorker w = new ScrubWorker(config, server, self, pgs, rate);
        w.thread.start();
        return w;
    }

    private void run() {
        try {
            while (!closed) {
                for (RaftGroupId id : server.getGroupIds()) {
                    Integer pg = pgs.get(id);
                    if (pg != null && !closed) {
                        scrubIfDue(id, pg);
                    }
                }
                Thread.sleep(IDLE_POLL);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void scrubIfDue(RaftGroupId id, int pg) throws InterruptedException {
        RaftServer.Division d;
        try {
            d = server.getDivision(id);
        } catch (IOException e) {
            return; // removed meanwhile
        }
        PgScrubState state = StateMachines.pgScrub(d.getStateMachine());
        long asked = state.takeRequest();
        long last = lastPassNanos.getOrDefault(id, startNanos - PASS_INTERVAL.toNanos() + FIRST_PASS_DELAY.toNanos());
        boolean due = System.nanoTime() - last >= PASS_INTERVAL.toNanos();
        if (asked == PgScrubState.NO_REQUEST && !due) {
            return;
        }
        lastPassNanos.put(id, System.nanoTime());
        state.passStarted();
        try {
            pass(d, pg, state, asked == PgScrubState.NO_REQUEST ? PgScrubState.ALL_VDISKS : asked);
        } catch (RuntimeException e) {
            // The store was closed or replaced under the pass (a snapshot installed): the next pass starts over.
            log.warn("{}: scrub of pg-{} stopped: {}", self, pg, e.toString());
        } finally {
            state.passEnded(System.currentTimeMillis());
        }
    }

    /** One pass over replica {@code d}'s store (only cluster vdisk {@code onlyVdiskId}'s grains unless it is -1), at the rate. */
    private void pass(RaftServer.Division d, int pg, PgScrubState state, long onlyVdiskId) throws InterruptedException {
        PgStore store = StateMachines.pgStore(d.getStateMachine());
        if (store == null) {
            return;
        }
        long engineId = -1;
        Optional<GrainKey> at = Optional.of(new GrainKey(0, 0, Long.MAX_VALUE));
        if (onlyVdiskId != PgScrubState.ALL_VDISKS) {
            Optional<Long> id = GrainScrub.vdiskId(store.engine(), PgStore.engineName(onlyVdiskId));
            if (id.isEmpty()) {
                return; // nothing of that vdisk on this PG
            }
            engineId = id.get();
            at = Optional.of(GrainKey.first(engineId));
        }
        long passStart = System.nanoTime();
        long bytes = 0;
        while (at.isPresent() && !closed) {
            if (StateMachines.pgStore(d.getStateMachine()) != store) {
                throw new IllegalStateException("pg-" + pg + " store replaced during the pass");
            }
            GrainScrub.Step step = GrainScrub.scan(store.engine(), at.get(), STEP_BYTES, engineId);
            state.checked(step.grainsChecked(), step.bytesRead(), step.bad().size());
            for (BadGrain bad : step.bad()) {
                log.warn("{}: pg-{} scrub found a bad version: {}", self, pg, bad);
                repair(d, pg, store, state, bad);
            }
            bytes += step.bytesRead();
            at = step.next();
            long dueNanos = passStart + (long) (bytes * 1e9 / rateBytesPerSecond);
            long sleepNanos = dueNanos - System.nanoTime();
            if (sleepNanos > 0) {
                Thread.sleep(Duration.ofNanos(sleepNanos));
            }
        }
    }

    /**
     * Repairs {@code bad} from the first peer with a healthy copy. Unrepairable only when every
     * peer answered and none had one; a peer that did not answer leaves it for the next pass.
     */
    private void repair(RaftServer.Division d, int pg, PgStore store, PgScrubState state, BadGrain bad) throws InterruptedException {
        long clusterVdiskId = clusterVdiskId(bad.vdiskName());
        int grainBytes = GrainScrub.grainSizeBytes(store.engine(), bad.key().vdiskId()).orElse(0);
        long minIndex = store.appliedIndex();
        boolean everyPeerAnswered = true;
        for (RaftPeer peer : d.getGroup().getPeers()) {
            if (peer.getId().equals(self)) {
                continue;
            }
            ScrubCodec.FrameReply reply;
            try {
                reply = readFrame(d, peer, new ScrubCodec.ReadFrame(clusterVdiskId, bad.key().grain(), bad.key().epoch()), minIndex);
            } catch (IOException | RuntimeException e) {
                everyPeerAnswered = false;
                log.warn("{}: pg-{} repair of {}: {} did not answer: {}", self, pg, bad, peer.getId(), e.toString());
                continue;
            }
            byte[] healthy = bytes(reply.frame());
            if (!reply.present() || grainBytes == 0 || GrainScrub.check(healthy, grainBytes) != null) {
                continue; // not there (collected by its GC), or bad there too
            }
            switch (PgRepair.install(store, bad.key(), bad.frame(), healthy, reply.appliedIndex(), CATCH_UP_MAX)) {
                case REPAIRED -> {
                    state.repairedOne();
                    log.warn("{}: pg-{} repaired {} from {} (its index {})", self, pg, bad, peer.getId(), reply.appliedIndex());
                }
                case SUPERSEDED -> log.info("{}: pg-{} {} was replaced by a write before its repair", self, pg, bad);
                case BEHIND -> log.warn("{}: pg-{} {} not repaired: this replica (index {}) did not reach {}'s index {} in {}; next pass",
                        self, pg, bad, store.appliedIndex(), peer.getId(), reply.appliedIndex(), CATCH_UP_MAX);
            }
            return;
        }
        if (everyPeerAnswered) {
            state.unrepairableOne();
            log.error("{}: pg-{} UNREPAIRABLE {}: no replica holds a healthy copy; its reads fail with CORRUPTION", self, pg, bad);
        }
    }

    /**
     * {@code peer}'s frame, asked again every {@link #BEHIND_RETRY} while the peer has not yet
     * applied {@code minIndex} (it applies the entries this replica applied a moment later), for
     * {@link #CATCH_UP_MAX} at most.
     */
    private ScrubCodec.FrameReply readFrame(RaftServer.Division d, RaftPeer peer, ScrubCodec.ReadFrame r, long minIndex)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + CATCH_UP_MAX.toNanos();
        while (true) {
            try {
                return ScrubCalls.readFrame(config, d.getGroup().getGroupId(), peer, r, minIndex, PEER_CALL_TIMEOUT);
            } catch (ScrubCalls.BehindException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(BEHIND_RETRY);
            }
        }
    }

    /** Cluster vdisk X is engine vdisk "vX" on every PG ({@link PgStore#engineName}). */
    static long clusterVdiskId(String engineName) {
        if (!engineName.matches("v[0-9]{1,18}")) {
            throw new IllegalStateException("engine vdisk " + engineName + " (expected: v<cluster vdisk id>)");
        }
        return Long.parseLong(engineName.substring(1));
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(Duration.ofSeconds(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
