package io.basalt.cluster.client;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.Placement;
import io.basalt.cluster.probe.GroupDirectory;
import io.basalt.cluster.meta.MetaCodec;
import io.basalt.cluster.meta.MetaCommand;
import io.basalt.cluster.meta.MetaQuery;
import io.basalt.cluster.meta.MetaResult;
import io.basalt.cluster.meta.NodeRecord;
import io.basalt.cluster.meta.NodeSpace;
import io.basalt.cluster.meta.VdiskRecord;
import io.basalt.cluster.pg.PgOp;
import io.basalt.cluster.pg.PgResult;
import io.basalt.cluster.raft.RaftSetup;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.store.Extent;
import io.basalt.vdisk.store.Usage;

/**
 * A client of one cluster: the namespace (through the meta group) and block devices over
 * vdisks (through the placement groups). Thread-safe; one per process is enough, and every
 * {@link ClusterVdisk} it opens shares its per-PG pipes, so group commit spans devices.
 */
public final class ClusterClient implements AutoCloseable {
    /** Pause between a Ratis client's attempts (leader change, no leader yet). */
    static final Duration RETRY_SLEEP = Duration.ofMillis(200);

    private final ClusterConfig config;
    private final Placement placement;
    private final GroupClient meta;
    private final PgChannel[] pgs;
    private final ClusterLocks locks = new ClusterLocks(this);

    private ClusterClient(ClusterConfig config, GroupClient meta, PgChannel[] pgs) {
        this.config = config;
        this.placement = new Placement(config);
        this.meta = meta;
        this.pgs = pgs;
    }

    /** The Ratis client PG {@code pg}'s requests go through now (tests watch it being replaced after it gave up). */
    org.apache.ratis.client.RaftClient pgRaftClient(int pg) {
        return pgs[pg].raftClient();
    }

    public static ClusterClient open(ClusterConfig config) {
        return open(config, null);
    }

    /**
     * A client in the same process as {@code local} (may be null): reads of a PG whose only
     * replica is {@code local} are served from its store directly, without a gRPC round trip
     * (linearizable with one voter: see {@link LocalNode#soleReplicaStore}); reads of a PG
     * {@code local} replicates and writes to a PG it leads go to its server in-process
     * ({@link LocalSubmitter}), falling back to the group's leader over gRPC.
     */
    public static ClusterClient open(ClusterConfig config, LocalNode local) {
        RaftProperties props = RaftSetup.clientProperties(config);
        java.util.concurrent.atomic.AtomicReference<ClusterClient> self = new java.util.concurrent.atomic.AtomicReference<>();
        // A group's current peers come from the nodes of the address book: the cluster file's
        // nodes plus those registered in the meta group since (see addressBook()).
        java.util.function.Supplier<ClusterConfig> book = () -> self.get() == null ? config : self.get().addressBook();
        // Each group's current peers, as the nodes report them (membership may have changed
        // since the config file was written). Later changes reach the Ratis clients through
        // NotLeaderException, which carries the group's peers, or GroupClient's rediscovery.
        GroupDirectory groups = GroupDirectory.discover(config);
        GroupClient meta = new GroupClient(config, props, "meta", groups.meta(config), book);
        ClusterConfig known = withRegistry(config, meta);
        if (known != config) {
            groups = GroupDirectory.discover(known);
        }
        PgChannel[] pgs = new PgChannel[config.pgCount()];
        // One session per client: its entries are applied once even when resent by a new Ratis client.
        java.util.UUID session = java.util.UUID.randomUUID();
        for (int pg = 0; pg < pgs.length; pg++) {
            pgs[pg] = new PgChannel(pg, new GroupClient(config, props, "pg-" + pg, groups.pg(config, pg), book), config.tuning().ioTimeout(),
                    config.tuning().pgInflightEntriesMax(), localPaths(config, local, pg), session);
        }
        ClusterClient c = new ClusterClient(config, meta, pgs);
        c.addressBook = known;
        self.set(c);
        return c;
    }

