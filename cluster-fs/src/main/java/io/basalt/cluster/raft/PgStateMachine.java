package io.basalt.cluster.raft;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import org.apache.ratis.server.protocol.TermIndex;

import io.basalt.cluster.pg.PgCodec;
import io.basalt.cluster.pg.PgOp;
import io.basalt.cluster.pg.PgRepair;
import io.basalt.cluster.pg.PgResult;
import io.basalt.cluster.pg.PgScrubState;
import io.basalt.cluster.pg.PgStore;
import io.basalt.cluster.pg.ScrubCodec;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.store.VdiskStore;

/** A placement group's state machine: a thin adapter over {@link PgStore}. */
final class PgStateMachine extends StoreStateMachine {
    private final int pg;
    private final VdiskStore.Options options;
    private volatile PgStore store;
    private final PgScrubState scrub;

    PgStateMachine(int pg, VdiskStore.Options options, DiskReserve reserve) {
        super(reserve);
        this.pg = pg;
        this.options = options;
        this.scrub = new PgScrubState(pg);
    }

    /** This replica's scrub counters and asks (docs/decisions/scrub-and-repair.md). */
    PgScrubState scrub() {
        return scrub;
    }

    /** The open store, for diagnostics and tests. */
    PgStore store() {
        return store;
    }

    @Override
    protected void openStore(Path dir) {
        PgStore s = PgStore.open(dir, pg, options);
        store = s;
        if (reserve() != null) {
            reserve().countFlushHeadroom(this, s.engine()::flushHeadroomBytes);
        }
    }

    @Override
    protected void closeStore() {
        PgStore s = store;
        if (s != null) {
            if (reserve() != null) {
                reserve().forgetFlushHeadroom(this);
            }
            store = null;
            s.close();
        }
    }

    @Override
    protected long storeAppliedIndex() {
        return store.appliedIndex();
    }

    @Override
    protected void markStoreApplied(TermIndex at) {
        store.markApplied(at.getIndex());
    }

    @Override
    protected void checkpointStore(Path target) {
        store.checkpoint(target);
    }

    @Override
    protected ByteBuffer applyEntry(TermIndex at, ByteBuffer data) {
        PgCodec.Entry entry = PgCodec.decodeEntry(data);
        return PgCodec.encodeResultsBuffer(store.apply(at.getIndex(), entry.tag(), entry.ops()));
    }

    /** The reply the entry's client session kept, when it is still kept (see {@link PgStore#keptReply}). */
    @Override
    protected ByteBuffer replayedReply(ByteBuffer data) {
        return store.keptReply(PgCodec.decodeEntry(data).tag()).orElseGet(LostResult::reply);
    }

    @Override
    protected CompletableFuture<ByteBuffer> queryStore(ByteBuffer request) {
        PgStore s = store;
        if (s == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("pg-" + pg + " store is closed (installing a snapshot?)"));
        }
        try {
            if (ScrubCodec.isScrub(request)) {
                return CompletableFuture.completedFuture(scrubQuery(s, ScrubCodec.decode(request)));
            }
            return s.query(PgCodec.decodeBatch(request)).thenApply(this::askRepairOnCorruption).thenApply(PgCodec::encodeResultsBuffer);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private ByteBuffer scrubQuery(PgStore s, ScrubCodec.Request r) {
        return switch (r) {
            case ScrubCodec.ReadFrame f -> ScrubCodec.encodeFrame(PgRepair.readFrame(s, f));
            case ScrubCodec.Control c -> {
                if (c.start()) {
                    scrub.request(c.onlyVdiskId());
                }
                yield ScrubCodec.encodeStats(scrub.stats());
            }
            case ScrubCodec.RotForTest t -> ScrubCodec.encodeRotted(io.basalt.cluster.pg.BitRotForTest.rot(s, t));
        };
    }

    /**
     * A read that met a frame that does not decode failed (the client sees CORRUPTION, never the
     * bytes); it also asks this replica's scrub for a pass of that vdisk, which repairs the grain
     * from a healthy replica.
     */
    private List<PgResult> askRepairOnCorruption(List<PgResult> results) {
        for (PgResult r : results) {
            if (r instanceof PgResult.Failed f && f.kind() == BlockDeviceException.Kind.CORRUPTION) {
                scrub.request(PgScrubState.ALL_VDISKS);
            }
        }
        return results;
    }

    @Override
    protected boolean validateEntry(ByteBuffer data) {
        for (PgOp op : PgCodec.decodeEntry(data).ops()) {
            if (takesSpace(op)) {
                return true;
            }
        }
        return false;
    }

    /**
     * What a full disk refuses: the ops that store data. The rest is metadata of a few hundred
     * bytes (creating a vdisk, which opening one also re-sends; a snapshot or a resize: O(1) in the
     * engine) or frees space (unmaps, removals), and must go on so an operator can
     * open a vdisk, read it, back it up and clean up.
     */
    static boolean takesSpace(PgOp op) {
        return switch (op) {
            case PgOp.Write w -> true;
            case PgOp.CompareAndWrite c -> true;
            case PgOp.Flatten f -> true;
            case PgOp.Rollback r -> true; // with later snapshots kept, it copies what changed since
            default -> false;
        };
    }

    @Override
    protected String describe() {
        return "pg-" + pg + " on " + getId();
    }
}
