package io.basalt.cluster.meta;

import java.nio.ByteBuffer;

/**
 * A vdisk's persistent-reservation state, as its iSCSI gateways share it: the bytes the target
 * encodes (registrations, reservation; the meta group never reads them) at {@code version}, which
 * grows by one at each {@link MetaCommand.SetPrState} that was applied. {@code state} is read-only.
 */
public record PrRecord(String vdisk, long version, ByteBuffer state) {
    /** Larger states are refused: the target's own bound (256 registrations) stays well below it. */
    public static final int STATE_BYTES_MAX = 1 << 20;

    public PrRecord {
        if (version < 1) {
            throw new IllegalArgumentException("pr state version: " + version + " (expected: >= 1) vdisk=" + vdisk);
        }
        state = state.asReadOnlyBuffer();
    }
}