    /** {@code config} plus the nodes the meta group's registry holds (unchanged when it holds none, or answers nothing quickly). */
    private static ClusterConfig withRegistry(ClusterConfig config, GroupClient meta) {
        try {
            Message m = message(MetaQuery.encode(new MetaQuery.ListNodes()));
            long deadline = System.nanoTime() + REGISTRY_WAIT.toNanos();
            RaftClientReply reply = meta.send(c -> c.async().sendReadOnly(m), LeaderRetry.READ, deadline)
                    .get(REGISTRY_WAIT.toMillis(), TimeUnit.MILLISECONDS);
            if (!reply.isSuccess()) {
                return config;
            }
            ClusterConfig out = config;
            for (NodeRecord n : MetaQuery.decodeNodes(reply.getMessage().getContent().asReadOnlyByteBuffer())) {
                // A node the client's own file names stays at the file's address (the client may
                // reach it on another network, or through a proxy); the registry adds the others.
                if (out.nodes().stream().noneMatch(x -> x.id() == n.id())) {
                    out = out.withNode(new ClusterConfig.NodeAddress(n.id(), n.host(), n.port()));
                }
            }
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return config;
        } catch (ExecutionException | TimeoutException | RuntimeException e) {
            return config; // no meta leader yet, or an old cluster: the cluster file alone
        }
    }

    /** How long a client waits for the registry when it opens or rediscovers a group. */
    static final Duration REGISTRY_WAIT = Duration.ofSeconds(5);

    /** The cluster file's nodes plus the registered ones, as last read. */
    private volatile ClusterConfig addressBook;

    /**
     * The address book re-read from the meta group's registry (kept as it was when the meta
     * group does not answer): where {@link GroupClient} looks for a group that moved to a node
     * the cluster file does not name.
     */
    ClusterConfig addressBook() {
        ClusterConfig now = withRegistry(addressBook, meta);
        addressBook = now;
        return now;
    }

    /** Records node {@code id} at {@code host:port} in the meta group's node registry. */
    public void registerNode(int id, String host, int port) {
        MetaResult r = MetaCodec.decodeResult(metaWrite(new MetaCommand.RegisterNode(id, host, port)));
        if (r instanceof MetaResult.Rejected rejected) {
            throw new IllegalArgumentException(rejected.message());
        }
    }

    /** Records node {@code space.nodeId()}'s disk space report in the meta group. */
    public void reportSpace(NodeSpace space) {
        MetaResult r = MetaCodec.decodeResult(metaWrite(new MetaCommand.ReportSpace(space)));
        if (r instanceof MetaResult.Rejected rejected) {
            throw new IllegalArgumentException(rejected.message());
        }
    }

    /** Every node's last disk space report, by node id. */
    public List<NodeSpace> nodeSpaces() {
        return MetaQuery.decodeSpaces(metaRead(new MetaQuery.ListSpaces()));
    }

    /** Drops node {@code id} from the registry. */
    public void unregisterNode(int id) {
        metaWrite(new MetaCommand.UnregisterNode(id));
    }

    /** The shortcuts to {@code local} (may be null) for PG {@code pg}: its sole-replica store, and its server (used while it holds a replica). */
    private static PgChannel.LocalPaths localPaths(ClusterConfig config, LocalNode local, int pg) {
        if (local == null) {
            return PgChannel.LocalPaths.NONE;
        }
        return new PgChannel.LocalPaths(local.soleReplicaStore(pg),
                new LocalSubmitter(local.server(), RaftSetup.pgGroupId(config, pg), RaftSetup.peerId(local.id())), () -> local.askScrub(pg));
    }

    public ClusterConfig config() {
        return config;
    }

    /** The cluster's lock table (in the meta group) and the fences on the PGs. */
    public ClusterLocks locks() {
        return locks;
    }

    /** The persistent-reservation states of vdisks' LUNs (in the meta group), shared by their gateways. */
    public ClusterPrStates prStates() {
        return new ClusterPrStates(this);
    }

    /** The cluster's config records (VM specs, host agents, ...) in the meta group. */
    public ClusterConfigs configs() {
        return new ClusterConfigs(this);
    }

    Placement placement() {
        return placement;
    }

    PgChannel pg(int pg) {
        return pgs[pg];
    }

    /**
     * Write entries this client completed over all PGs. Ops per entry is how well group commit
     * batches; a diagnostic for benchmarks.
     */
    public EntryStats writeEntryStats() {
        EntryStats sum = new EntryStats(0, 0, 0);
        for (PgChannel pg : pgs) {
            sum = sum.plus(pg.writeStats());
        }
        return sum;
    }

    // ---- namespace ----

    /** Creates a vdisk in the namespace and on every placement group. */
    public VdiskRecord createVdisk(String name, long sizeBytes, int blockSizeBytes, int grainSizeBytes) {
        VdiskRecord v = vdiskResult(metaWrite(new MetaCommand.CreateVdisk(name, sizeBytes, blockSizeBytes, grainSizeBytes,
                System.currentTimeMillis())));
        ensureOnAllPgs(v);
        return v;
    }

