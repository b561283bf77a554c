package io.basalt.cluster.raft;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.SnapshotManagementRequest;
import org.apache.ratis.rpc.CallId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.statemachine.impl.FileListSnapshotInfo;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.apache.ratis.util.LifeCycle;

/**
 * The Ratis side of a state machine whose state is a RocksDB-backed domain store: parses
 * nothing itself, calls the subclass to apply an entry or serve a query, and owns the snapshot
 * life cycle (checkpoint, publish, restore after install).
 *
 * <p>Apply is synchronous on Ratis's state-machine updater thread, so entries take effect
 * strictly in log order and a snapshot (taken on the same thread) sees exactly the entries up
 * to its index. On restart Ratis replays from the latest snapshot; entries the store already
 * applied (index at or below its recorded applied index) are skipped, which is what makes the
 * store's own applied index, written with its data, the source of truth.
 *
 * <p>An exception thrown from {@link #applyEntry} propagates out of {@code applyTransaction}:
 * Ratis then stops this division (the replica stops rather than diverge).
 */
abstract class StoreStateMachine extends BaseStateMachine {
    /**
     * A snapshot (after which Ratis purges the log up to it) is also asked for once this many
     * log segments' worth of entry bytes were applied since the last one, not only every
     * {@code snapshotEveryEntries} entries: an entry carries up to 1 MiB, so 100,000 of them let
     * one PG's log grow to ~100 GB (seen: 2.6 GB per PG after 8 GB of 1 MiB writes, and a full
     * disk; docs/decisions/snapshots-by-log-bytes.md). 32 segments of 16 MiB (the default) is 512 MiB.
     */
    static final int SEGMENTS_PER_SNAPSHOT = 32;
    /** Where snapshot requests are sent from: not the updater thread, which takes the snapshot. */
    private static final java.util.concurrent.Executor SNAPSHOT_REQUESTS = java.util.concurrent.Executors.newSingleThreadExecutor(
            Thread.ofPlatform().daemon().name("basalt-snapshot-request").factory());

    /**
     * After a snapshot failed, how long the next ones are skipped: Ratis asks again after every
     * applied batch while the threshold is passed, and a disk that refused one checkpoint (full,
     * an I/O error) would otherwise be asked for one per batch.
     */
    static final java.time.Duration SNAPSHOT_RETRY_AFTER = java.time.Duration.ofSeconds(10);
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(StoreStateMachine.class);

    private final CheckpointStorage storage = new CheckpointStorage();
    private volatile long snapshotFailedAtNs;
    private volatile boolean snapshotFailed;
    private final java.util.concurrent.atomic.AtomicLong bytesSinceSnapshot = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicBoolean snapshotAsked = new java.util.concurrent.atomic.AtomicBoolean();
    private volatile RaftServer server;
    /** This group's log on this node, once known (see {@link #close()}). */
    private volatile org.apache.ratis.server.raftlog.RaftLog raftLog;
    private volatile long snapshotEveryLogBytes = Long.MAX_VALUE;
    /** Null: no check (the meta group, whose entries are tiny and which frees space too). */
    private final DiskReserve reserve;

    /** The node's free-space reserve; null where none is kept (tests, the meta group). */
    protected final DiskReserve reserve() {
        return reserve;
    }

    StoreStateMachine(DiskReserve reserve) {
        this.reserve = reserve;
    }

    /** Opens the domain store in {@code dir} (creating it when empty). */
    protected abstract void openStore(Path dir) throws IOException;

    protected abstract void closeStore();

    /** The last index the open store applied, or -1. */
    protected abstract long storeAppliedIndex();

    /**
     * Records that every entry up to {@code at} has been applied: called before a checkpoint,
     * because entries Ratis applies itself (configuration changes, a new leader's first entry)
     * never reach {@link #applyEntry} and the store's index would otherwise lag the snapshot's.
     */
    protected abstract void markStoreApplied(TermIndex at);

    protected abstract void checkpointStore(Path target);

    /**
     * The answer to an entry the store already holds, met again while the log is replayed after
     * a restart. Ratis keeps it in its retry cache, where a client that retries the same call
     * finds it; a state machine that kept the entry's result returns it, else
     * {@link LostResult#reply()}.
     */
    protected ByteBuffer replayedReply(ByteBuffer data) {
        return LostResult.reply();
    }

