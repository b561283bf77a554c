package io.basalt.cluster.raft;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

import org.apache.ratis.server.protocol.TermIndex;

import io.basalt.cluster.meta.MetaCodec;
import io.basalt.cluster.meta.MetaQuery;
import io.basalt.cluster.meta.MetaStore;

/**
 * The meta group's state machine: a thin adapter over {@link MetaStore}. Apply and queries are
 * serialised by the monitor of this object (the namespace is small and changes rarely).
 */
final class MetaStateMachine extends StoreStateMachine {
    private MetaStore store;

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
        return ByteBuffer.wrap(MetaCodec.encode(result));
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
