package io.basalt.chaos;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The locks-and-fencing check (docs/chaos.md, "locks"): hosts take a vdisk's exclusive lock,
 * raise its fence on every placement group, and write blocks that carry who wrote them: the
 * host, the fencing token the write was sent with, and the host's sequence number
 * ({@link Stamp}). What the history must show:
 *
 * <ul>
 *   <li>no write whose token is below a fence that <em>completed</em> (raised on every PG) before
 *       the write was invoked took effect: neither acknowledged ({@code ok}) nor seen by a read;</li>
 *   <li>every block read holds the data of a legitimate holder: a write that was invoked (before
 *       the read completed) by a host that had been granted the token it carries on that vdisk,
 *       and that was not reported refused ({@code fail}: a PG's fence refused it, or the host's
 *       device did not send it); or zeros while no write to it was acknowledged before the read;
 *       never a torn block.</li>
 * </ul>
 *
 * A write invoked before the fence completed may land or not (it was in flight when the lock
 * moved), so only writes invoked after it are judged. Pure: built from the recorded operations.
 */
public final class LocksCheck {
    /** Bytes of one stamp in a block: host, token, sequence and a check word; repeated to fill the block. */
    static final int STAMP_BYTES = 32;
    private static final long CHECK_SALT = 0x6c6f636b73L; // "locks"

    /** Who wrote a block: host index, the token the write carried, the host's sequence number. */
    public record Stamp(int host, long token, long seq) {
        @Override
        public String toString() {
            return "host " + host + " token " + token + " seq " + seq;
        }

        private long check() {
            return (host * 0x9E3779B97F4A7C15L) ^ (token * 0xC2B2AE3D27D4EB4FL) ^ seq ^ CHECK_SALT;
        }
    }

    /** What a block read showed: a stamp, zeros (never written), or neither (torn: {@code stamp} empty, {@code zero} false). */
    public record Seen(Optional<Stamp> stamp, boolean zero) {
        static final Seen ZERO = new Seen(Optional.empty(), true);
        static final Seen TORN = new Seen(Optional.empty(), false);

        static Seen of(Stamp s) {
            return new Seen(Optional.of(s), false);
        }

        @Override
        public String toString() {
            return stamp.map(Stamp::toString).orElse(zero ? "zeros" : "a torn block");
        }
    }

    /** A lock granted ({@code ok} acquire): {@code host} may write {@code vdisk} with {@code token}. */
    public record Grant(int host, int vdisk, long token, long completedNs) {}

    /** A fence raised to {@code fence} on every PG of {@code vdisk}, done at {@code completedNs}. */
    public record Fence(int host, int vdisk, long fence, long completedNs) {}

    /** A write of {@code stamp} to block {@code slot} of {@code vdisk}; {@code outcome} as in the history. */
    public record Write(int vdisk, int slot, Stamp stamp, long invokedNs, long completedNs, History.Type outcome) {}

    /** A successful read of block {@code slot} of {@code vdisk}. */
    public record Read(int vdisk, int slot, Seen seen, long invokedNs, long completedNs) {}

    /** What the check found. */
    public record Result(long writesChecked, long readsChecked, long fencesCompleted, List<String> violations) {
        public Result {
            violations = List.copyOf(violations);
        }

        public boolean valid() {
            return violations.isEmpty();
        }
    }

    private LocksCheck() {}

    /** Checks the run's grants, completed fences, writes and successful reads. */
    public static Result check(List<Grant> grants, List<Fence> fences, List<Write> writes, List<Read> reads) {
        Set<String> granted = new HashSet<>();
        grants.forEach(g -> granted.add(g.host() + "/" + g.vdisk() + "/" + g.token()));
        Map<String, Write> byStamp = new HashMap<>();
        for (Write w : writes) {
            if (byStamp.put(key(w.vdisk(), w.slot(), w.stamp()), w) != null) {
                throw new IllegalArgumentException("write " + w.stamp() + " to vdisk " + w.vdisk() + " slot " + w.slot() + " recorded twice");
            }
        }
        List<String> violations = new ArrayList<>();
        for (Write w : writes) {
            if (!granted.contains(w.stamp().host() + "/" + w.vdisk() + "/" + w.stamp().token())) {
                violations.add(where(w.vdisk(), w.slot()) + "write " + w.stamp() + " carries a token never granted to that host");
            } else if (w.outcome() == History.Type.ok) {
                staleness(fences, w).ifPresent(f -> violations.add(where(w.vdisk(), w.slot()) + "write " + w.stamp() + " " + window(w.invokedNs(), w.completedNs())
                        + " was acknowledged, yet fence " + f.fence() + " (host " + f.host() + ") completed at " + f.completedNs() + ", before it was invoked"));
            }
        }
        for (Read r : reads) {
            judge(r, byStamp, granted, fences, writes).ifPresent(violations::add);
        }
        return new Result(writes.size(), reads.size(), fences.size(), violations);
    }

