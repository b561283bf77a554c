package io.basalt.vdisk;

/**
 * A mutation refused because it carried a fencing token below the vdisk's fence: it came from
 * a lock holder that has since been replaced (a paused or partitioned "zombie"), so nothing of
 * it was written. Not retryable: the sender must take the lock again and get a new token.
 *
 * <p>The rule ({@link #check}, the one place it is written): every lock grant hands out a
 * fencing token, strictly increasing per vdisk; the lock table (the lock-manager) decides the
 * values. Before its first write a new holder raises the vdisk's fence to its token; from then
 * on a mutation is admitted only if {@code token >= fence}. Token 0 means "no lock": it passes
 * only while the fence is 0 (a vdisk that was never locked), so lock-less users keep working
 * until the first lock raises a fence. The engine stores and enforces the fence of each vdisk;
 * it never chooses one.
 */
public final class FencedException extends RuntimeException {
    private final String vdisk;
    private final long token;
    private final long fence;

    public FencedException(String vdisk, long token, long fence) {
        super("FENCED: vdisk=" + vdisk + " token=" + token + " (expected: >= fence " + fence + ")");
        this.vdisk = vdisk;
        this.token = token;
        this.fence = fence;
    }

    /**
     * The rule: throws when {@code token < fence}; a negative token or fence is a caller's bug
     * (tokens and fences start at 0) and throws {@link IllegalArgumentException}.
     */
    public static void check(String vdisk, long token, long fence) {
        if (token < fence || token < 0) {
            if (token < 0 || fence < 0) {
                throw new IllegalArgumentException("fencing token " + token + ", fence " + fence + " (expected: both >= 0) vdisk=" + vdisk);
            }
            throw new FencedException(vdisk, token, fence);
        }
    }

    /** The vdisk whose fence refused the mutation (its engine name). */
    public String vdisk() {
        return vdisk;
    }

    /** The token the refused mutation carried. */
    public long token() {
        return token;
    }

    /** The vdisk's fence when the mutation was refused. */
    public long fence() {
        return fence;
    }
}
