package io.basalt.cluster.client;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

import io.basalt.cluster.Placement;
import io.basalt.cluster.meta.VdiskRecord;
import io.basalt.cluster.pg.PgOp;
import io.basalt.cluster.pg.PgResult;
import io.basalt.lock.HoldState;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.CompareResult;
import io.basalt.vdisk.FencedException;
import io.basalt.vdisk.LbaStatus;

/**
 * A cluster vdisk as a {@link BlockDevice}: each I/O is split at stripe boundaries and each
 * piece goes to the placement group that holds that stripe ({@link Placement}), through the
 * client's group-committing {@link PgChannel}s; many I/Os may be in flight.
 *
 * <p>How the durability contract is met: a write completes only when its entry is committed on
 * a majority of the PG's replicas, whose Raft logs are fsync'd before they acknowledge, and
 * applied on the leader. So every acknowledged write already survives power loss on a majority:
 * {@link #flush()} has nothing left to do, and {@code fua} needs nothing extra.
 *
 * <p>Pieces are cut at every multiple of the <em>window</em> (the largest power of two dividing
 * the stripe, at most {@link #PIECE_BYTES_MAX}; 256 KiB by default), stripe boundaries included.
 * A piece is one op on one PG, applied there in one RocksDB batch and read under one RocksDB
 * view, so a write inside one window is atomic ({@link #writeAtomic}); a longer write is atomic
 * per window (per grain at least), like a disk's multi-sector write.
 *
 * <p>An unmap spanning at least as many stripes as there are PGs goes to every PG over the whole
 * range (a PG only holds its own grains, and the engine visits only grains it holds), instead of
 * one op per stripe; a shorter one goes only to the PGs of its stripes.
 *
 * <p>Fencing (docs/architecture.md, "Locks and fencing"): every mutation (write, unmap,
 * write-zeroes, compare-and-write, snapshot) carries the token {@code token} gives when it is
 * sent, and a PG refuses it when that is below the vdisk's fence there: the mutation fails with a
 * {@link FencedException}. The holder fences itself too ({@link HoldState}): while its lease is
 * unconfirmed (it ran out before a renewal got through) a mutation is held back, not sent, until
 * a renewal confirms the lease (then it is sent) or the lock is known lost, for at most the I/O
 * timeout, as a write to a group without a quorum waits; then it fails with a
 * {@link LeaseUnconfirmedException}, TRANSIENT. Once the lock is lost a mutation is not sent and
 * fails with a {@link FencedException} at once.
 * A device opened without a lock carries token 0, which PGs accept only while the vdisk was
 * never fenced.
 */
public final class ClusterVdisk implements BlockDevice {
    /** One op carries at most this much data, well inside one Raft entry; bigger I/O is split. */
    static final int PIECE_BYTES_MAX = 256 * 1024;
    /** How often a mutation held back for an unconfirmed lease looks at it again. */
    static final long LEASE_POLL_MS = 50;
    private static final long NOT_HELD_YET = Long.MIN_VALUE;

    private final ClusterClient client;
    private final Placement placement;
    private volatile VdiskRecord record;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Guards the snapshot gate below. */
    private final Object gate = new Object();
    private int mutationsInFlight;
    /** While a snapshot is being taken: completes when it is done; mutations wait for it. */
    private CompletableFuture<Void> resumed;
    /** While a snapshot waits: completes when no mutation of this device is in flight. */
    private CompletableFuture<Void> drained;

    /** The snapshot this device reads (read-only), or null for the head. */
    private final String snapName;
    /** The token this device's mutations carry now (0: no lock). */
    private final LongSupplier token;
    /** Where the lock holder stands: mutations are sent only while {@link HoldState#HELD}. */
    private final Supplier<HoldState> hold;

    ClusterVdisk(ClusterClient client, VdiskRecord record) {
        this(client, record, null, () -> 0, () -> HoldState.HELD);
    }

    /** A read-only view of snapshot {@code snapName} of {@code record} (null: the head). */
    ClusterVdisk(ClusterClient client, VdiskRecord record, String snapName) {
        this(client, record, snapName, () -> 0, () -> HoldState.HELD);
    }

