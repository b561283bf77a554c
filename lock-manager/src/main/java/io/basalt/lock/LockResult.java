package io.basalt.lock;

import java.util.List;

/** What applying a {@link LockCommand} did. */
public sealed interface LockResult {

    /** What a holder needs to use its lock: the token its writes carry and the fence to raise before the first. */
    record Grant(String vdisk, long sessionId, LockMode mode, long token, long fence) {}

    record SessionOpened(Session session) implements LockResult {}

    /** A renewal; {@code grants} are the session's current locks (a multi-writer's token may have changed). */
    record SessionRenewed(Session session, List<Grant> grants) implements LockResult {
        public SessionRenewed {
            grants = List.copyOf(grants);
        }
    }

    /** The session closed or expired; {@code changed} are the locks it held, as they are now (fences raised). */
    record SessionEnded(long sessionId, boolean expired, List<VdiskLock> changed) implements LockResult {
        public SessionEnded {
            changed = List.copyOf(changed);
        }
    }

    record Granted(Grant grant) implements LockResult {}

    record Released(String vdisk, long sessionId, VdiskLock after) implements LockResult {}

    record HandedOff(Grant grant, long fromSessionId, VdiskLock after) implements LockResult {}

    record Broken(String vdisk, List<Long> sessionIds, VdiskLock after) implements LockResult {
        public Broken {
            sessionIds = List.copyOf(sessionIds);
        }
    }

    record Forgotten(String vdisk) implements LockResult {}

    /** Nothing changed. */
    record Refused(Reason reason, String message) implements LockResult {}

    enum Reason {
        /** The session does not exist (never opened, closed or expired). */
        NO_SESSION,
        /** Another session holds the vdisk in a mode that does not coexist with the one asked for. */
        CONFLICT,
        /** The session does not hold the vdisk (or not in the mode the command needs). */
        NOT_HOLDER,
        /** An expiry decided before a renewal that has since been applied. */
        STALE,
        /** A malformed command (blank name, bad lease). */
        INVALID
    }
}