    public VdiskRecord createVdisk(String name, long sizeBytes) {
        return createVdisk(name, sizeBytes, 512, 4096);
    }

    public Optional<VdiskRecord> vdisk(String name) {
        MetaResult r = MetaCodec.decodeResult(metaRead(new MetaQuery.VdiskByName(name)));
        return r instanceof MetaResult.VdiskChanged v ? Optional.of(v.vdisk()) : Optional.empty();
    }

    public List<VdiskRecord> vdisks() {
        return MetaQuery.decodeList(metaRead(new MetaQuery.ListVdisks()));
    }

    /**
     * Opens vdisk {@code name} as a block device ({@code name@snap}: a snapshot, read-only).
     * Re-sends the (idempotent) creation to every PG first, which completes a creation that an
     * earlier client left half done.
     */
    public ClusterVdisk open(String name) {
        int at = name.indexOf('@');
        if (at >= 0) {
            return openSnapshot(name.substring(0, at), name.substring(at + 1));
        }
        VdiskRecord v = existing(name);
        Optional<String> unfinished = v.unfinishedRollback();
        if (unfinished.isPresent()) {
            throw new BlockDeviceException(BlockDeviceException.Kind.UNAVAILABLE, unfinished.get());
        }
        ensureOnAllPgs(v);
        return new ClusterVdisk(this, v);
    }

    /**
     * Opens vdisk {@code name} for writing under a lock: every mutation carries the token
     * {@code token} gives when it is sent, and is sent only while {@code hold} says
     * {@link io.basalt.lock.HoldState#HELD} (see {@link ClusterVdisk}).
     */
    public ClusterVdisk open(String name, java.util.function.LongSupplier token, java.util.function.Supplier<io.basalt.lock.HoldState> hold) {
        ClusterVdisk head = open(name);
        return new ClusterVdisk(this, head.record(), null, token, hold);
    }

    /** Opens {@code name} under {@code session}'s lock on it (take it with {@link ClusterLocks#acquireAndFence}). */
    public ClusterVdisk open(String name, io.basalt.lock.HostSessionClient session) {
        return open(name, () -> session.token(name).orElse(0), () -> session.hold(name));
    }

    /** Opens snapshot {@code vdisk@snap} as a read-only block device (for backups: read it while the head takes writes). */
    public ClusterVdisk openSnapshot(String vdisk, String snap) {
        return new ClusterVdisk(this, existing(vdisk), snap);
    }

    /**
     * Records snapshot {@code vdisk@snap} in the namespace, then freezes it on every PG. Crash
     * consistent for writes acknowledged before the call and not racing it: use
     * {@link ClusterVdisk#snapshot}, which drains and holds its own writes around this. If a PG
     * step fails, calling again completes it (the PG steps are idempotent).
     */
    public VdiskRecord createSnapshot(String vdisk, String snap) {
        return createSnapshot(vdisk, snap, OPERATOR_SNAPSHOT);
    }

    /**
     * The token of an operator's snapshot ({@code basalt snap create}, no lock held): taken whatever
     * the fence, because a snapshot changes no data; the PGs take it unfenced (as the engine's
     * {@code VdiskStore.createSnapshot(name, snap)}).
     */
    static final long OPERATOR_SNAPSHOT = 0;

    /**
     * As {@link #createSnapshot(String, String)} by the writer of fencing token {@code token}
     * (refused, recording nothing, below the fence); token {@link #OPERATOR_SNAPSHOT} is an
     * operator's snapshot, not fenced.
     */
    public VdiskRecord createSnapshot(String vdisk, String snap, long token) {
        if (token != OPERATOR_SNAPSHOT) {
            locks.checkToken(vdisk, token);
        }
        VdiskRecord v;
        try {
            v = vdiskResult(metaWrite(new MetaCommand.CreateSnapshot(vdisk, snap, System.currentTimeMillis())));
        } catch (IllegalArgumentException e) {
            // Already recorded by an earlier, interrupted call: finish its PG steps.
            v = vdisk(vdisk).filter(x -> x.snapshot(snap).isPresent()).orElseThrow(() -> e);
        }
        List<CompletableFuture<PgResult>> results = new ArrayList<>();
        for (PgChannel pg : pgs) {
            results.add(pg.submit(new PgOp.Snapshot(v.id(), snap, token)));
        }
        checkAll(results, "snapshot " + vdisk + "@" + snap);
        return v;
    }

