package io.basalt.lock;

/**
 * A lock command the table refused ({@link LockResult.Refused}): nothing changed. The message is
 * the table's own, which names the vdisk, the sessions and what would have been accepted.
 */
public final class LockRefusedException extends RuntimeException {
    private final LockResult.Reason reason;

    public LockRefusedException(LockResult.Refused refused) {
        super(refused.message());
        this.reason = refused.reason();
    }

    public LockResult.Reason reason() {
        return reason;
    }
}
