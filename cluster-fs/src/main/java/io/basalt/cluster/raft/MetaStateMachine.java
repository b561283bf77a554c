package io.basalt.cluster.raft;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

import org.apache.ratis.server.protocol.TermIndex;

import io.basalt.cluster.meta.MetaCodec;
import io.basalt.cluster.meta.MetaQuery;
import io.basalt.cluster.meta.MetaResult;
import io.basalt.cluster.meta.MetaStore;
import io.basalt.lock.LeaseTimers;
import io.basalt.lock.LockCommand;
import io.basalt.lock.LockResult;

/**
 * The meta group's state machine: a thin adapter over {@link MetaStore}. Apply and queries are
 * serialised by the monitor of this object (the namespace is small and changes rarely).
 *
 * <p>It also keeps this replica's lease timers ({@link LeaseTimers}, on {@link System#nanoTime}):
 * each applied open or renewal restarts the session's timer, each end drops it. Only a leader's
 * timers count, and only from the moment it restarted them all ({@link MetaLeases#restartAll}, on
 * becoming leader): what a follower timed before is never trusted.
 */
final class MetaStateMachine extends StoreStateMachine {
    private MetaStore store;
    private final LeaseTimers timers = new LeaseTimers();

    MetaStateMachine() {
        super(null);
    }

    @Override
    protected synchronized void openStore(Path dir) {
        store = MetaStore.open(dir);
    }

    /** The nodes' space reports as this replica has applied them (empty while the store is closed). */
    synchronized java.util.List<io.basalt.cluster.meta.NodeSpace> spaces() {
        return store == null ? java.util.List.of() : store.state().spaces();
    }

    /** The lock events the open store's table has applied (null while the store is closed). */
    synchronized io.basalt.lock.LockEvents lockEvents() {
        return store == null ? null : store.state().lockEvents();
    }

    @Override
    protected synchronized void closeStore() {
        if (store != null) {
            store.close();
            store = null;
        }
    }

    @Override
    protected synchronized long storeAppliedIndex() {
        return store.applied().index();
    }

    @Override
    protected synchronized void markStoreApplied(TermIndex at) {
        store.markApplied(new MetaStore.TermIndex(at.getTerm(), at.getIndex()));
    }

    @Override
    protected synchronized void checkpointStore(Path target) {
        store.checkpoint(target);
    }

    @Override
    protected synchronized ByteBuffer applyEntry(TermIndex at, ByteBuffer data) {
        var result = store.apply(new MetaStore.TermIndex(at.getTerm(), at.getIndex()), MetaCodec.decodeCommand(data));
        if (result instanceof MetaResult.LockApplied applied) {
            track(applied.result(), System.nanoTime());
        }
        return ByteBuffer.wrap(MetaCodec.encode(result));
    }

    private void track(LockResult r, long nowNanos) {
        switch (r) {
            case LockResult.SessionOpened o -> timers.renewed(o.session(), nowNanos);
            case LockResult.SessionRenewed rn -> timers.renewed(rn.session(), nowNanos);
            case LockResult.SessionEnded e -> timers.ended(e.sessionId());
            default -> { }
        }
    }

    /** Every open session's lease starts afresh at {@code nowNanos} (this replica became leader). */
    synchronized void restartLeases(long nowNanos) {
        timers.restartAll(store == null ? java.util.List.of() : store.state().sessions(), nowNanos);
    }

    synchronized java.util.List<LockCommand.ExpireSession> expiredLeases(long nowNanos) {
        return timers.expired(nowNanos);
    }

    synchronized void leaseEnded(long sessionId) {
        timers.ended(sessionId);
    }

    @Override
    protected synchronized CompletableFuture<ByteBuffer> queryStore(ByteBuffer request) {
        try {
            return CompletableFuture.completedFuture(ByteBuffer.wrap(MetaQuery.answer(store.state(), MetaQuery.decode(request))));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    protected boolean validateEntry(ByteBuffer data) {
        MetaCodec.decodeCommand(data);
        return false;
    }

    @Override
    protected String describe() {
        return "meta on " + getId();
    }
}
