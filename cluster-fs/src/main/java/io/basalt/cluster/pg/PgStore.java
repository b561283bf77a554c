package io.basalt.cluster.pg;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;

import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.FencedException;
import io.basalt.vdisk.store.EntryBatch;
import io.basalt.vdisk.store.StoreException;
import io.basalt.vdisk.store.Vdisk;
import io.basalt.vdisk.store.VdiskInfo;
import io.basalt.vdisk.store.VdiskStore;

/**
 * One placement group's data: a {@link VdiskStore} in its own directory, in which cluster vdisk
 * {@code X} is the engine vdisk {@code vX} of the full size (thin, so this PG stores only the
 * grains placed on it). No Raft here: the state machine adapter feeds {@link #apply} the
 * committed entries in log order and serves {@link #query} on the leader.
 *
 * <p>Determinism: the ops of one entry are applied in order on the calling thread (Ratis's
 * state-machine updater). Writes and compare-and-writes are prepared into one
 * {@link EntryBatch} and committed with the applied index in a single RocksDB write; an op
 * touching a grain an earlier op of the entry changed, and any other op (unmap, write-zeroes,
 * namespace ops), first commits what is pending, so each op sees the ones before it. A refusal
 * that every replica makes the same way (bad address, missing vdisk, read-only) becomes a
 * {@link PgResult.Failed}; anything else (an I/O error, a checksum mismatch, a full disk) throws,
 * which stops the replica rather than letting it diverge.
 *
 * <p>Replay: an entry of writes and compare-and-writes that touch distinct grains is atomic with
 * its applied index, so a crash leaves it wholly applied and recorded, or not at all. An entry
 * that had to commit in parts may be partly present after a crash; it is applied again whole.
 * Writes, unmaps, write-zeroes, resizes and creates are idempotent. Compare-and-write is not
 * idempotent on its own, but replaying a whole entry from a prefix of its effects reaches the
 * same final state (a matched compare that already wrote finds its own data; the entry's later
 * ops are replayed after it); only the result of the replayed compare may differ, and nobody
 * waits for it: the client of a crashed leader sees a retry, not that result. The same holds for
 * a fence raised part way through such an entry ({@link PgOp.RaiseFence}): replayed, the ops
 * before it may now be refused, but what they wrote is already there.
 *
 * <p>Fencing: every {@link PgOp.FencedMutation} is checked against the vdisk's fence at its place
 * in the log ({@link PgFences}); a refusal is a {@link PgResult.Fenced} and changes nothing. The
 * engine's own gate checks the ops it runs itself (unmap, write-zeroes, snapshot) with the same
 * token once more; a fence is raised in the entry's batch, with the applied index.
 *
 * <p>The apply lock: {@link #apply} and {@link #markApplied} hold this object's monitor, so a
 * repair ({@link PgRepair}) that holds it sees no entry half applied and is ordered with them.
 */
public final class PgStore implements AutoCloseable {
    private final String logName;
    private final VdiskStore store;
    /** Client sessions kept per PG; beyond this the one idle longest (in log order) is forgotten. */
    public static final int SESSIONS_MAX = 1024;

    private final ConcurrentHashMap<Long, Vdisk> heads = new ConcurrentHashMap<>();
    /** Open read-only snapshot views by engine spec ({@code vX@snap}); closed before the snapshot or vdisk goes. */
    private final ConcurrentHashMap<String, Vdisk> snapshotViews = new ConcurrentHashMap<>();
    /**
     * Client sessions (see {@link ClientTag}): per client, the replies it may still ask for
     * again. Changed only by {@link #apply} (one thread, log order) and persisted with the applied
     * index, so every replica holds the same sessions at the same index, and so do its snapshots.
     */
    private final java.util.HashMap<java.util.UUID, Session> sessions = new java.util.HashMap<>();
    /**
     * The key of the format version (one byte) of this state machine's own records in the engine
     * (the sessions below, their kept replies encoded by {@link PgCodec}); snapshots are
     * checkpoints of the engine and carry it. A store without it was written before it had one,
     * in the layout of version 1; it gets the record with the first session written. A store of
     * a version this code does not read is refused when it is opened, naming both versions; a
     * node of a version before this record refuses it too, as an unknown record.
     */
    private static final byte[] FORMAT_KEY = {'F'};
    /** The format of this state machine's records that this code writes and reads. */
    static final int FORMAT_VERSION = 1;
    /** The format record is in the store (read at open, or put in an entry's batch since). */
    private boolean formatRecorded;

