package io.basalt.lock;

import java.util.List;
import java.util.Optional;

/**
 * The lock state of one vdisk.
 *
 * @param holders   the sessions holding it, in session-id order
 * @param fence     the lowest token a write may carry; every placement group (or the engine) must
 *                  be raised to it before a writer that needs it writes. 0: never fenced.
 * @param lastToken the highest token ever issued for this vdisk; the next is strictly greater
 */
public record VdiskLock(String vdisk, List<Holding> holders, long fence, long lastToken) {
    public VdiskLock {
        holders = List.copyOf(holders);
        if (fence < 0 || fence > lastToken) {
            throw new IllegalArgumentException("fence: " + fence + " (expected: 0..lastToken " + lastToken + ") vdisk=" + vdisk);
        }
    }

    public Optional<Holding> holding(long sessionId) {
        return holders.stream().filter(h -> h.sessionId() == sessionId).findFirst();
    }

    /** The exclusive holder, if any. */
    public Optional<Holding> exclusive() {
        return holders.stream().filter(h -> h.mode() == LockMode.EXCLUSIVE).findFirst();
    }
}
