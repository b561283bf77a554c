package io.basalt.cluster.raft;

import java.nio.ByteBuffer;

import io.basalt.vdisk.BlockDeviceException;

/**
 * The answer to an entry a node applies again after a restart, when its result was not kept.
 * Replaying its log, the node skips entries its store already holds (the store keeps its applied
 * index with its data). A placement group answers a skipped entry with the reply its client
 * session kept ({@code PgStore.keptReply}); an entry without a kept reply (a meta-group command,
 * an untagged entry, one whose client had already moved its acked mark past it) gets this empty
 * answer. Ratis keeps that answer in the node's retry cache; if the node then leads its group and
 * a client sends the same request again (a retry across the restart: same client id, same call
 * id), the cache hands the empty answer back. The entry was applied, but what it returned is not
 * known any more, so the client reports the outcome as unknown: the same as a lost connection,
 * which a host handles by reading or writing again. (Found by ChaosHistoryTest: before, the
 * client failed to decode the empty answer with {@code Wire.DecodeException}.)
 */
public final class LostResult {
    private LostResult() {}

    /** What a replayed entry answers. */
    static ByteBuffer reply() {
        return ByteBuffer.allocate(0);
    }

    /** True for the answer of a replayed entry (every real result has at least one byte). */
    public static boolean is(ByteBuffer reply) {
        return !reply.hasRemaining();
    }

    /** The error a client reports for {@code what}, whose answer was {@link #is lost}. */
    public static BlockDeviceException exception(String what) {
        return new BlockDeviceException(BlockDeviceException.Kind.TRANSIENT, what + ": outcome unknown: the request was applied"
                + " before the node that answered it restarted, and its result was not kept (the client retried it across the"
                + " restart); read back to see what it did");
    }
}