    /** One client's session: the log index that last touched it, its acked mark and its kept replies by seq. */
    private static final class Session {
        long lastIndex;
        long acked;
        final java.util.TreeMap<Long, byte[]> replies = new java.util.TreeMap<>();

        byte[] encode() {
            int bytes = 24;
            for (byte[] r : replies.values()) {
                bytes += 12 + r.length;
            }
            io.basalt.cluster.Wire.Out out = new io.basalt.cluster.Wire.Out(bytes).i64(lastIndex).i64(acked).i32(replies.size());
            for (var e : replies.entrySet()) {
                out.i64(e.getKey()).bytes(java.nio.ByteBuffer.wrap(e.getValue()));
            }
            return out.toByteArray();
        }

        static Session decode(byte[] bytes) {
            io.basalt.cluster.Wire.In in = new io.basalt.cluster.Wire.In(java.nio.ByteBuffer.wrap(bytes));
            Session s = new Session();
            s.lastIndex = in.i64();
            s.acked = in.i64();
            int n = in.i32();
            for (int i = 0; i < n; i++) {
                long seq = in.i64();
                java.nio.ByteBuffer r = in.bytes();
                byte[] copy = new byte[r.remaining()];
                r.get(copy);
                s.replies.put(seq, copy);
            }
            in.end("client session");
            return s;
        }
    }

    private final PgFences fences;

    private PgStore(String logName, VdiskStore store) {
        this.logName = logName;
        this.store = store;
        this.fences = new PgFences(logName);
        java.util.Map<java.nio.ByteBuffer, byte[]> records = new java.util.HashMap<>();
        store.forEachLogRecord(logName, (key, value) -> records.put(java.nio.ByteBuffer.wrap(key), value));
        byte[] format = records.remove(java.nio.ByteBuffer.wrap(FORMAT_KEY));
        checkFormat(format);
        formatRecorded = format != null;
        records.forEach((key, value) -> sessions.put(sessionId(key.array()), Session.decode(value)));
    }

    /** Refuses records of a format version this code does not read (null: none recorded yet, version 1). */
    private void checkFormat(byte[] format) {
        if (format == null) {
            return;
        }
        if (format.length != 1) {
            throw new IllegalStateException(logName + ": format record of " + format.length + " bytes (expected: 1)");
        }
        if ((format[0] & 0xFF) != FORMAT_VERSION) {
            throw new IllegalStateException(logName + " state-machine records: format version " + (format[0] & 0xFF)
                    + " (this node reads: " + FORMAT_VERSION + ")");
        }
    }

    private static byte[] sessionKey(java.util.UUID id) {
        return java.nio.ByteBuffer.allocate(17).put((byte) 'S').putLong(id.getMostSignificantBits()).putLong(id.getLeastSignificantBits()).array();
    }

    private java.util.UUID sessionId(byte[] key) {
        if (key.length != 17 || key[0] != 'S') {
            throw new IllegalStateException(logName + ": unknown state-machine record " + java.util.HexFormat.of().formatHex(key));
        }
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(key, 1, 16);
        return new java.util.UUID(b.getLong(), b.getLong());
    }

    /** Client sessions held, for tests and diagnostics. */
    public int sessionCount() {
        return sessions.size();
    }

    /**
     * Opens (or creates) the store of placement group {@code pg} in {@code dir}. Without the
     * engine's own space reserve: every replica must apply an entry alike, so the group's leader
     * refuses data entries before they are logged ({@code DiskReserve}) and a replica never does.
     */
    public static PgStore open(Path dir, int pg, VdiskStore.Options options) {
        VdiskStore engine = VdiskStore.open(dir, options.withReserveBytes(0).withExtents(false));
        try {
            return new PgStore("pg-" + pg, engine);
        } catch (RuntimeException e) {
            engine.close(); // records it refuses (a format it does not read): leave the store unlocked
            throw e;
        }
    }

    public static String engineName(long vdiskId) {
        return "v" + vdiskId;
    }

    public Path directory() {
        return store.directory();
    }

    /** The last entry applied, or -1. */
    public long appliedIndex() {
        return store.appliedIndex(logName);
    }

    /** The engine, for diagnostics and tests. */
    public VdiskStore engine() {
        return store;
    }

