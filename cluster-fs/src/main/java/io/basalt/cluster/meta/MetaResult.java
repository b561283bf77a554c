package io.basalt.cluster.meta;

/** What applying a {@link MetaCommand} produced: the same on every replica. */
public sealed interface MetaResult {

    /** Applied; nothing to report. */
    record Done() implements MetaResult {}

    /** A vdisk was created or changed: its descriptor after the change. */
    record VdiskChanged(VdiskRecord vdisk) implements MetaResult {}

    /** What a {@link MetaCommand.Lock} did (a refusal by the lock table included). */
    record LockApplied(io.basalt.lock.LockResult result) implements MetaResult {}

    /**
     * Refused: nothing changed. The message names the bad value and what would have been
     * accepted; it is deterministic, so every replica refuses the same way.
     */
    record Rejected(String message) implements MetaResult {}
}
