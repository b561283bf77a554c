package io.basalt.cluster.pg;

import java.nio.ByteBuffer;

/**
 * One operation on a placement group's store. Mutations travel in a log entry (a batch of them,
 * see {@link PgCodec#encodeBatch}); {@link Query} ops travel in read-only queries. Addresses are logical blocks of the vdisk; buffers are read-only views.
 */
public sealed interface PgOp {

    long vdiskId();

    /** Mutations: applied in log order, never reordered across an overlapping range. */
    sealed interface Mutation extends PgOp {}

    /**
     * A mutation of the vdisk's data that carries its writer's fencing token (the lock grant's,
     * docs/architecture.md "Locks and fencing"): the PG refuses it, as {@link PgResult.Fenced}, when
     * the token is below the vdisk's fence at its place in the log. Token 0 is "no lock": accepted
     * only while the vdisk was never fenced, except for a {@link Snapshot}, an operator's, which
     * changes no data and is taken whatever the fence. The constructors without a token give 0.
     */
    sealed interface FencedMutation extends Mutation {
        long token();
    }

    /** Reads: served by the leader after a ReadIndex/lease check. */
    sealed interface Query extends PgOp {}

    /**
     * Makes the engine vdisk for cluster vdisk {@code vdiskId} exist on this PG (idempotent):
     * plain, or as a linked clone of {@code parentId@parentSnap} when {@code parentId > 0}.
     */
    record CreateVdisk(long vdiskId, long sizeBytes, int blockSizeBytes, int grainSizeBytes,
                       long parentId, String parentSnap) implements Mutation {}

    record Write(long vdiskId, long lba, ByteBuffer data, long token) implements FencedMutation {
        public Write(long vdiskId, long lba, ByteBuffer data) {
            this(vdiskId, lba, data, 0);
        }
    }

    record Unmap(long vdiskId, long lba, long blockCount, long token) implements FencedMutation {
        public Unmap(long vdiskId, long lba, long blockCount) {
            this(vdiskId, lba, blockCount, 0);
        }
    }

    record WriteZeroes(long vdiskId, long lba, long blockCount, boolean unmap, long token) implements FencedMutation {
        public WriteZeroes(long vdiskId, long lba, long blockCount, boolean unmap) {
            this(vdiskId, lba, blockCount, unmap, 0);
        }
    }

    /** Compare and write, atomic on this PG; the client keeps it inside one stripe. */
    record CompareAndWrite(long vdiskId, long lba, ByteBuffer expected, ByteBuffer data, long token) implements FencedMutation {
        public CompareAndWrite(long vdiskId, long lba, ByteBuffer expected, ByteBuffer data) {
            this(vdiskId, lba, expected, data, 0);
        }
    }

    record Resize(long vdiskId, long newSizeBytes) implements Mutation {}

    /** Freezes the head epoch under {@code snapName} (idempotent: an existing snapshot is kept). */
    record Snapshot(long vdiskId, String snapName, long token) implements FencedMutation {
        public Snapshot(long vdiskId, String snapName) {
            this(vdiskId, snapName, 0);
        }
    }

    /**
     * Raises the vdisk's fence on this PG to {@code fence} (never lowers it): from this entry on,
     * every {@link FencedMutation} with a lower token is refused. Sent by a new lock holder to every PG
     * before its first write, and by the meta leader after an expiry or a break.
     */
    record RaiseFence(long vdiskId, long fence) implements Mutation {
        public RaiseFence {
            if (fence < 0) {
                throw new IllegalArgumentException("fence: " + fence + " (expected: >= 0) vdisk id=" + vdiskId);
            }
        }
    }

    /** Removes the vdisk's engine vdisk from this PG (idempotent: a missing one is done). */
    record RemoveVdisk(long vdiskId) implements Mutation {}

    /**
     * Removes snapshot {@code snapName} (idempotent). Applying it is a metadata change: what only
     * the snapshot held is collected afterwards by each replica's store in the background, a
     * local deletion of versions no epoch sees, outside the log
     * (docs/decisions/background-snapshot-gc.md).
     */
    record RemoveSnapshot(long vdiskId, String snapName) implements Mutation {}

    /** Makes the head read as snapshot {@code snapName} again (and take its size). */
    record Rollback(long vdiskId, String snapName) implements Mutation {}

    /**
     * Copies the grains the clone still reads from its parent into it, so it no longer depends
     * on the parent (idempotent: a vdisk that is not a clone here is done).
     */
    record Flatten(long vdiskId) implements Mutation {}

    record Read(long vdiskId, long lba, int blockCount) implements Query {}

    /** A read of snapshot {@code snapName} (immutable) rather than the head. */
    record ReadSnapshot(long vdiskId, String snapName, long lba, int blockCount) implements Query {}

    record LbaStatus(long vdiskId, long lba, long blockCountMax) implements Query {}

    /** This PG's share of the vdisk's space (answered as {@link PgResult.Space}). */
    record Space(long vdiskId) implements Query {}

    /**
     * The extents of this PG's grains that changed after {@code fromSnap} ("" for the beginning)
     * up to {@code toSnap} ("" for the head), as {@link PgResult.Extents}.
     */
    record Diff(long vdiskId, String fromSnap, String toSnap) implements Query {}
}
