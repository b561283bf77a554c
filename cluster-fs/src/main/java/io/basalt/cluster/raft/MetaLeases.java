package io.basalt.cluster.raft;

import java.util.List;

import io.basalt.lock.LockCommand;

/**
 * The lease timers of one meta replica, for the node's lease monitor: it restarts them all when
 * this replica becomes leader and proposes the expiries they find. The timers themselves follow
 * the applied log (see {@link MetaStateMachine}).
 */
public final class MetaLeases {
    private final MetaStateMachine stateMachine;

    MetaLeases(MetaStateMachine stateMachine) {
        this.stateMachine = stateMachine;
    }

    /** Gives every open session a full lease from {@code nowNanos} ({@link System#nanoTime}). */
    public void restartAll(long nowNanos) {
        stateMachine.restartLeases(nowNanos);
    }

    /** The expiries to propose at {@code nowNanos}. */
    public List<LockCommand.ExpireSession> expired(long nowNanos) {
        return stateMachine.expiredLeases(nowNanos);
    }

    /** Forgets the timer of a session the table no longer holds. */
    public void ended(long sessionId) {
        stateMachine.leaseEnded(sessionId);
    }
}