    /**
     * Applies the entry at log index {@code index}: one result per op, in order.
     *
     * @throws IllegalStateException when {@code index} is not after the applied index
     */
    public List<PgResult> apply(long index, List<PgOp> ops) {
        return apply(index, null, ops);
    }

    /**
     * As {@link #apply(long, List)}, for an entry sent by the client session of {@code tag}
     * (null: untagged). An entry of a session applied before is not applied again: its kept
     * reply is returned. One the client no longer waits for (numbered at or below its acked
     * mark) is not applied either, and gets a failure nobody reads.
     */
    public synchronized List<PgResult> apply(long index, ClientTag tag, List<PgOp> ops) {
        long applied = appliedIndex();
        if (index <= applied) {
            throw new IllegalStateException(logName + " apply at index " + index + " (expected: > applied " + applied + ")");
        }
        try (EntryBatch batch = store.entryBatch(logName)) {
            Session session = tag == null ? null : sessions.get(tag.session());
            List<PgResult> results = null;
            if (session != null && tag.seq() <= session.acked) {
                results = java.util.Collections.nCopies(ops.size(), new PgResult.Failed(null,
                        "entry " + tag.seq() + " of client " + tag.session() + " arrived again after the client gave it up; not applied"));
            } else if (session != null && session.replies.containsKey(tag.seq())) {
                results = PgCodec.decodeResults(java.nio.ByteBuffer.wrap(session.replies.get(tag.seq())));
            }
            boolean duplicate = results != null;
            if (!duplicate) {
                results = new ArrayList<>(ops.size());
                for (PgOp op : ops) {
                    results.add(applyOne(batch, op));
                }
            }
            if (tag != null) {
                recordSession(batch, index, tag, duplicate ? null : results);
            }
            batch.commit(index);
            return results;
        }
    }

    /**
     * The encoded reply kept for the entry of {@code tag}, if its session still keeps it: from
     * the entry's first apply until the client's acked mark passes it (or the session is
     * forgotten). Same thread as {@link #apply}.
     */
    public java.util.Optional<java.nio.ByteBuffer> keptReply(ClientTag tag) {
        Session s = tag == null ? null : sessions.get(tag.session());
        byte[] reply = s == null ? null : s.replies.get(tag.seq());
        return reply == null ? java.util.Optional.empty() : java.util.Optional.of(java.nio.ByteBuffer.wrap(reply).asReadOnlyBuffer());
    }

    /** Updates (and persists in {@code batch}) the session of {@code tag}; {@code results} null for a duplicate. */
    private void recordSession(EntryBatch batch, long index, ClientTag tag, List<PgResult> results) {
        Session s = sessions.get(tag.session());
        if (s == null) {
            if (sessions.size() >= SESSIONS_MAX) {
                var idlest = sessions.entrySet().stream().min(java.util.Comparator.comparingLong(e -> e.getValue().lastIndex)).orElseThrow();
                sessions.remove(idlest.getKey());
                batch.deleteLogRecord(sessionKey(idlest.getKey()));
            }
            s = new Session();
            sessions.put(tag.session(), s);
        }
        if (!formatRecorded) {
            batch.putLogRecord(FORMAT_KEY, new byte[] {FORMAT_VERSION});
            formatRecorded = true;
        }
        s.lastIndex = index;
        s.acked = Math.max(s.acked, tag.acked());
        s.replies.headMap(s.acked, true).clear();
        if (results != null && tag.seq() > s.acked) {
            s.replies.put(tag.seq(), PgCodec.encodeResults(results));
        }
        batch.putLogRecord(sessionKey(tag.session()), s.encode());
    }

