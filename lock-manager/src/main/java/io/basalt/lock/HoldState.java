package io.basalt.lock;

/**
 * Where a host stands on a vdisk's lock, as its own client sees it, and what its writes do:
 * the client self-fences (docs/architecture.md, "Locks and fencing") but tells a lease it could
 * not confirm from one it lost.
 */
public enum HoldState {
    /** Held, and the lease is confirmed: writes are sent with the grant's token. */
    HELD,
    /**
     * Held when last heard, but the lease ran out on the host's clock before a renewal got
     * through (the lock table unreachable: a partition, a quorum outage). Writes are not sent; they
     * fail as a passing condition the caller may retry: a new lock-table leader restarts every
     * lease, so the next renewal may well succeed, and then writes go on with the same token.
     */
    UNCONFIRMED,
    /** Not held: never taken, released, handed off, broken, or the session is gone. Writes fail as fenced. */
    LOST
}
