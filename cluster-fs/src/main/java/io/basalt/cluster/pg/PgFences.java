package io.basalt.cluster.pg;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.basalt.vdisk.FencedException;
import io.basalt.vdisk.store.EntryBatch;
import io.basalt.vdisk.store.Vdisk;

/**
 * The placement group's fence check (docs/architecture.md, "Locks and fencing"): each
 * {@link PgOp.FencedMutation} of an entry is checked, in log order, against the vdisk's fence as
 * the entry's earlier ops left it ({@link EntryBatch#checkFence}, the engine's rule), so a
 * writer's op that reaches the log after a newer holder raised the fence is refused on every
 * replica alike, however late it was sent.
 *
 * <p>{@value #SKIP_PROPERTY}: a switch for one test only, which shows that without this check a
 * stale write does land (so the fencing test can fail). Read once per store, when it opens, and
 * logged as an error while on. Never set it on a real node.
 */
final class PgFences {
    static final String SKIP_PROPERTY = "basalt.test.skipPgFenceCheck";
    private static final Logger log = LoggerFactory.getLogger(PgFences.class);

    private final boolean skip;

    PgFences(String logName) {
        this.skip = Boolean.getBoolean(SKIP_PROPERTY);
        if (skip) {
            log.error("{}: -D{}=true: this PG does NOT check fencing tokens; stale writers can overwrite data. Test use only.",
                    logName, SKIP_PROPERTY);
        }
    }

    /** Null when {@code token} may mutate {@code v} at this point of the entry; else the refusal. */
    PgResult check(EntryBatch batch, Vdisk v, long vdiskId, long token) {
        if (skip) {
            return null;
        }
        try {
            batch.checkFence(v, token);
            return null;
        } catch (FencedException e) {
            return new PgResult.Fenced(vdiskId, e.token(), e.fence());
        }
    }
}