    /**
     * Writes and compare-and-writes go into the entry's batch on this thread; any other op
     * first commits what the batch holds, then runs on its own.
     */
    private PgResult applyOne(EntryBatch batch, PgOp op) {
        try {
            switch (op) {
                case PgOp.Write w -> {
                    Vdisk v = head(w.vdiskId());
                    PgResult refused = v == null ? missing(w.vdiskId()) : fences.check(batch, v, w.vdiskId(), w.token());
                    if (refused != null) {
                        return refused;
                    }
                    batch.write(v, w.lba(), w.data());
                    return done();
                }
                case PgOp.CompareAndWrite c -> {
                    Vdisk v = head(c.vdiskId());
                    PgResult refused = v == null ? missing(c.vdiskId()) : fences.check(batch, v, c.vdiskId(), c.token());
                    if (refused != null) {
                        return refused;
                    }
                    return new PgResult.Compared(batch.compareAndWrite(v, c.lba(), c.expected(), c.data()));
                }
                case PgOp.RaiseFence f -> {
                    Vdisk v = head(f.vdiskId());
                    if (v == null) {
                        return missing(f.vdiskId());
                    }
                    batch.raiseFence(v, f.fence());
                    return done();
                }
                default -> {
                    // An operator's snapshot (token 0, no lock held) is taken whatever the fence: it changes no data.
                    boolean operatorSnapshot = op instanceof PgOp.Snapshot s && s.token() == 0;
                    Vdisk v = op instanceof PgOp.FencedMutation && !operatorSnapshot ? head(op.vdiskId()) : null;
                    PgResult refused = v == null ? null : fences.check(batch, v, op.vdiskId(), ((PgOp.FencedMutation) op).token());
                    if (refused != null) {
                        return refused;
                    }
                    batch.flush();
                    return start(op).join();
                }
            }
        } catch (RuntimeException e) {
            return refusalOrThrow(unwrap(e));
        }
    }

    /** Serves read-only ops against the current state. */
    public CompletableFuture<List<PgResult>> query(List<PgOp> ops) {
        List<CompletableFuture<PgResult>> results = new ArrayList<>(ops.size());
        for (PgOp op : ops) {
            results.add(switch (op) {
                // A read's failure is its result (a checksum mismatch: CORRUPTION, never the bytes), not a replica failure.
                // An idle vdisk reads small I/O on this thread, so a failure may be thrown here rather than completed: both are the result.
                case PgOp.Read r -> readOutcome(() -> withHead(r.vdiskId(), v -> v.read(r.lba(), r.blockCount()).<PgResult>thenApply(PgResult.Data::new)
                        .handle((x, ex) -> ex == null ? x : queryOutcome(null, ex))));
                case PgOp.LbaStatus s -> withHead(s.vdiskId(), v -> v.getLbaStatus(s.lba(), s.blockCountMax()).thenApply(PgResult.Status::new));
                case PgOp.ReadSnapshot r -> {
                    Vdisk view;
                    try {
                        view = snapshotView(r.vdiskId(), r.snapName());
                    } catch (RuntimeException e) {
                        yield CompletableFuture.completedFuture(queryOutcome(null, e));
                    }
                    yield view == null ? CompletableFuture.completedFuture(missing(r.vdiskId()))
                            : view.read(r.lba(), r.blockCount()).<PgResult>thenApply(PgResult.Data::new).handle((x, ex) -> ex == null ? x : queryOutcome(null, ex));
                }
                case PgOp.Space q -> engineQuery(q.vdiskId(), name -> {
                    var u = store.usage(name);
                    return new PgResult.Space(u.usedBytes(), u.storedBytes(), u.versionCount());
                });
                case PgOp.Diff d -> engineQuery(d.vdiskId(), name -> new PgResult.Extents(
                        store.diff(name, d.fromSnap().isEmpty() ? null : d.fromSnap(), d.toSnap().isEmpty() ? null : d.toSnap())));
                default -> CompletableFuture.completedFuture(new PgResult.Failed(null, "not a query: " + op.getClass().getSimpleName()));
            });
        }
        return CompletableFuture.allOf(results.toArray(CompletableFuture[]::new))
                .handle((ok, ex) -> results.stream().map(f -> f.handle(PgStore::queryOutcome).join()).toList());
    }

    /** The read-only view of {@code vdiskId@snapName}, opened once; null when the vdisk is not here. */
    private Vdisk snapshotView(long vdiskId, String snapName) {
        String name = engineName(vdiskId);
        if (!store.exists(name)) {
            return null;
        }
        return snapshotViews.computeIfAbsent(name + "@" + snapName, store::open);
    }

    /** Closes the cached views of {@code vdiskId} (one snapshot, or all when {@code snapName} is null). */
    private void closeSnapshotViews(long vdiskId, String snapName) {
        String prefix = engineName(vdiskId) + "@";
        for (var it = snapshotViews.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (e.getKey().startsWith(prefix) && (snapName == null || e.getKey().equals(prefix + snapName))) {
                it.remove();
                e.getValue().close();
            }
        }
    }

