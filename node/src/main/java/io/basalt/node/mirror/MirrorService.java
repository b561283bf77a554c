package io.basalt.node.mirror;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.basalt.node.config.Configs;
import io.basalt.replication.MirrorReceiver;
import io.basalt.replication.MirrorRoles;
import io.basalt.replication.MirrorStore;
import io.basalt.replication.MirrorSnapshots;
import io.basalt.replication.link.LinkSecret;
import io.basalt.replication.link.MirrorClient;
import io.basalt.replication.link.MirrorLinkException;
import io.basalt.replication.link.MirrorServer;
import io.basalt.replication.stream.MirrorException;
import io.basalt.vdisk.store.SnapshotInfo;
import io.basalt.vdisk.store.VdiskStore;

/**
 * Mirroring inside a serving process (docs/architecture.md, "Replication"): the site's mirror
 * link server (peers ship rounds into replicas here, and call for failovers), and a scheduler
 * that, for each vdisk this site mirrors as primary ({@link MirrorConfig.Mirror}), takes mirror
 * snapshot {@code mirror-N} every interval, ships the changes since the last snapshot both
 * sites hold with a {@link MirrorClient}, and prunes older mirror snapshots once the peer
 * applied it (the peer prunes its own as it applies). Vdisks of a consistency group
 * ({@link MirrorGroups}) are snapshotted and shipped by group rounds instead.
 *
 * <p>One round per vdisk at a time: a round, a failover's demotion and a failback's resync each
 * hold the vdisk's lock. A round that failed is shipped again (the same snapshot) at the next
 * interval, so at most one snapshot waits unshipped however long the peer is away. Two
 * primaries (split brain) stop the rounds: they never resync by themselves.
 *
 * <p>Owns its threads, server and clients ({@link #close()}); not the store or the records.
 */
public final class MirrorService implements AutoCloseable {
    static final Logger log = LoggerFactory.getLogger(MirrorService.class);
    /** How often the scheduler looks for rounds that are due; the shortest interval allowed is {@link MirrorConfig#INTERVAL_MIN}. */
    static final Duration TICK = Duration.ofMillis(100);
    /** The scheduler's link: give up on a round soon and ship it again at the next interval, rather than stall the other vdisks. */
    static final MirrorClient.Options ROUND_LINK = new MirrorClient.Options(Duration.ofSeconds(3), Duration.ofSeconds(10),
            Duration.ofMinutes(30), Duration.ofSeconds(30), 2, Duration.ofMillis(200));
    /** How long a call to the peer may take: a demotion ships the final round. */
    static final Duration CALL_TIMEOUT = Duration.ofMinutes(30);

    /** Where a vdisk's mirroring is, as status shows it. */
    enum State { SYNCING, OK, ERROR, HELD, SPLIT_BRAIN }

    /**
     * What this process knows of one vdisk's mirroring (primary: the rounds it shipped; replica:
     * the rounds it applied). Replaced whole, never changed in place.
     */
    record Progress(State state, Optional<String> lastCommon, long lastRoundMs, long lastRoundBytes, long lastRoundNanos,
                    long roundsDone, Optional<String> error) {
        static final Progress NONE = new Progress(State.SYNCING, Optional.empty(), 0, 0, 0, 0, Optional.empty());

        Progress failed(State s, String message) {
            return new Progress(s, lastCommon, lastRoundMs, lastRoundBytes, lastRoundNanos, roundsDone, Optional.of(message));
        }

        Progress withCommon(String snap) {
            return new Progress(state, Optional.of(snap), lastRoundMs, lastRoundBytes, lastRoundNanos, roundsDone, error);
        }

        Progress withoutCommon() {
            return new Progress(state, Optional.empty(), lastRoundMs, lastRoundBytes, lastRoundNanos, roundsDone, error);
        }

        Progress withState(State s) {
            return new Progress(s, lastCommon, lastRoundMs, lastRoundBytes, lastRoundNanos, roundsDone, Optional.empty());
        }

        Progress shipped(String snap, long atMs, long bytes, long nanos) {
            return new Progress(State.OK, Optional.of(snap), atMs, bytes, nanos, roundsDone + 1, Optional.empty());
        }
    }

