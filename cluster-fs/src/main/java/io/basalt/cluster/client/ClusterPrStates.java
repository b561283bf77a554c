package io.basalt.cluster.client;

import java.nio.ByteBuffer;
import java.util.Optional;

import io.basalt.cluster.meta.MetaCodec;
import io.basalt.cluster.meta.MetaCommand;
import io.basalt.cluster.meta.MetaQuery;
import io.basalt.cluster.meta.MetaResult;
import io.basalt.cluster.meta.PrRecord;

/**
 * The persistent-reservation states of vdisks' LUNs, kept in the meta group so that every iSCSI
 * gateway of a vdisk sees the same registrations and reservation (docs/architecture.md, "Locks and
 * fencing"). A versioned register per vdisk: {@link #read}, and {@link #compareAndSet} at the
 * version read. Calls block (a Raft round trip); a transport failure or timeout throws.
 */
public final class ClusterPrStates {
    private final ClusterClient client;

    ClusterPrStates(ClusterClient client) {
        this.client = client;
    }

    /** The state of {@code vdisk}'s LUN; empty when it was never set (version 0). A linearizable read at the meta leader. */
    public Optional<PrRecord> read(String vdisk) {
        return MetaQuery.decodePrStates(client.metaRead(new MetaQuery.PrStateOf(vdisk))).stream().findFirst();
    }

    /**
     * Sets {@code state} at version {@code expectedVersion + 1}; false when the state is no longer at
     * {@code expectedVersion} (another gateway stored first). Any other refusal (no such vdisk, a
     * state too large) throws, naming it.
     */
    public boolean compareAndSet(String vdisk, long expectedVersion, ByteBuffer state) {
        MetaResult r = MetaCodec.decodeResult(client.metaWrite(new MetaCommand.SetPrState(vdisk, expectedVersion, state)));
        return switch (r) {
            case MetaResult.Done d -> true;
            case MetaResult.Rejected rej -> {
                long now = read(vdisk).map(PrRecord::version).orElse(0L);
                if (now != expectedVersion) {
                    yield false;
                }
                throw new IllegalArgumentException(rej.message());
            }
            default -> throw new IllegalStateException("meta answered " + r + " to a pr state of " + vdisk + " (expected: done or rejected)");
        };
    }
}
