package io.basalt.cluster.pg;

import java.nio.ByteBuffer;
import java.util.Optional;

import io.basalt.vdisk.store.GrainScrub;
import io.basalt.vdisk.store.GrainScrub.GrainKey;

/**
 * Bit rot injected into a running node's replica, for the chaos runs' bit-rot nemesis and the
 * process-level scrub test (docs/chaos.md, docs/decisions/scrub-and-repair.md). A node answers a
 * {@link ScrubCodec.RotForTest} only when its JVM runs with {@code -D}{@value #PROPERTY}{@code =true};
 * without it (the default, and always in production) the request is refused by name. The rot is
 * a flipped bit in the stored frame of a grain's newest version, written to RocksDB under the
 * replica's apply lock: RocksDB's own checksums stay valid (the block is rewritten whole), so
 * only the frame's CRC32C can catch it, which is the rot the scrub repairs.
 */
public final class BitRotForTest {
    /** The system property that lets a node rot its own replicas on request. */
    public static final String PROPERTY = "basalt.testOnlyBitRot";

    private BitRotForTest() {}

    /** Whether this JVM answers rot requests. */
    public static boolean enabled() {
        return Boolean.getBoolean(PROPERTY);
    }

    /** Rots {@code r}'s grain on {@code store}; refused unless {@link #enabled}. */
    public static ScrubCodec.Rotted rot(PgStore store, ScrubCodec.RotForTest r) {
        if (!enabled()) {
            throw new IllegalStateException("bit rot of vdisk " + r.vdiskId() + " grain " + r.grain() + " refused: a test-only request, answered only by a node"
                    + " started with -D" + PROPERTY + "=true");
        }
        synchronized (store) { // the apply lock: no entry lands between the read and the overwrite
            long applied = store.appliedIndex();
            Optional<GrainKey> key = GrainScrub.vdiskId(store.engine(), PgStore.engineName(r.vdiskId()))
                    .flatMap(id -> GrainScrub.newestVersion(store.engine(), id, r.grain()));
            Optional<byte[]> frame = key.flatMap(k -> GrainScrub.frame(store.engine(), k));
            if (frame.isEmpty()) {
                return new ScrubCodec.Rotted(applied, -1, ByteBuffer.allocate(0));
            }
            int grainBytes = GrainScrub.grainSizeBytes(store.engine(), key.get().vdiskId()).orElseThrow();
            byte[] rotten = flip(frame.get(), grainBytes);
            GrainScrub.overwriteForTest(store.engine(), key.get(), rotten);
            return new ScrubCodec.Rotted(applied, key.get().epoch(), ByteBuffer.wrap(rotten));
        }
    }

    /**
     * {@code frame} with one bit flipped in its middle; when that still decodes (an LZ4 match
     * offset in periodic data can change and give the same bytes), a bit of its CRC32C instead.
     */
    static byte[] flip(byte[] frame, int grainBytes) {
        if (GrainScrub.check(frame, grainBytes) != null) {
            throw new IllegalStateException("the frame to rot is already bad: " + GrainScrub.check(frame, grainBytes));
        }
        byte[] rotten = frame.clone();
        rotten[rotten.length / 2] ^= 0x10;
        if (GrainScrub.check(rotten, grainBytes) == null) {
            rotten = frame.clone();
            rotten[3] ^= 0x01;
        }
        if (GrainScrub.check(rotten, grainBytes) == null) {
            throw new IllegalStateException("a flipped bit left a frame of " + frame.length + " bytes decodable (kind byte " + frame[1]
                    + "): nothing to rot in zeros or a tombstone");
        }
        return rotten;
    }
}