    /** Creates {@code child} as a linked clone of {@code parent@snap}: O(1) on every PG. */
    public VdiskRecord cloneVdisk(String parent, String snap, String child) {
        VdiskRecord c = vdiskResult(metaWrite(new MetaCommand.CloneVdisk(parent, snap, child, System.currentTimeMillis())));
        ensureOnAllPgs(c);
        return c;
    }

    /**
     * Removes vdisk {@code name}: refused (nothing removed) while it has snapshots or clones.
     * Every PG drops its grains first, then the namespace forgets it, so a failure part way
     * leaves the vdisk listed and {@code removeVdisk} again finishes the job.
     */
    public void removeVdisk(String name) {
        VdiskRecord v = existing(name);
        if (!v.snapshots().isEmpty()) {
            throw new IllegalArgumentException("vdisk " + name + " has " + v.snapshots().size() + " snapshots ("
                    + String.join(", ", v.snapshots().stream().map(VdiskRecord.SnapshotRecord::name).toList())
                    + "); remove them first: basalt snap purge " + name);
        }
        List<String> clones = clonesOf(v, null);
        if (!clones.isEmpty()) {
            throw new IllegalArgumentException("vdisk " + name + " has clones " + clones + "; remove them first");
        }
        if (locks.lock(name).filter(l -> !l.holders().isEmpty()).isPresent()) {
            throw new IllegalArgumentException("vdisk " + name + " is locked by " + locks.lock(name).orElseThrow().holders()
                    + "; release or break the lock first");
        }
        checkAll(onEveryPg(new PgOp.RemoveVdisk(v.id())), "remove " + name);
        vdiskResult(metaWrite(new MetaCommand.RemoveVdisk(name)));
    }

    /**
     * Removes snapshot {@code vdisk@snap}, on every PG first and then in the namespace (so a
     * failure part way leaves it listed; calling again finishes). Each PG applies it as a
     * metadata change; the space only the snapshot held is collected by every replica in the
     * background afterwards. Refused while it has clones.
     */
    public VdiskRecord removeSnapshot(String vdisk, String snap) {
        VdiskRecord v = existing(vdisk);
        snapshotOf(v, snap);
        List<String> clones = clonesOf(v, snap);
        if (!clones.isEmpty()) {
            throw new IllegalArgumentException("snapshot " + vdisk + "@" + snap + " has clones " + clones + "; remove them first");
        }
        if (v.rollingBackTo().equals(Optional.of(snap))) {
            // Checked here, before the PGs drop it: the namespace would refuse only afterwards.
            throw new IllegalArgumentException(v.unfinishedRollback().orElseThrow());
        }
        checkAll(onEveryPg(new PgOp.RemoveSnapshot(v.id(), snap)), "remove snapshot " + vdisk + "@" + snap);
        return vdiskResult(metaWrite(new MetaCommand.RemoveSnapshot(vdisk, snap)));
    }

    /**
     * Makes clone {@code name} independent of its parent: every PG copies the grains it still
     * reads from the parent (one log entry per PG, applied on every replica; the PG's other I/O
     * waits meanwhile, so this suits clones of small templates), then the namespace drops the
     * link. {@code progress} hears after each PG how many of them are done. A failure part way is
     * finished by calling again.
     */
    public VdiskRecord flatten(String name, java.util.function.IntConsumer progress) {
        VdiskRecord v = existing(name);
        if (v.parent().isEmpty()) {
            throw new IllegalArgumentException("vdisk " + name + " is not a clone; nothing to flatten");
        }
        for (int pg = 0; pg < pgs.length; pg++) {
            PgResult r = await(pgs[pg].submit(new PgOp.Flatten(v.id())), "flatten " + name + " on pg-" + pg);
            checked(r, "flatten " + name, pg);
            progress.accept(pg + 1);
        }
        return vdiskResult(metaWrite(new MetaCommand.FlattenVdisk(name)));
    }