    /** Runs an engine query on the vdisk's engine name; a missing vdisk or a refusal becomes a failure. */
    private CompletableFuture<PgResult> engineQuery(long vdiskId, java.util.function.Function<String, PgResult> body) {
        String name = engineName(vdiskId);
        if (!store.exists(name)) {
            return CompletableFuture.completedFuture(missing(vdiskId));
        }
        try {
            return CompletableFuture.completedFuture(body.apply(name));
        } catch (RuntimeException e) {
            return CompletableFuture.completedFuture(queryOutcome(null, e));
        }
    }

    /**
     * Records that entries up to {@code index} are applied although none of them reached
     * {@link #apply} (they were Raft's own entries). Never moves the index backwards.
     */
    public synchronized void markApplied(long index) {
        long applied = appliedIndex();
        if (index < applied) {
            throw new IllegalStateException(logName + " mark applied " + index + " (expected: >= applied " + applied + ")");
        }
        store.recordAppliedIndex(logName, index);
    }

    /** Writes a consistent copy of the whole store (data and applied index) to {@code target}. */
    public void checkpoint(Path target) {
        store.checkpoint(target);
    }

    // ---- mutations ----

    private CompletableFuture<PgResult> start(PgOp op) {
        try {
            return switch (op) {
                case PgOp.CreateVdisk c -> CompletableFuture.completedFuture(createVdisk(c));
                case PgOp.Resize r -> {
                    store.resize(engineName(r.vdiskId()), r.newSizeBytes());
                    yield CompletableFuture.completedFuture(done());
                }
                case PgOp.Snapshot s -> {
                    String name = engineName(s.vdiskId());
                    boolean exists = store.snapshots(name).stream().anyMatch(x -> x.name().equals(s.snapName()));
                    if (!exists && s.token() == 0) {
                        store.createSnapshot(name, s.snapName());      // an operator's snapshot: not fenced, it changes no data
                    } else if (!exists) {
                        store.createSnapshot(name, s.snapName(), s.token());
                    }
                    yield CompletableFuture.completedFuture(done());
                }
                case PgOp.RemoveVdisk r -> CompletableFuture.completedFuture(removeVdisk(r.vdiskId()));
                case PgOp.RemoveSnapshot r -> {
                    String name = engineName(r.vdiskId());
                    if (store.exists(name) && store.snapshots(name).stream().anyMatch(x -> x.name().equals(r.snapName()))) {
                        closeSnapshotViews(r.vdiskId(), r.snapName());
                        store.removeSnapshot(name, r.snapName());
                    }
                    yield CompletableFuture.completedFuture(done());
                }
                case PgOp.Flatten f -> {
                    String name = engineName(f.vdiskId());
                    if (!store.exists(name)) {
                        yield CompletableFuture.completedFuture(missing(f.vdiskId()));
                    }
                    if (store.info(name).parent().isPresent()) {
                        store.flatten(name, grains -> { });
                    }
                    yield CompletableFuture.completedFuture(done());
                }
                case PgOp.Rollback r -> {
                    String name = engineName(r.vdiskId());
                    if (!store.exists(name)) {
                        yield CompletableFuture.completedFuture(missing(r.vdiskId()));
                    }
                    store.rollback(name, r.snapName());
                    yield CompletableFuture.completedFuture(done());
                }
                case PgOp.Write w -> withHead(w.vdiskId(), v -> v.withToken(w.token()).write(w.lba(), w.data(), false).thenApply(x -> new PgResult.Done()));
                case PgOp.Unmap u -> withHead(u.vdiskId(), v -> v.withToken(u.token()).unmap(u.lba(), u.blockCount()).thenApply(x -> new PgResult.Done()));
                case PgOp.WriteZeroes z -> withHead(z.vdiskId(),
                        v -> v.withToken(z.token()).writeZeroes(z.lba(), z.blockCount(), z.unmap()).thenApply(x -> new PgResult.Done()));
                case PgOp.CompareAndWrite c -> withHead(c.vdiskId(),
                        v -> v.withToken(c.token()).compareAndWrite(c.lba(), c.expected(), c.data()).thenApply(PgResult.Compared::new));
                case PgOp.RaiseFence f -> CompletableFuture.completedFuture(new PgResult.Failed(null, "RaiseFence outside an entry batch"));
                case PgOp.Query q -> CompletableFuture.completedFuture(new PgResult.Failed(null, q.getClass().getSimpleName() + " in a log entry"));
            };
        } catch (RuntimeException e) {
            return CompletableFuture.completedFuture(refusalOrThrow(e));
        }
    }