    final MirrorStore store;
    final MirrorConfig config;
    final String siteName;
    private final MirrorServer server;
    private final ScheduledExecutorService scheduler;
    private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();
    final Map<String, Progress> progress = new ConcurrentHashMap<>();
    private final Map<String, Long> lastStartMs = new ConcurrentHashMap<>();
    private final Map<MirrorConfig.Peer, MirrorClient> clients = new ConcurrentHashMap<>();
    final Dr dr;
    final MirrorGroups groups;

    private MirrorService(MirrorStore store, Configs configs, InetSocketAddress bind, Path stagingDir) {
        this.store = store;
        this.config = new MirrorConfig(configs);
        this.siteName = config.siteName();
        this.dr = new Dr(this);
        this.groups = new MirrorGroups(this);
        this.server = MirrorServer.start(new MirrorServer.Config(bind, siteName, store, stagingDir, this::secretOf, new Listener(), dr::answer));
        this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().name("mirror-scheduler").daemon().unstarted(r));
        scheduler.scheduleWithFixedDelay(this::tick, 0, TICK.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Starts mirroring for the site whose store and records these are: its link server on
     * {@code bind}, rounds staged under {@code stagingDir}, and the schedule of its mirrors.
     * Refused when the site has no name ({@code basalt site init}).
     */
    public static MirrorService start(VdiskStore store, Configs configs, InetSocketAddress bind, Path stagingDir) {
        return start(MirrorStore.of(store), configs, bind, stagingDir);
    }

    /** As {@link #start(VdiskStore, Configs, InetSocketAddress, Path)} for any site's store: the embedded one, or a cluster's through its gateway. */
    public static MirrorService start(MirrorStore store, Configs configs, InetSocketAddress bind, Path stagingDir) {
        return new MirrorService(store, configs, bind, stagingDir);
    }

    public InetSocketAddress address() {
        return server.localAddress();
    }

    public String siteName() {
        return siteName;
    }

    /** Status of every mirrored vdisk here (both roles), or of {@code vdisk} alone. */
    public List<MirrorStatus.Row> status(Optional<String> vdisk) {
        return MirrorStatus.rows(store, config, progress, vdisk, System.currentTimeMillis());
    }

    /** {@code basalt dr failover}: makes this site's replica of {@code vdisk} its primary. */
    public Dr.Outcome failover(String vdisk, boolean planned) {
        return dr.failover(vdisk, planned);
    }

    /** {@code basalt dr failback}: makes this site primary of {@code vdisk} again, bringing over only what changed. */
    public Dr.Outcome failback(String vdisk, boolean discardLocal) {
        return dr.failback(vdisk, discardLocal);
    }

    /** {@code basalt dr failover --group}: makes this site's replicas of group {@code group} primary, at one round. */
    public List<Dr.Outcome> failoverGroup(String group, boolean planned) {
        return groups.failover(group, planned);
    }

    /** {@code basalt dr failback --group}: makes this site primary of group {@code group}'s vdisks again. */
    public List<Dr.Outcome> failbackGroup(String group, boolean discardLocal) {
        return groups.failback(group, discardLocal);
    }

    /** {@code basalt mirror group rm}: the group's vdisks stop mirroring; returns the mirror snapshots removed here. */
    public List<String> removeGroup(String group) {
        return groups.remove(group);
    }

    /** {@code basalt mirror group ls}: groups mirrored from here and groups whose replicas are here. */
    public List<MirrorGroups.Row> groupRows() {
        return groups.rows();
    }

    /** {@code basalt mirror disable}, with no round under way meanwhile. */
    public List<String> disable(String vdisk) {
        ReentrantLock lock = lockOf(vdisk);
        lock.lock();
        try {
            progress.remove(vdisk);
            return disable(store, config, vdisk);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Ends the mirroring of {@code vdisk} from this site: its record, and its mirror snapshots
     * (nothing else starts from them). The peer's replica stays, at its last complete snapshot.
     * Returns the snapshots removed.
     */
    public static List<String> disable(VdiskStore store, MirrorConfig config, String vdisk) {
        return disable(MirrorStore.of(store), config, vdisk);
    }

    /** As {@link #disable(VdiskStore, MirrorConfig, String)} on any site's store. */
    public static List<String> disable(MirrorStore store, MirrorConfig config, String vdisk) {
        config.mirror(vdisk).orElseThrow(() -> new IllegalArgumentException("vdisk: " + vdisk + " (expected: one mirrored from this site; see basalt mirror status)"));
        config.removeMirror(vdisk);
        List<String> removed = new ArrayList<>();
        for (SnapshotInfo s : store.snapshots(vdisk).reversed()) {
            if (MirrorSnapshots.sequenceOf(s.name()).isPresent() && !store.hasClones(vdisk, s.name())) {
                store.removeSnapshot(vdisk, s.name());
                removed.add(s.name());
            }
        }
        return removed;
    }

    /** Runs {@code action} with no round applied to replica {@code vdisk} meanwhile ({@link MirrorServer#withoutRounds}). */
    <T> T withoutRounds(String vdisk, java.util.function.Supplier<T> action) {
        return server.withoutRounds(vdisk, action);
    }

    private Optional<LinkSecret> secretOf(String site) {
        return config.peer(site).map(p -> LinkSecret.fromBase64(p.secretBase64()));
    }

    /** The link to {@code peer}; a new one when its record changed (address, secret or limit). */
    MirrorClient client(MirrorConfig.Peer peer) {
        return clients.computeIfAbsent(peer, p -> {
            clients.keySet().stream().filter(k -> k.name().equals(p.name()) && !k.equals(p)).toList()
                    .forEach(old -> Optional.ofNullable(clients.remove(old)).ifPresent(MirrorClient::close));
            return new MirrorClient(siteName, store, p.toLink(), ROUND_LINK);
        });
    }

    ReentrantLock lockOf(String vdisk) {
        return locks.computeIfAbsent(vdisk, v -> new ReentrantLock());
    }

    /** On the scheduler thread: every mirror whose interval has passed since its last round starts one. */
    private void tick() {
        try {
            long now = System.currentTimeMillis();
            List<MirrorConfig.Group> groupList = config.groups();
            for (MirrorConfig.Mirror m : config.mirrors()) {
                if (now - lastStartMs.getOrDefault(m.vdisk(), 0L) < m.intervalMs()) {
                    continue;
                }
                lastStartMs.put(m.vdisk(), now);
                if (m.held()) {
                    dr.watchHeld(m);
                } else if (progressOf(m.vdisk()).state() != State.SPLIT_BRAIN
                        && groupList.stream().noneMatch(g -> g.vdisks().contains(m.vdisk()))) {
                    roundGuarded(m);
                }
            }
            for (MirrorConfig.Group g : groupList) {
                String key = "group/" + g.name(); // not a vdisk name: those have no '/'
                if (now - lastStartMs.getOrDefault(key, 0L) >= g.intervalMs()) {
                    lastStartMs.put(key, now);
                    groupRoundGuarded(g);
                }
            }
        } catch (RuntimeException e) {
            // Records unreadable or the store closing: the next tick tries again; a bug shows in the log.
            log.error("mirror scheduler of site {}: tick failed", siteName, e);
        }
    }

    private void roundGuarded(MirrorConfig.Mirror m) {
        ReentrantLock lock = lockOf(m.vdisk());
        lock.lock();
        try {
            if (!config.mirror(m.vdisk()).equals(Optional.of(m))) {
                return; // changed while we waited for the lock (a failover demoted it, a disable, a new interval): the next tick sees it
            }
            round(m);
        } catch (MirrorException | MirrorLinkException | IllegalArgumentException | IllegalStateException | io.basalt.vdisk.store.StoreException e) {
            recordFailure(m, e);
        } finally {
            lock.unlock();
        }
    }

    private void groupRoundGuarded(MirrorConfig.Group g) {
        try {
            groups.roundGuarded(g);
        } catch (MirrorException | MirrorLinkException | IllegalArgumentException | IllegalStateException | io.basalt.vdisk.store.StoreException e) {
            // Each member's failure is in its progress already; this says the group waits for it.
            log.warn("mirror group {} to site {}: round not complete, the failed members ship again at the next interval: {}",
                    g.name(), g.peer(), e.getMessage());
        }
    }

    /** A round of {@code m} that failed: its state for status, and one line in the log. */
    void recordFailure(MirrorConfig.Mirror m, RuntimeException e) {
        if (e instanceof MirrorException me && me.reason() == MirrorException.Reason.WRONG_SOURCE && me.getMessage().contains("is not a replica")) {
            progress.put(m.vdisk(), progressOf(m.vdisk()).failed(State.SPLIT_BRAIN, e.getMessage()));
            log.warn("mirror of {} to site {}: {} (split brain: both sites are primary; pick a side with basalt dr failback --discard-local)",
                    m.vdisk(), m.peer(), e.getMessage());
        } else {
            progress.put(m.vdisk(), progressOf(m.vdisk()).failed(State.ERROR, e.getMessage()));
            log.warn("mirror of {} to site {}: round failed, shipped again at the next interval: {}", m.vdisk(), m.peer(), e.getMessage());
        }
    }

    /**
     * One round of {@code m}: ships the snapshot still waiting from a failed round, or takes a
     * new one, from the last snapshot both sites hold; prunes once applied. Returns what it shipped.
     */
    MirrorClient.ShipResult round(MirrorConfig.Mirror m) {
        ReentrantLock lock = lockOf(m.vdisk());
        lock.lock();
        try {
            String vdisk = m.vdisk();
            if (MirrorRoles.replicaOf(store, vdisk).isPresent()) {
                throw new IllegalStateException("vdisk " + vdisk + " is a replica here (demoted); its mirror record is stale");
            }
            List<String> snaps = mirrorSnapshots(vdisk);
            String from = lastCommon(m, snaps);
            String to = pendingAfter(from, snaps).orElse(null);
            if (to == null) {
                long next = snaps.isEmpty() ? 1 : MirrorSnapshots.sequenceOf(snaps.getLast()).getAsLong() + 1;
                to = MirrorSnapshots.name(next);
                store.createSnapshot(vdisk, to);
            }
            return ship(m, from, to);
        } finally {
            lock.unlock();
        }
    }

    /** Ships {@code from} to {@code to} of {@code m}'s vdisk and, once applied, prunes. Holds the vdisk's lock. */
    MirrorClient.ShipResult ship(MirrorConfig.Mirror m, String from, String to) {
        MirrorClient.ShipResult r = shipOnly(m, from, to);
        if (MirrorRoles.replicaOf(store, m.vdisk()).isPresent()) {
            MirrorSnapshots.pruneReplica(store, m.vdisk());
        } else {
            MirrorSnapshots.prunePrimary(store, m.vdisk(), to);
        }
        return r;
    }

    /** Ships {@code from} to {@code to} of {@code m}'s vdisk; pruning is the caller's. Holds the vdisk's lock. */
    MirrorClient.ShipResult shipOnly(MirrorConfig.Mirror m, String from, String to) {
        String vdisk = m.vdisk();
        long round = MirrorSnapshots.sequenceOf(to).getAsLong();
        MirrorClient client = client(config.existingPeer(m.peer()));
        MirrorClient.ShipResult r;
        try {
            r = client.shipRound(vdisk, from, to, round);
        } catch (MirrorException e) {
            if (e.reason() == MirrorException.Reason.WRONG_BASE) {
                // The peer holds another snapshot than we thought (an answer lost after its apply): ask it at the next round.
                progress.put(vdisk, progressOf(vdisk).withoutCommon());
            }
            throw e;
        }
        progress.put(vdisk, progressOf(vdisk).shipped(to, System.currentTimeMillis(), r.streamBytes(), r.duration().toNanos()));
        return r;
    }

    /**
     * The last snapshot both sites hold: the last this process shipped, else (after a start, or
     * a refusal that showed it wrong) the one the peer's replica says it holds complete; null
     * when the peer holds no replica yet (a full sync).
     */
    String lastCommon(MirrorConfig.Mirror m, List<String> snaps) {
        Optional<String> known = progressOf(m.vdisk()).lastCommon().filter(snaps::contains);
        if (known.isPresent()) {
            return known.get();
        }
        String theirs = dr.peerLastComplete(m);
        if (theirs.isEmpty()) {
            return null;
        }
        if (!snaps.contains(theirs)) {
            throw new IllegalStateException("vdisk " + m.vdisk() + ": site " + m.peer() + " holds " + theirs + ", which is not here (here: "
                    + snaps + "); its replica cannot be brought forward: remove it there and mirror again for a full sync");
        }
        progress.put(m.vdisk(), progressOf(m.vdisk()).withCommon(theirs));
        return theirs;
    }

    /** The mirror snapshot after {@code from} (the first one when null), if any: taken, not yet known applied. */
    static Optional<String> pendingAfter(String from, List<String> snaps) {
        int at = from == null ? 0 : snaps.indexOf(from) + 1;
        return at < snaps.size() ? Optional.of(snaps.get(at)) : Optional.empty();
    }

    /** {@code vdisk}'s mirror snapshots, oldest round first. */
    List<String> mirrorSnapshots(String vdisk) {
        return mirrorSnapshots(store, vdisk);
    }

    /** {@code vdisk}'s mirror snapshots in {@code store}, oldest round first. */
    static List<String> mirrorSnapshots(MirrorStore store, String vdisk) {
        List<String> out = new ArrayList<>();
        for (SnapshotInfo s : store.snapshots(vdisk)) {
            OptionalLong n = MirrorSnapshots.sequenceOf(s.name());
            if (n.isPresent()) {
                out.add(s.name());
            }
        }
        out.sort((x, y) -> Long.compare(MirrorSnapshots.sequenceOf(x).getAsLong(), MirrorSnapshots.sequenceOf(y).getAsLong()));
        return out;
    }

    Progress progressOf(String vdisk) {
        return progress.getOrDefault(vdisk, Progress.NONE);
    }

    /** Rounds applied here, as replica status shows them. */
    private final class Listener implements MirrorServer.Listener {
        @Override
        public void applied(String peerSite, MirrorReceiver.Result r) {
            String vdisk = r.header().vdiskName();
            progress.put(vdisk, progressOf(vdisk).shipped(r.snapshot().name(), System.currentTimeMillis(), r.streamBytes(), 0));
            try {
                groups.pruneReplica(vdisk);
            } catch (RuntimeException e) {
                // The snapshots stay until a later round prunes them: more space used, nothing wrong.
                log.warn("replica {}: pruning older mirror snapshots failed: {}", vdisk, e.getMessage());
            }
        }
    }

    @Override
    public void close() {
        scheduler.shutdown();
        try {
            if (!scheduler.awaitTermination(1, TimeUnit.MINUTES)) {
                log.warn("mirror scheduler of site {}: a round still running a minute after close", siteName);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            server.close();
        } finally {
            clients.values().forEach(MirrorClient::close);
        }
    }
}
