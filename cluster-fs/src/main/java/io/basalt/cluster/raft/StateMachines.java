package io.basalt.cluster.raft;

import org.apache.ratis.statemachine.StateMachine;

import io.basalt.vdisk.store.VdiskStore;

/** Factories for the cluster's state machines (their classes stay package-private). */
public final class StateMachines {
    private StateMachines() {}

    public static StateMachine meta() {
        return new MetaStateMachine();
    }

    /** {@code reserve}: refuse entries that take space below it; null for no check. */
    public static StateMachine pg(int pg, VdiskStore.Options options, DiskReserve reserve) {
        return new PgStateMachine(pg, options, reserve);
    }

    /** The nodes' space reports held by a meta replica (its applied state: may lag the leader's a little). */
    public static java.util.List<io.basalt.cluster.meta.NodeSpace> metaSpaces(StateMachine metaStateMachine) {
        return ((MetaStateMachine) metaStateMachine).spaces();
    }

    /** The lock events a meta replica has applied (null while its store is closed). */
    public static io.basalt.lock.LockEvents metaLockEvents(StateMachine metaStateMachine) {
        return ((MetaStateMachine) metaStateMachine).lockEvents();
    }

    /** The lease timers of a meta replica. */
    public static MetaLeases metaLeases(StateMachine metaStateMachine) {
        return new MetaLeases((MetaStateMachine) metaStateMachine);
    }

    /** The open store behind a PG state machine (null while it is closed or being replaced). */
    public static io.basalt.cluster.pg.PgStore pgStore(StateMachine pgStateMachine) {
        return ((PgStateMachine) pgStateMachine).store();
    }

    /** The scrub counters and asks of a PG replica (they outlive its store). */
    public static io.basalt.cluster.pg.PgScrubState pgScrub(StateMachine pgStateMachine) {
        return ((PgStateMachine) pgStateMachine).scrub();
    }
}