    /** The head of {@code record} written under a lock: see the class comment. */
    ClusterVdisk(ClusterClient client, VdiskRecord record, String snapName, LongSupplier token, Supplier<HoldState> hold) {
        this.client = client;
        this.placement = client.placement();
        this.record = record;
        this.snapName = snapName;
        this.token = token;
        this.hold = hold;
        if (snapName != null && record.snapshot(snapName).isEmpty()) {
            throw new IllegalArgumentException("snapshot: " + record.name() + "@" + snapName + " (expected: one of "
                    + record.snapshots().stream().map(VdiskRecord.SnapshotRecord::name).toList() + ")");
        }
    }

    public VdiskRecord record() {
        return record;
    }

    @Override
    public String name() {
        return snapName == null ? record.name() : record.name() + "@" + snapName;
    }

    @Override
    public int logicalBlockSizeBytes() {
        return record.blockSizeBytes();
    }

    @Override
    public long sizeBytes() {
        return snapName == null ? record.sizeBytes() : record.snapshot(snapName).orElseThrow().sizeBytes();
    }

    @Override
    public boolean readOnly() {
        return snapName != null;
    }

    // ---- I/O ----

    @Override
    public CompletableFuture<ByteBuffer> read(long lba, int blockCount) {
        String bad = checkRead(lba, blockCount);
        if (bad != null) {
            return failed(bad);
        }
        ByteBuffer out = ByteBuffer.allocate(Math.multiplyExact(blockCount, logicalBlockSizeBytes()));
        return readPieces(lba, blockCount, out, 0).thenApply(x -> out);
    }

    /** Each piece's data goes straight into {@code dst} (the iSCSI target's buffer): no buffer of our own. */
    @Override
    public CompletableFuture<Void> read(long lba, int blockCount, ByteBuffer dst) {
        String bad = checkRead(lba, blockCount);
        long bytes = (long) blockCount * logicalBlockSizeBytes();
        if (bad == null && bytes > dst.remaining()) {
            bad = "read into buffer: " + blockCount + " blocks = " + bytes + " bytes (expected: <= " + dst.remaining() + " remaining in dst) vdisk=" + name();
        }
        if (bad != null) {
            return failed(bad);
        }
        return readPieces(lba, blockCount, dst, dst.position());
    }

    /** Why a read of {@code blockCount} blocks at {@code lba} cannot be done, or null. */
    private String checkRead(long lba, int blockCount) {
        String bad = checkOpen();
        return bad != null ? bad : checkRange("read", lba, blockCount);
    }

    /** Reads blocks {@code [lba, lba + blockCount)} into {@code dst} from index {@code base}; dst's position is not moved. */
    private CompletableFuture<Void> readPieces(long lba, int blockCount, ByteBuffer dst, int base) {
        int bs = logicalBlockSizeBytes();
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        for (Piece p : pieces(lba, blockCount)) {
            int at = base + (int) ((p.lba() - lba) * bs);
            PgOp op = snapName == null ? new PgOp.Read(record.id(), p.lba(), (int) p.blockCount())
                    : new PgOp.ReadSnapshot(record.id(), snapName, p.lba(), (int) p.blockCount());
            parts.add(submit(p.pg(), op).thenAccept(r -> {
                ByteBuffer data = ((PgResult.Data) r).data();
                if (data.remaining() != p.blockCount() * bs) {
                    throw new BlockDeviceException(BlockDeviceException.Kind.IO, "pg-" + p.pg() + " returned " + data.remaining()
                            + " bytes for " + p.blockCount() + " blocks at lba " + p.lba() + " vdisk=" + name());
                }
                dst.put(at, data, data.position(), data.remaining());
            }));
        }
        return allOf(parts);
    }