    /**
     * Makes {@code vdisk} read as snapshot {@code snap} again, on every PG, and records the
     * snapshot's size. The PGs roll back one entry each, so not at once: stop the vdisk's writers
     * first (as with {@code rbd snap rollback}). The namespace marks the rollback as under way
     * before the first PG and clears the mark after the last, so one a failure cut short is
     * visible ({@link VdiskRecord#rollingBackTo()}), the vdisk is not opened for I/O, snapshotted
     * or its target removed until it is finished, and calling again finishes it.
     */
    public VdiskRecord rollback(String vdisk, String snap) {
        VdiskRecord v = existing(vdisk);
        snapshotOf(v, snap);
        vdiskResult(metaWrite(new MetaCommand.BeginRollback(vdisk, snap)));
        try {
            checkAll(onEveryPg(new PgOp.Rollback(v.id(), snap)), "rollback " + vdisk + "@" + snap);
        } catch (BlockDeviceException e) {
            throw new BlockDeviceException(e.kind(), "rollback " + vdisk + "@" + snap + " unfinished (run it again to finish it;"
                    + " until then " + vdisk + " is not opened): " + e.getMessage(), e);
        }
        return vdiskResult(metaWrite(new MetaCommand.EndRollback(vdisk, snap)));
    }

    /** Space of {@code name} summed over the PGs: provisioned (its size), used at head, stored with snapshots. */
    public Usage usage(String name) {
        VdiskRecord v = existing(name);
        long used = 0;
        long stored = 0;
        long versions = 0;
        for (PgResult r : answers(onEveryPg(new PgOp.Space(v.id())), "usage of " + name)) {
            PgResult.Space q = (PgResult.Space) r;
            used += q.usedBytes();
            stored += q.storedBytes();
            versions += q.versionCount();
        }
        return new Usage(v.sizeBytes(), Math.min(used, v.sizeBytes()), stored, versions);
    }

    /**
     * The extents of {@code name} changed after {@code fromSnap} (null: the beginning) up to
     * {@code toSnap} (null: the head), merged from every PG in offset order, as {@code rbd diff}.
     */
    public List<Extent> diff(String name, String fromSnap, String toSnap) {
        VdiskRecord v = existing(name);
        for (String snap : new String[] {fromSnap, toSnap}) {
            if (snap != null) {
                snapshotOf(v, snap);
            }
        }
        List<Extent> all = new ArrayList<>();
        for (PgResult r : answers(onEveryPg(new PgOp.Diff(v.id(), fromSnap == null ? "" : fromSnap, toSnap == null ? "" : toSnap)),
                "diff of " + name)) {
            all.addAll(((PgResult.Extents) r).extents());
        }
        return ExtentMerge.merge(all);
    }

    /** Snapshot {@code snap} of {@code v}, or an error naming it and the snapshots there are. */
    private static VdiskRecord.SnapshotRecord snapshotOf(VdiskRecord v, String snap) {
        return v.snapshot(snap).orElseThrow(() -> new IllegalArgumentException("snapshot: " + v.name() + "@" + snap + " (expected: one of "
                + v.snapshots().stream().map(VdiskRecord.SnapshotRecord::name).toList() + ")"));
    }

    /** Each PG's answer to a query sent to all of them, in PG order; a refusal or failure throws, naming the PG. */
    private List<PgResult> answers(List<CompletableFuture<PgResult>> parts, String what) {
        List<PgResult> out = new ArrayList<>(parts.size());
        for (int pg = 0; pg < parts.size(); pg++) {
            out.add(checked(await(parts.get(pg), what + " on pg-" + pg), what, pg));
        }
        return out;
    }

    private VdiskRecord existing(String name) {
        return vdisk(name).orElseThrow(() -> new IllegalArgumentException("vdisk: " + name + " (expected: an existing vdisk)"));
    }

    /** Names of the vdisks cloned from {@code v} (from snapshot {@code snap}, or any when null). */
    private List<String> clonesOf(VdiskRecord v, String snap) {
        return vdisks().stream()
                .filter(c -> c.parent().filter(p -> p.vdiskId() == v.id() && (snap == null || p.snapName().equals(snap))).isPresent())
                .map(VdiskRecord::name).toList();
    }

    private List<CompletableFuture<PgResult>> onEveryPg(PgOp op) {
        List<CompletableFuture<PgResult>> results = new ArrayList<>();
        for (PgChannel pg : pgs) {
            results.add(pg.submit(op));
        }
        return results;
    }

    private static PgResult checked(PgResult r, String what, int pg) {
        if (r instanceof PgResult.Failed f) {
            if (f.kind() == null) {
                throw new IllegalArgumentException(what + " on pg-" + pg + ": " + f.message());
            }
            throw new BlockDeviceException(f.kind(), what + " on pg-" + pg + ": " + f.message());
        }
        return r;
    }

