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

    /** Reads: served by the leader after a ReadIndex/lease check. */
    sealed interface Query extends PgOp {}

    /**
     * Makes the engine vdisk for cluster vdisk {@code vdiskId} exist on this PG (idempotent):
     * plain, or as a linked clone of {@code parentId@parentSnap} when {@code parentId > 0}.
     */
    record CreateVdisk(long vdiskId, long sizeBytes, int blockSizeBytes, int grainSizeBytes,
                       long parentId, String parentSnap) implements Mutation {}

    record Write(long vdiskId, long lba, ByteBuffer data) implements Mutation {}

    record Unmap(long vdiskId, long lba, long blockCount) implements Mutation {}

    record WriteZeroes(long vdiskId, long lba, long blockCount, boolean unmap) implements Mutation {}

    /** Compare and write, atomic on this PG; the client keeps it inside one stripe. */
    record CompareAndWrite(long vdiskId, long lba, ByteBuffer expected, ByteBuffer data) implements Mutation {}

    record Resize(long vdiskId, long newSizeBytes) implements Mutation {}

    /** Freezes the head epoch under {@code snapName} (idempotent: an existing snapshot is kept). */
    record Snapshot(long vdiskId, String snapName) implements Mutation {}

    /** Removes the vdisk's engine vdisk from this PG (idempotent: a missing one is done). */
    record RemoveVdisk(long vdiskId) implements Mutation {}

    /** Removes snapshot {@code snapName} and reclaims what only it held (idempotent). */
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