    @Override
    public CompletableFuture<Void> write(long lba, ByteBuffer data, boolean fua) {
        int bs = logicalBlockSizeBytes();
        String bad = checkOpen();
        if (bad == null && data.remaining() % bs != 0) {
            bad = "write length: " + data.remaining() + " bytes (expected: a multiple of " + bs + ") vdisk=" + name();
        }
        if (bad == null) {
            bad = checkRange("write", lba, data.remaining() / bs);
        }
        if (bad != null) {
            return failed(bad);
        }
        return mutation(t -> {
            List<CompletableFuture<Void>> parts = new ArrayList<>();
            for (Piece p : pieces(lba, data.remaining() / bs)) {
                int from = data.position() + (int) ((p.lba() - lba) * bs);
                ByteBuffer slice = data.slice(from, (int) (p.blockCount() * bs)).asReadOnlyBuffer();
                parts.add(submit(p.pg(), new PgOp.Write(record.id(), p.lba(), slice, t)).thenAccept(r -> {}));
            }
            return allOf(parts);
        });
    }

    /** Whole grains: a piece of whole grains never reads and merges a partial one on the PG. */
    @Override
    public int atomicWriteUnitBytes() {
        return record.grainSizeBytes();
    }

    /** One window (see the class comment), or 0 when it is smaller than a grain. */
    @Override
    public int atomicWriteBytesMax() {
        long window = windowBlocks() * record.blockSizeBytes();
        return window >= record.grainSizeBytes() && window % record.grainSizeBytes() == 0 ? (int) window : 0;
    }

    @Override
    public int atomicWriteBoundaryBytes() {
        return atomicWriteBytesMax();
    }

    /**
     * Atomic because it is one piece: one op in one entry of one PG, applied in one RocksDB
     * batch on each replica (with the entry's applied index, or re-applied whole after a crash),
     * ordered against other writes by the log, and read by any read whose piece covers it under
     * one RocksDB view.
     */
    @Override
    public CompletableFuture<Void> writeAtomic(long lba, ByteBuffer data, boolean fua) {
        int max = atomicWriteBytesMax();
        if (max == 0) {
            return BlockDevice.super.writeAtomic(lba, data, fua);
        }
        int bs = logicalBlockSizeBytes();
        long unitBlocks = atomicWriteUnitBytes() / bs;
        long blocks = data.remaining() / bs;
        long window = windowBlocks();
        if (lba < 0 || lba % unitBlocks != 0 || data.remaining() % atomicWriteUnitBytes() != 0 || data.remaining() > max
                || (blocks > 0 && lba / window != (lba + blocks - 1) / window)) {
            return failed("atomic write: lba " + lba + ", " + data.remaining() + " bytes (expected: whole grains of " + atomicWriteUnitBytes()
                    + " bytes, grain-aligned, inside one aligned window of " + max + " bytes) vdisk=" + name());
        }
        // What makes it atomic: write() sends it as one piece. A second piece here is a bug in the cutting.
        int pieces = blocks == 0 ? 1 : pieces(lba, blocks).size();
        if (pieces != 1) {
            throw new IllegalStateException("atomic write at lba " + lba + " of " + blocks + " blocks cut into " + pieces + " pieces vdisk=" + name());
        }
        return write(lba, data, fua);
    }

    /** Acknowledged writes are already fsync'd on a majority (see the class comment). */
    @Override
    public CompletableFuture<Void> flush() {
        String bad = checkOpen();
        return bad == null ? CompletableFuture.completedFuture(null) : failed(bad);
    }

    @Override
    public CompletableFuture<Void> unmap(long lba, long blockCount) {
        String bad = checkOpen();
        if (bad == null) {
            bad = checkRange("unmap", lba, blockCount);
        }
        if (bad != null) {
            return failed(bad);
        }
        if (blockCount == 0) {
            return CompletableFuture.completedFuture(null);
        }
        long stripes = (lba + blockCount - 1) / stripeBlocks() - lba / stripeBlocks() + 1;
        return mutation(t -> {
            List<CompletableFuture<Void>> parts = new ArrayList<>();
            if (stripes < client.config().pgCount()) {
                for (Piece p : pieces(lba, blockCount)) {
                    parts.add(submit(p.pg(), new PgOp.Unmap(record.id(), p.lba(), p.blockCount(), t)).thenAccept(r -> {}));
                }
            } else {
                for (int pg = 0; pg < client.config().pgCount(); pg++) {
                    parts.add(submit(pg, new PgOp.Unmap(record.id(), lba, blockCount, t)).thenAccept(r -> {}));
                }
            }
            return allOf(parts);
        });
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long lba, long blockCount, boolean unmap) {
        if (unmap) {
            return unmap(lba, blockCount);
        }
        String bad = checkOpen();
        if (bad == null) {
            bad = checkRange("write-zeroes", lba, blockCount);
        }
        if (bad != null) {
            return failed(bad);
        }
        return mutation(t -> {
            List<CompletableFuture<Void>> parts = new ArrayList<>();
            for (Piece p : pieces(lba, blockCount)) {
                parts.add(submit(p.pg(), new PgOp.WriteZeroes(record.id(), p.lba(), p.blockCount(), false, t)).thenAccept(r -> {}));
            }
            return allOf(parts);
        });
    }