    private void checkAll(List<CompletableFuture<PgResult>> results, String what) {
        for (int pg = 0; pg < results.size(); pg++) {
            PgResult r = await(results.get(pg), what + " on pg-" + pg);
            if (r instanceof PgResult.Fenced f) { // "vdisk" names the step: the vdisk's name is in it
                throw new io.basalt.vdisk.FencedException(what + " on pg-" + pg, f.token(), f.fence());
            }
            if (r instanceof PgResult.Failed f) {
                throw new BlockDeviceException(f.kind() == null ? BlockDeviceException.Kind.IO : f.kind(),
                        what + " on pg-" + pg + ": " + f.message());
            }
        }
    }

    /** Records a new size in the namespace, after every PG took it. */
    VdiskRecord recordResize(String name, long newSizeBytes) {
        return vdiskResult(metaWrite(new MetaCommand.ResizeVdisk(name, newSizeBytes)));
    }

    private void ensureOnAllPgs(VdiskRecord v) {
        long parentId = v.parent().map(VdiskRecord.ParentLink::vdiskId).orElse(0L);
        String parentSnap = v.parent().map(VdiskRecord.ParentLink::snapName).orElse("");
        List<CompletableFuture<PgResult>> results = new ArrayList<>();
        for (PgChannel pg : pgs) {
            results.add(pg.submit(new PgOp.CreateVdisk(v.id(), v.sizeBytes(), v.blockSizeBytes(), v.grainSizeBytes(), parentId, parentSnap)));
        }
        checkAll(results, "create " + v.name());
    }

    // ---- meta group plumbing ----

    ByteBuffer metaWrite(MetaCommand c) {
        Message m = message(MetaCodec.encode(c));
        long deadline = System.nanoTime() + config.tuning().ioTimeout().toNanos();
        return metaCall(meta.send(client -> client.async().send(m), LeaderRetry.STEPPING_DOWN, deadline), "meta " + c.getClass().getSimpleName());
    }

    ByteBuffer metaRead(MetaQuery q) {
        Message m = message(MetaQuery.encode(q));
        long deadline = System.nanoTime() + config.tuning().ioTimeout().toNanos();
        return metaCall(meta.send(c -> c.async().sendReadOnly(m), LeaderRetry.READ, deadline), "meta query " + q.getClass().getSimpleName());
    }

    private ByteBuffer metaCall(CompletableFuture<RaftClientReply> f, String what) {
        RaftClientReply reply = await(f, what);
        if (!reply.isSuccess()) {
            throw new BlockDeviceException(BlockDeviceException.Kind.IO, what + " refused: " + reply.getException(), reply.getException());
        }
        ByteBuffer content = reply.getMessage().getContent().asReadOnlyByteBuffer();
        if (io.basalt.cluster.raft.LostResult.is(content)) {
            throw io.basalt.cluster.raft.LostResult.exception(what);
        }
        return content;
    }

    private static VdiskRecord vdiskResult(ByteBuffer bytes) {
        return switch (MetaCodec.decodeResult(bytes)) {
            case MetaResult.VdiskChanged v -> v.vdisk();
            case MetaResult.Rejected r -> throw new IllegalArgumentException(r.message());
            case MetaResult r -> throw new IllegalStateException("meta answered " + r + " (expected: a vdisk)");
        };
    }

    private static Message message(byte[] bytes) {
        return Message.valueOf(UnsafeByteOperations.unsafeWrap(bytes));
    }

    <T> T await(CompletableFuture<T> f, String what) {
        long ms = config.tuning().ioTimeout().toMillis();
        try {
            return f.get(ms, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockDeviceException(BlockDeviceException.Kind.UNAVAILABLE, what + ": interrupted", e);
        } catch (TimeoutException e) {
            throw new BlockDeviceException(BlockDeviceException.Kind.TRANSIENT, what + ": no quorum or no leader within " + ms + " ms", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new BlockDeviceException(BlockDeviceException.Kind.UNAVAILABLE, what + ": " + e.getCause(), e.getCause());
        }
    }

    @Override
    public void close() {
        List<RuntimeException> failures = new ArrayList<>();
        for (PgChannel pg : pgs) {
            try {
                pg.close();
            } catch (RuntimeException e) {
                failures.add(e);
            }
        }
        try {
            meta.close();
        } catch (RuntimeException e) {
            failures.add(e);
        }
        if (!failures.isEmpty()) {
            RuntimeException first = failures.get(0);
            failures.subList(1, failures.size()).forEach(first::addSuppressed);
            throw first;
        }
    }
}
