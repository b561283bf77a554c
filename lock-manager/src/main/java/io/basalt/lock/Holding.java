package io.basalt.lock;

/**
 * One session's hold on one vdisk. A writer's {@code token} rides on every write it sends; the
 * storage refuses it once the vdisk's fence has risen above it.
 */
public record Holding(long sessionId, LockMode mode, long token) {
    public Holding {
        if (mode == null) {
            throw new IllegalArgumentException("mode: null session=" + sessionId);
        }
        if (token <= 0) {
            throw new IllegalArgumentException("token: " + token + " (expected: > 0) session=" + sessionId);
        }
    }
}