    /** Atomic inside one stripe (one PG); a range crossing a stripe boundary is refused. */
    @Override
    public CompletableFuture<CompareResult> compareAndWrite(long lba, ByteBuffer expected, ByteBuffer data) {
        int bs = logicalBlockSizeBytes();
        String bad = checkOpen();
        if (bad == null && (expected.remaining() != data.remaining() || data.remaining() == 0 || data.remaining() % bs != 0)) {
            bad = "compare-and-write lengths: expected " + expected.remaining() + ", data " + data.remaining()
                    + " bytes (expected: equal, a positive multiple of " + bs + ") vdisk=" + name();
        }
        if (bad == null) {
            bad = checkRange("compare-and-write", lba, data.remaining() / bs);
        }
        List<Piece> pieces = bad == null ? pieces(lba, data.remaining() / bs) : List.of();
        if (bad == null && pieces.size() != 1) {
            bad = "compare-and-write lba: " + lba + " + " + data.remaining() / bs + " blocks crosses a stripe boundary or is over "
                    + PIECE_BYTES_MAX + " bytes (expected: within one stripe of " + stripeBlocks() + " blocks) vdisk=" + name();
        }
        if (bad != null) {
            return failed(bad);
        }
        int pg = pieces.get(0).pg();
        return mutation(t -> submit(pg, new PgOp.CompareAndWrite(record.id(), lba, expected.asReadOnlyBuffer(), data.asReadOnlyBuffer(), t))
                .thenApply(r -> ((PgResult.Compared) r).result()));
    }

    /** Describes at most the rest of the stripe holding {@code lba}. */
    @Override
    public CompletableFuture<List<LbaStatus>> getLbaStatus(long lba, long blockCountMax) {
        long blocks = blockCount();
        String bad = checkOpen();
        if (bad == null && (lba < 0 || lba >= blocks)) {
            bad = "lba: " + lba + " (expected: 0.." + (blocks - 1) + ") vdisk=" + name();
        }
        if (bad == null && blockCountMax <= 0) {
            bad = "blockCountMax: " + blockCountMax + " (expected: > 0) vdisk=" + name();
        }
        if (bad != null) {
            return failed(bad);
        }
        Piece first = pieces(lba, Math.min(blockCountMax, blocks - lba)).get(0);
        if (snapName != null) {
            // Not asked of the PGs for a snapshot view: "mapped" is the answer that is never wrong.
            return CompletableFuture.completedFuture(List.of(new LbaStatus(first.lba(), first.blockCount(), LbaStatus.Provisioning.MAPPED)));
        }
        return submit(first.pg(), new PgOp.LbaStatus(record.id(), first.lba(), first.blockCount()))
                .thenApply(r -> ((PgResult.Status) r).runs());
    }

    /** Reads the vdisk's record again from the namespace: a resize through another client shows in {@link #sizeBytes()}. */
    @Override
    public void refreshSize() {
        if (snapName == null) {
            client.vdisk(name()).ifPresent(r -> record = r);
        }
    }

