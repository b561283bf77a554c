package io.basalt.lock;

/**
 * A change to the lock table: one meta-group log entry in a cluster, one step of the embedded
 * store's lock log on one machine. Wall-clock times ({@code nowMs}) are stamped by the proposer
 * and only displayed, so applying a command is deterministic.
 */
public sealed interface LockCommand {

    /** Opens a session for {@code host}; its id is the index of this command. */
    record OpenSession(String host, long leaseMs, long nowMs) implements LockCommand {}

    /** One heartbeat: renews the session and with it every lock it holds. */
    record RenewSession(long sessionId, long nowMs) implements LockCommand {}

    /** The host leaves cleanly: every lock it holds is released. */
    record CloseSession(long sessionId) implements LockCommand {}

    /**
     * The leader's lease timer for the session ran out ({@link LeaseTimers}). Ignored when the
     * session was renewed after the timer was read ({@code renewedAtIndex} no longer matches).
     */
    record ExpireSession(long sessionId, long renewedAtIndex) implements LockCommand {}

    /** Takes, or changes the mode of (upgrade, downgrade), the session's lock on a vdisk. */
    record Acquire(long sessionId, String vdisk, LockMode mode) implements LockCommand {}

    /** Gives the session's lock on a vdisk up. */
    record Release(long sessionId, String vdisk) implements LockCommand {}

    /**
     * Moves an exclusive lock from one session to another in one step (live migration's
     * switch-over). The receiver may already hold the vdisk shared-read.
     */
    record Handoff(String vdisk, long fromSessionId, long toSessionId) implements LockCommand {}

    /** An operator's break: every holder loses the vdisk and the fence rises above them all. */
    record Break(String vdisk) implements LockCommand {}

    /** Forgets an unheld vdisk's lock record (the vdisk was removed). */
    record Forget(String vdisk) implements LockCommand {}
}