    /** What is wrong with what {@code r} saw, if anything. */
    private static Optional<String> judge(Read r, Map<String, Write> byStamp, Set<String> granted, List<Fence> fences, List<Write> writes) {
        String at = where(r.vdisk(), r.slot()) + "read " + window(r.invokedNs(), r.completedNs()) + " saw ";
        if (r.seen().zero()) {
            return writes.stream().filter(w -> w.vdisk() == r.vdisk() && w.slot() == r.slot() && w.outcome() == History.Type.ok
                    && w.completedNs() < r.invokedNs()).findFirst()
                    .map(w -> at + "zeros after write " + w.stamp() + " was acknowledged at " + w.completedNs());
        }
        if (r.seen().stamp().isEmpty()) {
            return Optional.of(at + "a torn block (not one stamp repeated)");
        }
        Stamp s = r.seen().stamp().get();
        Write w = byStamp.get(key(r.vdisk(), r.slot(), s));
        if (w == null) {
            return Optional.of(at + s + ", which no write of this block wrote");
        }
        if (!granted.contains(s.host() + "/" + r.vdisk() + "/" + s.token())) {
            return Optional.of(at + s + ": not a legitimate holder (token never granted to that host)");
        }
        if (w.outcome() == History.Type.fail) {
            return Optional.of(at + s + ", a write that was refused (fenced or not sent): it must not have been applied");
        }
        if (w.invokedNs() > r.completedNs()) {
            return Optional.of(at + s + " before that write was invoked at " + w.invokedNs());
        }
        return staleness(fences, w).map(f -> at + s + ", a write invoked at " + w.invokedNs() + " with token " + s.token() + " below fence " + f.fence()
                + " (host " + f.host() + "), which completed at " + f.completedNs() + ": a fenced write was applied");
    }

    /** The first fence of {@code w}'s vdisk above {@code w}'s token that completed before {@code w} was invoked. */
    private static Optional<Fence> staleness(List<Fence> fences, Write w) {
        return fences.stream().filter(f -> f.vdisk() == w.vdisk() && f.fence() > w.stamp().token() && f.completedNs() < w.invokedNs())
                .min(java.util.Comparator.comparingLong(Fence::completedNs));
    }

    private static String key(int vdisk, int slot, Stamp s) {
        return vdisk + "/" + slot + "/" + s.host() + "/" + s.token() + "/" + s.seq();
    }

    private static String where(int vdisk, int slot) {
        return "vdisk " + vdisk + " slot " + slot + ": ";
    }

    private static String window(long fromNs, long toNs) {
        return "[" + fromNs + ", " + (toNs == Long.MAX_VALUE ? "?" : Long.toString(toNs)) + "]";
    }

    /** A block of {@code sizeBytes} holding {@code s} repeated. */
    static ByteBuffer encode(Stamp s, int sizeBytes) {
        if (sizeBytes % STAMP_BYTES != 0) {
            throw new IllegalArgumentException("sizeBytes: " + sizeBytes + " (expected: a multiple of " + STAMP_BYTES + ")");
        }
        ByteBuffer b = ByteBuffer.allocate(sizeBytes);
        while (b.hasRemaining()) {
            b.putLong(s.host()).putLong(s.token()).putLong(s.seq()).putLong(s.check());
        }
        return b.flip();
    }

    /** What a block read holds: one stamp repeated, zeros, or torn. */
    static Seen decode(ByteBuffer b) {
        int from = b.position();
        int length = b.remaining();
        if (length == 0 || length % STAMP_BYTES != 0) {
            return Seen.TORN;
        }
        boolean zero = true;
        for (int i = from; i < b.limit(); i += 8) {
            if (b.getLong(i) != 0) {
                zero = false;
                break;
            }
        }
        if (zero) {
            return Seen.ZERO;
        }
        long host = b.getLong(from);
        Stamp s = new Stamp((int) host, b.getLong(from + 8), b.getLong(from + 16));
        if (host != s.host() || b.getLong(from + 24) != s.check()) {
            return Seen.TORN;
        }
        for (int i = from; i < b.limit(); i += STAMP_BYTES) {
            if (b.getLong(i) != host || b.getLong(i + 8) != s.token() || b.getLong(i + 16) != s.seq() || b.getLong(i + 24) != s.check()) {
                return Seen.TORN;
            }
        }
        return Seen.of(s);
    }
}