    /** Resizes on every PG, then records the size in the namespace. */
    @Override
    public CompletableFuture<Void> resize(long newSizeBytes) {
        if (snapName != null) {
            return CompletableFuture.failedFuture(readOnlyRefusal());
        }
        String bad = checkOpen();
        if (bad == null && (newSizeBytes <= 0 || newSizeBytes % logicalBlockSizeBytes() != 0)) {
            bad = "newSizeBytes: " + newSizeBytes + " (expected: a positive multiple of " + logicalBlockSizeBytes() + ") vdisk=" + name();
        }
        if (bad != null) {
            return failed(bad);
        }
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        for (int pg = 0; pg < client.config().pgCount(); pg++) {
            parts.add(submit(pg, new PgOp.Resize(record.id(), newSizeBytes)).thenAccept(r -> {}));
        }
        return allOf(parts).thenRunAsync(() -> record = client.recordResize(name(), newSizeBytes));
    }

    /**
     * Takes snapshot {@code snapName} of this vdisk, crash-consistent: this device's mutations in
     * flight finish first, new ones wait until the snapshot is on every PG. (Other writers of
     * the same vdisk are not held: the exclusive lock holder is the one to call this.)
     */
    public void snapshot(String snapName) {
        if (this.snapName != null) {
            throw readOnlyRefusal();
        }
        CompletableFuture<Void> resume = new CompletableFuture<>();
        CompletableFuture<Void> wait;
        synchronized (gate) {
            if (resumed != null) {
                throw new IllegalStateException("snapshot of " + name() + " already in progress");
            }
            resumed = resume;
            drained = new CompletableFuture<>();
            if (mutationsInFlight == 0) {
                drained.complete(null);
            }
            wait = drained;
        }
        try {
            client.await(wait, "drain writes of " + name() + " before snapshot " + snapName);
            awaitConfirmedLease();
            long t = token.getAsLong();
            if (hold.get() != HoldState.HELD) {
                throw hold.get() == HoldState.LOST ? selfFenced(t)
                        : new LeaseUnconfirmedException(name(), client.config().tuning().ioTimeout().toMillis());
            }
            record = client.createSnapshot(name(), snapName, t);
        } finally {
            synchronized (gate) {
                resumed = null;
                drained = null;
            }
            resume.complete(null);
        }
    }

    /** Runs a mutation through the snapshot gate, with the token it carries; holds or fails it here while the holder may not send it. */
    private <T> CompletableFuture<T> mutation(java.util.function.LongFunction<CompletableFuture<T>> body) {
        return mutation(body, NOT_HELD_YET);
    }

    /**
     * As above; {@code heldSinceNanos}: since when this mutation has been held back for an
     * unconfirmed lease ({@link #NOT_HELD_YET}: not yet). It is looked at again every
     * {@link #LEASE_POLL_MS} until the lease is confirmed (sent then) or lost (fenced), for at
     * most the I/O timeout, as a write to a group without a quorum waits.
     */
    private <T> CompletableFuture<T> mutation(java.util.function.LongFunction<CompletableFuture<T>> body, long heldSinceNanos) {
        if (snapName != null) {
            return CompletableFuture.failedFuture(readOnlyRefusal());
        }
        long t = token.getAsLong();
        HoldState h = hold.get();
        if (h == HoldState.UNCONFIRMED) {
            long since = heldSinceNanos == NOT_HELD_YET ? System.nanoTime() : heldSinceNanos;
            long heldMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - since);
            if (heldMs >= client.config().tuning().ioTimeout().toMillis()) {
                return CompletableFuture.failedFuture(new LeaseUnconfirmedException(name(), heldMs));
            }
            return CompletableFuture.runAsync(() -> { }, CompletableFuture.delayedExecutor(LEASE_POLL_MS, TimeUnit.MILLISECONDS))
                    .thenCompose(x -> mutation(body, since));
        }
        if (h == HoldState.LOST) {
            return CompletableFuture.failedFuture(selfFenced(t));
        }
        CompletableFuture<Void> wait;
        synchronized (gate) {
            wait = resumed;
            if (wait == null) {
                mutationsInFlight++;
            }
        }
        if (wait != null) {
            return wait.thenCompose(x -> mutation(body));
        }
        CompletableFuture<T> f;
        try {
            f = body.apply(t);
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        return f.whenComplete((x, ex) -> {
            synchronized (gate) {
                mutationsInFlight--;
                if (mutationsInFlight == 0 && drained != null) {
                    drained.complete(null);
                }
            }
        });
    }