    private PgResult createVdisk(PgOp.CreateVdisk c) {
        String name = engineName(c.vdiskId());
        if (store.exists(name)) {
            VdiskInfo info = store.info(name);
            if (info.blockSizeBytes() != c.blockSizeBytes() || info.grainSizeBytes() != c.grainSizeBytes()) {
                return new PgResult.Failed(null, "vdisk " + name + " exists on " + logName + " with block/grain "
                        + info.blockSizeBytes() + "/" + info.grainSizeBytes() + " (expected: " + c.blockSizeBytes() + "/" + c.grainSizeBytes() + ")");
            }
            return done();
        }
        if (c.parentId() > 0) {
            store.clone(engineName(c.parentId()), c.parentSnap(), name);
            if (store.info(name).sizeBytes() != c.sizeBytes()) {
                store.resize(name, c.sizeBytes());
            }
        } else {
            store.create(name, c.sizeBytes(), c.blockSizeBytes(), c.grainSizeBytes());
        }
        return done();
    }

    /** Closes this PG's handle on the vdisk, then removes it; a vdisk already gone is done. */
    private PgResult removeVdisk(long vdiskId) {
        String name = engineName(vdiskId);
        if (!store.exists(name)) {
            return done();
        }
        Vdisk head = heads.remove(vdiskId);
        if (head != null) {
            head.close();
        }
        closeSnapshotViews(vdiskId, null);
        store.remove(name);
        return done();
    }

    private PgResult missing(long vdiskId) {
        return new PgResult.Failed(BlockDeviceException.Kind.UNAVAILABLE, "vdisk id " + vdiskId + " does not exist on " + logName);
    }

    private CompletableFuture<PgResult> withHead(long vdiskId, java.util.function.Function<Vdisk, CompletableFuture<PgResult>> body) {
        Vdisk v = head(vdiskId);
        if (v == null) {
            return CompletableFuture.completedFuture(missing(vdiskId));
        }
        return body.apply(v).handle((r, ex) -> ex == null ? r : refusalOrThrow(unwrap(ex)));
    }

    private Vdisk head(long vdiskId) {
        Vdisk v = heads.get(vdiskId);
        if (v != null) {
            return v;
        }
        String name = engineName(vdiskId);
        if (!store.exists(name)) {
            return null;
        }
        return heads.computeIfAbsent(vdiskId, id -> store.open(name));
    }

    // ---- outcomes ----

    /** A deterministic refusal becomes a result; anything else is fatal for this replica. */
    private PgResult refusalOrThrow(Throwable e) {
        if (e instanceof IllegalArgumentException) {
            return new PgResult.Failed(null, e.getMessage());
        }
        if (e instanceof StoreException) {
            return new PgResult.Failed(BlockDeviceException.Kind.IO, e.getMessage());
        }
        if (e instanceof BlockDeviceException b && b.kind() == BlockDeviceException.Kind.READ_ONLY) {
            return new PgResult.Failed(b.kind(), b.getMessage());
        }
        if (e instanceof FencedException f && f.vdisk().startsWith("v")) {
            // The engine's own gate (an op it runs itself): the same rule, at the same place in the log.
            return new PgResult.Fenced(Long.parseLong(f.vdisk().substring(1)), f.token(), f.fence());
        }
        throw new IllegalStateException(logName + ": engine failure while applying; stopping this replica: " + e, e);
    }

    private static CompletableFuture<PgResult> readOutcome(java.util.function.Supplier<CompletableFuture<PgResult>> read) {
        try {
            return read.get();
        } catch (RuntimeException e) {
            return CompletableFuture.completedFuture(queryOutcome(null, e));
        }
    }

    private static PgResult queryOutcome(PgResult r, Throwable ex) {
        if (ex == null) {
            return r;
        }
        Throwable e = unwrap(ex);
        BlockDeviceException.Kind kind = e instanceof BlockDeviceException b ? b.kind()
                : e instanceof IllegalArgumentException ? null : BlockDeviceException.Kind.IO;
        return new PgResult.Failed(kind, String.valueOf(e.getMessage()));
    }

    private static Throwable unwrap(Throwable e) {
        Throwable t = e;
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    private static PgResult done() {
        return new PgResult.Done();
    }

    @Override
    public void close() {
        for (Vdisk v : heads.values()) {
            v.close();
        }
        heads.clear();
        snapshotViews.values().forEach(Vdisk::close);
        snapshotViews.clear();
        store.close();
    }
}
