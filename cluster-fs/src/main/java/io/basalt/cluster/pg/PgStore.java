package io.basalt.cluster.pg;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;

import io.basalt.vdisk.BlockDeviceException;
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
 * <p>Determinism: the ops of one entry are applied in order; ops whose block ranges do not
 * overlap may run together on the engine's pool, but every op of an entry has finished before
 * the applied index is recorded and before the next entry starts. A refusal that every replica
 * makes the same way (bad address, missing vdisk, read-only) becomes a {@link PgResult.Failed};
 * anything else (an I/O error, a checksum mismatch, a full disk) throws, which stops the
 * replica rather than letting it diverge.
 *
 * <p>Replay: the applied index is recorded after an entry's data, in the same RocksDB WAL, so
 * after a crash at most the entry after it is partly present; it is applied again whole.
 * Writes, unmaps, write-zeroes, resizes and creates are idempotent. Compare-and-write is not
 * idempotent on its own, but replaying a whole entry from a prefix of its effects reaches the
 * same final state (a matched compare that already wrote finds its own data; the entry's later
 * ops are replayed after it); only the result of the replayed compare may differ, and nobody
 * waits for it: the client of a crashed leader sees a retry, not that result.
 */
public final class PgStore implements AutoCloseable {
    private final String logName;
    private final VdiskStore store;
    private final ConcurrentHashMap<Long, Vdisk> heads = new ConcurrentHashMap<>();

    private PgStore(String logName, VdiskStore store) {
        this.logName = logName;
        this.store = store;
    }

    /** Opens (or creates) the store of placement group {@code pg} in {@code dir}. */
    public static PgStore open(Path dir, int pg, VdiskStore.Options options) {
        return new PgStore("pg-" + pg, VdiskStore.open(dir, options));
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
        long applied = appliedIndex();
        if (index <= applied) {
            throw new IllegalStateException(logName + " apply at index " + index + " (expected: > applied " + applied + ")");
        }
        List<CompletableFuture<PgResult>> results = new ArrayList<>(ops.size());
        List<Range> inFlight = new ArrayList<>();
        List<CompletableFuture<PgResult>> pending = new ArrayList<>();
        for (PgOp op : ops) {
            Range range = Range.of(op, blockSizeOf(op.vdiskId()));
            if (range == null || range.overlapsAny(inFlight)) {
                joinAll(pending);
                inFlight.clear();
            }
            CompletableFuture<PgResult> f = start(op);
            results.add(f);
            pending.add(f);
            if (range != null) {
                inFlight.add(range);
            } else {
                joinAll(pending);
            }
        }
        joinAll(pending);
        store.recordAppliedIndex(logName, index);
        return results.stream().map(CompletableFuture::join).toList();
    }

    /** Serves read-only ops against the current state. */
    public CompletableFuture<List<PgResult>> query(List<PgOp> ops) {
        List<CompletableFuture<PgResult>> results = new ArrayList<>(ops.size());
        for (PgOp op : ops) {
            results.add(switch (op) {
                case PgOp.Read r -> withHead(r.vdiskId(), v -> v.read(r.lba(), r.blockCount()).thenApply(PgResult.Data::new));
                case PgOp.LbaStatus s -> withHead(s.vdiskId(), v -> v.getLbaStatus(s.lba(), s.blockCountMax()).thenApply(PgResult.Status::new));
                default -> CompletableFuture.completedFuture(new PgResult.Failed(null, "not a query: " + op.getClass().getSimpleName()));
            });
        }
        return CompletableFuture.allOf(results.toArray(CompletableFuture[]::new))
                .handle((ok, ex) -> results.stream().map(f -> f.handle(PgStore::queryOutcome).join()).toList());
    }

    /**
     * Records that entries up to {@code index} are applied although none of them reached
     * {@link #apply} (they were Raft's own entries). Never moves the index backwards.
     */
    public void markApplied(long index) {
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
                    if (!exists) {
                        store.createSnapshot(name, s.snapName());
                    }
                    yield CompletableFuture.completedFuture(done());
                }
                case PgOp.Write w -> withHead(w.vdiskId(), v -> v.write(w.lba(), w.data(), false).thenApply(x -> new PgResult.Done()));
                case PgOp.Unmap u -> withHead(u.vdiskId(), v -> v.unmap(u.lba(), u.blockCount()).thenApply(x -> new PgResult.Done()));
                case PgOp.WriteZeroes z -> withHead(z.vdiskId(), v -> v.writeZeroes(z.lba(), z.blockCount(), z.unmap()).thenApply(x -> new PgResult.Done()));
                case PgOp.CompareAndWrite c -> withHead(c.vdiskId(), v -> v.compareAndWrite(c.lba(), c.expected(), c.data()).thenApply(PgResult.Compared::new));
                case PgOp.Read r -> CompletableFuture.completedFuture(new PgResult.Failed(null, "read in a log entry"));
                case PgOp.LbaStatus s -> CompletableFuture.completedFuture(new PgResult.Failed(null, "lba status in a log entry"));
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

    private CompletableFuture<PgResult> withHead(long vdiskId, java.util.function.Function<Vdisk, CompletableFuture<PgResult>> body) {
        Vdisk v = head(vdiskId);
        if (v == null) {
            return CompletableFuture.completedFuture(new PgResult.Failed(BlockDeviceException.Kind.UNAVAILABLE,
                    "vdisk id " + vdiskId + " does not exist on " + logName));
        }
        return body.apply(v).handle((r, ex) -> ex == null ? r : refusalOrThrow(unwrap(ex)));
    }

    /** 512 when the vdisk is missing: the op will be refused anyway, and a smaller unit only orders more. */
    private int blockSizeOf(long vdiskId) {
        Vdisk v = head(vdiskId);
        return v == null ? 512 : v.logicalBlockSizeBytes();
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
        throw new IllegalStateException(logName + ": engine failure while applying; stopping this replica: " + e, e);
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

    private static void joinAll(List<CompletableFuture<PgResult>> pending) {
        for (CompletableFuture<PgResult> f : pending) {
            f.join();
        }
        pending.clear();
    }

    private static PgResult done() {
        return new PgResult.Done();
    }

    /** The blocks an I/O op touches, for ordering inside an entry; null for namespace ops. */
    private record Range(long vdiskId, long lba, long blockCount) {
        static Range of(PgOp op, int blockSizeBytes) {
            return switch (op) {
                case PgOp.Write w -> new Range(w.vdiskId(), w.lba(), ceilBlocks(w.data().remaining(), blockSizeBytes));
                case PgOp.Unmap u -> new Range(u.vdiskId(), u.lba(), u.blockCount());
                case PgOp.WriteZeroes z -> new Range(z.vdiskId(), z.lba(), z.blockCount());
                case PgOp.CompareAndWrite c -> new Range(c.vdiskId(), c.lba(), ceilBlocks(c.data().remaining(), blockSizeBytes));
                default -> null;
            };
        }

        private static long ceilBlocks(int bytes, int blockSizeBytes) {
            return Math.max(1, (bytes + blockSizeBytes - 1) / blockSizeBytes);
        }

        boolean overlapsAny(List<Range> others) {
            for (Range o : others) {
                if (o.vdiskId == vdiskId && lba < o.end() && o.lba < end()) {
                    return true;
                }
            }
            return false;
        }

        long end() {
            return lba + blockCount < lba ? Long.MAX_VALUE : lba + blockCount;
        }
    }

    @Override
    public void close() {
        for (Vdisk v : heads.values()) {
            v.close();
        }
        heads.clear();
        store.close();
    }
}