    @Override
    public void close() {
        closed.set(true);
    }

    // ---- splitting ----

    /** A run of blocks inside one window (so inside one stripe), at most {@link #PIECE_BYTES_MAX}. */
    record Piece(int pg, long lba, long blockCount) {}

    private long stripeBlocks() {
        return (long) placement.stripeGrains() * record.grainSizeBytes() / record.blockSizeBytes();
    }

    /** The window in blocks: the largest power of two dividing the stripe's bytes, at most {@link #PIECE_BYTES_MAX}. */
    private long windowBlocks() {
        long stripeBytes = (long) placement.stripeGrains() * record.grainSizeBytes();
        return Math.max(1, Math.min(Long.lowestOneBit(stripeBytes), PIECE_BYTES_MAX) / record.blockSizeBytes());
    }

    List<Piece> pieces(long lba, long blockCount) {
        long stripeBlocks = stripeBlocks();
        long window = windowBlocks();
        long blocksPerGrain = record.grainSizeBytes() / record.blockSizeBytes();
        List<Piece> out = new ArrayList<>();
        long end = lba + blockCount;
        for (long at = lba; at < end; ) {
            long stripeEnd = (at / stripeBlocks + 1) * stripeBlocks;
            long windowEnd = (at / window + 1) * window;
            long to = Math.min(end, Math.min(stripeEnd, windowEnd));
            out.add(new Piece(placement.pgOf(record.rootId(), at / blocksPerGrain), at, to - at));
            at = to;
        }
        return out;
    }

    // ---- helpers ----

    private CompletableFuture<PgResult> submit(int pg, PgOp op) {
        return client.pg(pg).submit(op).thenApply(r -> {
            if (r instanceof PgResult.Fenced f) {
                throw new FencedException(name(), f.token(), f.fence());
            }
            if (r instanceof PgResult.Failed f) {
                String msg = f.message() + " (pg-" + pg + ", vdisk=" + name() + ")";
                throw f.kind() == null ? new IllegalArgumentException(msg) : new BlockDeviceException(f.kind(), msg);
            }
            return r;
        });
    }

    /** Waits, for at most the I/O timeout, while the holder's lease is unconfirmed (see {@link #mutation}). */
    private void awaitConfirmedLease() {
        long deadline = System.nanoTime() + client.config().tuning().ioTimeout().toNanos();
        while (hold.get() == HoldState.UNCONFIRMED && System.nanoTime() < deadline) {
            try {
                Thread.sleep(LEASE_POLL_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new BlockDeviceException(BlockDeviceException.Kind.UNAVAILABLE, name() + ": interrupted while waiting for its lease", e);
            }
        }
    }

    /**
     * The refusal of a mutation this device did not send because its lock is lost: no token may
     * write from here any more, hence the fence {@code Long.MAX_VALUE}; the name says why.
     */
    private FencedException selfFenced(long t) {
        return new FencedException(name() + " (self-fenced: lease lost or lock not held, nothing sent)", t, Long.MAX_VALUE);
    }

    private BlockDeviceException readOnlyRefusal() {
        return new BlockDeviceException(BlockDeviceException.Kind.READ_ONLY, name() + " is a snapshot: read-only");
    }

    private String checkOpen() {
        return closed.get() ? "vdisk " + name() + " is closed" : null;
    }

    private String checkRange(String op, long lba, long blockCount) {
        long blocks = blockCount();
        if (lba < 0 || blockCount < 0 || lba > blocks || blockCount > blocks - lba) {
            return String.format("%s lba: %d + %d blocks (expected: within 0..%d) vdisk=%s", op, lba, blockCount, blocks, name());
        }
        return null;
    }

    private <T> CompletableFuture<T> failed(String message) {
        if (closed.get()) {
            return CompletableFuture.failedFuture(new BlockDeviceException(BlockDeviceException.Kind.UNAVAILABLE, message));
        }
        return CompletableFuture.failedFuture(new IllegalArgumentException(message));
    }

    private static CompletableFuture<Void> allOf(List<CompletableFuture<Void>> parts) {
        return parts.size() == 1 ? parts.get(0) : CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
    }
}
