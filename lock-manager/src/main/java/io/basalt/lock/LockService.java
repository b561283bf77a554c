package io.basalt.lock;

import java.util.Collection;
import java.util.Optional;

/**
 * Where a {@link LockTable} lives, as its users see it: the meta group in a cluster, the embedded
 * store on one machine. Every change goes through {@link #submit}, which returns once the
 * command is applied (in a cluster: committed in the meta log and applied by its leader).
 */
public interface LockService {

    /**
     * Applies {@code command} and returns what it did; a refusal is a {@link LockResult.Refused},
     * not an exception. Throws when the command could not be delivered or its outcome is unknown
     * (no quorum, timeout): it may or may not have been applied.
     */
    LockResult submit(LockCommand command);

    /** The open sessions, by id. */
    Collection<Session> sessions();

    /** Every vdisk's lock record (held or not), by vdisk name. */
    Collection<VdiskLock> locks();

    /** The lock record of {@code vdisk}; empty when it was never locked (or was forgotten). */
    Optional<VdiskLock> lock(String vdisk);
}
