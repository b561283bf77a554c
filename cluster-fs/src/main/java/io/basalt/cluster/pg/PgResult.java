package io.basalt.cluster.pg;

import java.nio.ByteBuffer;
import java.util.List;

import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.CompareResult;
import io.basalt.vdisk.LbaStatus;
import io.basalt.vdisk.store.Extent;

/** The outcome of one {@link PgOp}; identical on every replica for mutations. */
public sealed interface PgResult {

    record Done() implements PgResult {}

    record Compared(CompareResult result) implements PgResult {}

    record Data(ByteBuffer data) implements PgResult {}

    record Status(List<LbaStatus> runs) implements PgResult {}

    /** Space of one vdisk on one PG: mapped head grains, stored bytes and versions (snapshots included). */
    record Space(long usedBytes, long storedBytes, long versionCount) implements PgResult {}

    /** Changed extents on one PG, in offset order. */
    record Extents(List<Extent> extents) implements PgResult {}

    /**
     * A {@link PgOp.FencedMutation} refused because its token is below the vdisk's fence here: it came
     * from a lock holder that has since been replaced. Nothing of it was applied.
     */
    record Fenced(long vdiskId, long token, long fence) implements PgResult {}

    /**
     * Refused deterministically (a bad address, a missing vdisk, a read-only target): nothing
     * changed. {@code kind} is null for a caller error (IllegalArgumentException).
     */
    record Failed(BlockDeviceException.Kind kind, String message) implements PgResult {}
}
