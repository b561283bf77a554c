package io.basalt.cluster.meta;

/**
 * A host's session with the cluster: the seam the lock table builds on. Expiry is decided by the
 * meta leader on its monotonic clock (docs/architecture.md); the stored times are leader-stamped wall
 * clock values kept only for display.
 */
public record HostSession(long id, String hostName, long leaseMs, long renewedAtMs) {
    public HostSession {
        if (leaseMs <= 0) {
            throw new IllegalArgumentException("leaseMs: " + leaseMs + " (expected: > 0) host=" + hostName);
        }
    }

    HostSession renewedAt(long nowMs) {
        return new HostSession(id, hostName, leaseMs, nowMs);
    }
}
