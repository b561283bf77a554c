package io.basalt.node.locks;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import io.basalt.cluster.client.ClusterPrStates;
import io.basalt.cluster.meta.PrRecord;
import io.basalt.iscsi.scsi.PrStateStore;

/**
 * A cluster vdisk's persistent-reservation state, kept in the meta group: every gateway serving
 * the vdisk reads and stores the same register, so all see the same registrations and
 * reservation. The meta calls block (a Raft round trip), so they run on virtual threads, never on
 * the target's event loops.
 */
final class ClusterPrStateStore implements PrStateStore {
    /** One virtual thread per call: blocking meta calls off the event loops; nothing to close. */
    private static final ExecutorService CALLS = Executors.newVirtualThreadPerTaskExecutor();

    private final ClusterPrStates states;
    private final String vdisk;

    ClusterPrStateStore(ClusterPrStates states, String vdisk) {
        this.states = states;
        this.vdisk = vdisk;
    }

    @Override
    public CompletableFuture<Versioned> read() {
        return CompletableFuture.supplyAsync(() -> states.read(vdisk)
                .map(r -> new Versioned(r.version(), r.state()))
                .orElse(new Versioned(0, ByteBuffer.allocate(0))), CALLS);
    }

    @Override
    public CompletableFuture<Boolean> compareAndSet(long expectedVersion, ByteBuffer state) {
        ByteBuffer copy = ByteBuffer.allocate(state.remaining()).put(state.duplicate()).flip();
        if (copy.remaining() > PrRecord.STATE_BYTES_MAX) {
            return CompletableFuture.failedFuture(new IllegalStateException("pr state of " + vdisk + ": " + copy.remaining()
                    + " bytes (expected: <= " + PrRecord.STATE_BYTES_MAX + ")"));
        }
        return CompletableFuture.supplyAsync(() -> states.compareAndSet(vdisk, expectedVersion, copy), CALLS);
    }

    @Override
    public boolean shared() {
        return true;
    }
}