    /** Applies one committed entry (its index is above the store's applied index). */
    protected abstract ByteBuffer applyEntry(TermIndex at, ByteBuffer data);

    /**
     * Throws {@link io.basalt.cluster.Wire.DecodeException} for an entry {@link #applyEntry} could
     * not parse; else says whether applying it may take disk space (see {@link DiskReserve}).
     */
    protected abstract boolean validateEntry(ByteBuffer data);

    /** This group's name in errors, e.g. {@code pg-3 on node 2}. */
    protected abstract String describe();

    /** Serves a read-only request; runs concurrently with apply. */
    protected abstract CompletableFuture<ByteBuffer> queryStore(ByteBuffer request);

    @Override
    public void initialize(RaftServer server, RaftGroupId groupId, RaftStorage raftStorage) throws IOException {
        super.initialize(server, groupId, raftStorage);
        this.server = server;
        this.snapshotEveryLogBytes = SEGMENTS_PER_SNAPSHOT * RaftServerConfigKeys.Log.segmentSizeMax(server.getProperties()).getSize();
        getLifeCycle().transition(LifeCycle.State.STARTING);
        storage.init(raftStorage);
        loadStore();
        getLifeCycle().transition(LifeCycle.State.RUNNING);
    }

    /** Ratis pauses the state machine before it moves an installed snapshot into place. */
    @Override
    public void pause() {
        getLifeCycle().transition(LifeCycle.State.PAUSING);
        getLifeCycle().transition(LifeCycle.State.PAUSED);
    }

    /**
     * Opens the store, first restoring it from the latest snapshot when that snapshot is newer
     * than the store (a snapshot was installed, or the store is missing).
     */
    private void loadStore() throws IOException {
        Path dir = storage.storeDir();
        FileListSnapshotInfo snap = storage.getLatestSnapshot();
        if (snap != null && !Files.exists(dir)) {
            storage.restoreLatestInto(dir);
        }
        openStore(dir);
        if (snap != null && storeAppliedIndex() < snap.getIndex()) {
            closeStore();
            storage.restoreLatestInto(dir);
            openStore(dir);
            if (storeAppliedIndex() != snap.getIndex()) {
                throw new IllegalStateException(getId() + "@" + getGroupId() + ": snapshot " + snap.getTermIndex()
                        + " restored a store at applied index " + storeAppliedIndex() + " (expected: " + snap.getIndex() + ")");
            }
        }
        if (snap != null) {
            updateLastAppliedTermIndex(snap.getTermIndex());
        }
    }

    @Override
    public StateMachineStorage getStateMachineStorage() {
        return storage;
    }

    @Override
    public void reinitialize() throws IOException {
        // Called after a snapshot was installed (state machine paused): start over from it.
        getLifeCycle().transition(LifeCycle.State.STARTING);
        closeStore();
        storage.reload();
        loadStore();
        getLifeCycle().transition(LifeCycle.State.RUNNING);
    }

    /**
     * Refuses on the leader, before it is logged, an entry that could not be applied (a
     * malformed entry in the log would stop every replica), and one that takes space while the
     * node's disk is below its reserve ({@link NoSpaceException}).
     */
    @Override
    public TransactionContext startTransaction(RaftClientRequest request) throws IOException {
        TransactionContext trx = super.startTransaction(request);
        try {
            if (validateEntry(request.getMessage().getContent().asReadOnlyByteBuffer()) && reserve != null) {
                reserve.check(this::describe, this::replicaNodes);
            }
        } catch (RuntimeException | NoSpaceException e) {
            trx.setException(e);
        }
        return trx;
    }

