package io.basalt.cluster.pg;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Optional;

import io.basalt.vdisk.store.GrainScrub;
import io.basalt.vdisk.store.GrainScrub.GrainKey;

/**
 * The store's side of a repair (docs/decisions/scrub-and-repair.md), both halves under the
 * replica's apply lock ({@link PgStore#apply} holds the store's monitor), so neither sees half of
 * an entry:
 * <ul>
 *   <li>{@link #readFrame}: a healthy replica's frame of one version together with the index it
 *       was read at;</li>
 *   <li>{@link #install}: the bad replica installs it once it has applied at least that index,
 *       and only if the key still holds the bad bytes it found.</li>
 * </ul>
 * Why the result equals what the log gives this replica: a key that still holds bytes no log
 * entry writes (they do not decode) was not written, unmapped or deleted by any entry since the
 * last one that wrote it, which is at or below the index the bad bytes were seen at, and so at
 * or below the peer's index; the peer, applying the same log, holds that entry's frame at its
 * index, and this replica should too at its own (later) index.
 */
public final class PgRepair {
    private static final Duration CATCH_UP_POLL = Duration.ofMillis(20);

    private PgRepair() {}

    /** How an install ended. */
    public enum Installed {
        /** The healthy frame replaced the bad bytes. */
        REPAIRED,
        /** The key no longer holds the bad bytes: a write, an unmap or the GC came first; nothing written. */
        SUPERSEDED,
        /** This replica did not reach the peer's index in time; nothing written (the next pass tries again). */
        BEHIND
    }

    /** This replica's frame of cluster vdisk {@code r.vdiskId()}'s version, with its applied index. */
    public static ScrubCodec.FrameReply readFrame(PgStore store, ScrubCodec.ReadFrame r) {
        synchronized (store) {
            long applied = store.appliedIndex();
            Optional<byte[]> frame = GrainScrub.vdiskId(store.engine(), PgStore.engineName(r.vdiskId()))
                    .flatMap(id -> GrainScrub.frame(store.engine(), new GrainKey(id, r.grain(), r.epoch())));
            return new ScrubCodec.FrameReply(applied, frame.isPresent(), ByteBuffer.wrap(frame.orElse(new byte[0])));
        }
    }

    /**
     * Installs {@code healthy} (a peer's frame of {@code key} as of its index {@code peerIndex})
     * in place of {@code bad}, once this replica has applied {@code peerIndex}; waits for that
     * {@code catchUpMax} at most.
     */
    public static Installed install(PgStore store, GrainKey key, byte[] bad, byte[] healthy, long peerIndex, Duration catchUpMax)
            throws InterruptedException {
        long deadline = System.nanoTime() + catchUpMax.toNanos();
        while (true) {
            synchronized (store) {
                if (store.appliedIndex() >= peerIndex) {
                    return switch (GrainScrub.replaceIf(store.engine(), key, bad, healthy)) {
                        case REPLACED -> Installed.REPAIRED;
                        case CHANGED -> Installed.SUPERSEDED;
                    };
                }
            }
            if (System.nanoTime() > deadline) {
                return Installed.BEHIND;
            }
            Thread.sleep(CATCH_UP_POLL);
        }
    }
}