    /** The node ids of this group's current peers. */
    private Collection<Integer> replicaNodes() {
        List<Integer> out = new ArrayList<>();
        try {
            for (var peer : server.getDivision(getGroupId()).getGroup().getPeers()) {
                RaftSetup.nodeIdOf(peer.getId()).ifPresent(out::add);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    private void rememberLog() {
        try {
            raftLog = server.getDivision(getGroupId()).getRaftLog();
        } catch (IOException | RuntimeException e) {
            // not registered yet: next entry
        }
    }

    @Override
    public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
        if (raftLog == null) {
            rememberLog();
        }
        var entry = trx.getLogEntry();
        TermIndex at = TermIndex.valueOf(entry);
        ByteBuffer data = entry.getStateMachineLogEntry().getLogData().asReadOnlyByteBuffer();
        ByteBuffer reply;
        try {
            reply = at.getIndex() <= storeAppliedIndex() ? replayedReply(data) : applyEntry(at, data);
        } catch (io.basalt.cluster.Wire.DecodeException e) {
            // An entry this replica cannot read (a format version it does not know, or corrupt
            // bytes) is never skipped: the replicas that read it would hold another state. It
            // stops this replica, as any exception thrown here does (see the class comment).
            throw new IllegalStateException(describe() + ": entry at index " + at.getIndex() + " cannot be applied, stopping: "
                    + e.getMessage(), e);
        }
        countLogBytes(entry.getSerializedSize());
        updateLastAppliedTermIndex(at);
        return CompletableFuture.completedFuture(Message.valueOf(UnsafeByteOperations.unsafeWrap(reply)));
    }

    @Override
    public CompletableFuture<Message> query(Message request) {
        return queryStore(request.getContent().asReadOnlyByteBuffer())
                .thenApply(b -> Message.valueOf(UnsafeByteOperations.unsafeWrap(b)));
    }

    /** Adds an applied entry's size; past {@link #SEGMENTS_PER_SNAPSHOT} segments' worth asks this replica's server for a snapshot, once. */
    private void countLogBytes(long bytes) {
        if (bytesSinceSnapshot.addAndGet(bytes) < snapshotEveryLogBytes || !snapshotAsked.compareAndSet(false, true)) {
            return;
        }
        RaftServer s = server;
        SNAPSHOT_REQUESTS.execute(() -> {
            try {
                // Creation gap 1: the configured gap counts entries, and a few hundred big ones are the point.
                s.snapshotManagementAsync(SnapshotManagementRequest.newCreate(ClientId.randomId(), s.getId(), getGroupId(),
                                CallId.getAndIncrement(), 60_000, 1))
                        .whenComplete((reply, e) -> snapshotAsked.set(false));
            } catch (RuntimeException e) {
                snapshotAsked.set(false); // asked again after the next entry
            }
        });
    }

    @Override
    public long takeSnapshot() throws IOException {
        bytesSinceSnapshot.set(0);
        TermIndex at = getLastAppliedTermIndex();
        if (at == null || at.getIndex() < 0) {
            return -1;
        }
        FileListSnapshotInfo current = storage.getLatestSnapshot();
        if (current != null && current.getIndex() >= at.getIndex()) {
            return current.getIndex();
        }
        if (storeAppliedIndex() > at.getIndex()) {
            // Replaying entries the store already holds (after a restart): a checkpoint now would
            // hold more than its label says. Take it once the replay has caught up.
            return current == null ? -1 : current.getIndex();
        }
        if (snapshotFailed && System.nanoTime() - snapshotFailedAtNs < SNAPSHOT_RETRY_AFTER.toNanos()) {
            return current == null ? -1 : current.getIndex(); // no new snapshot yet; the log keeps its entries
        }
        try {
            if (storeAppliedIndex() < at.getIndex()) {
                markStoreApplied(at);
            }
            Path tmp = storage.tmpDir(at.getIndex());
            checkpointStore(tmp);
            storage.publish(at, tmp);
            snapshotFailed = false;
            return at.getIndex();
        } catch (RuntimeException | IOException e) {
            // A checkpoint that failed leaves the replica whole: it goes on applying, its log is not
            // purged, and the snapshot is tried again later. Thrown out of here as anything but an
            // IOException, Ratis would close the replica (its StateMachineUpdater stops on it).
            snapshotFailed = true;
            snapshotFailedAtNs = System.nanoTime();
            log.warn("{}@{}: snapshot at index {} failed (the log is kept; trying again in {} s): {}", getId(), getGroupId(), at.getIndex(),
                    SNAPSHOT_RETRY_AFTER.toSeconds(), e.toString());
            throw e instanceof IOException io ? io : new IOException("snapshot at index " + at.getIndex() + " failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() throws IOException {
        // Ratis closes the state machine just before the group's log, whose close can otherwise
        // hang on the log's cache-eviction thread (LogEvictionStop). The division may already be
        // out of the server's map here (a group removal), hence the log remembered at apply.
        if (raftLog != null) {
            LogEvictionStop.stop(raftLog);
        }
        super.close();
        closeStore();
    }
}
