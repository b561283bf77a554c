package io.basalt.chaos;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * A recorded history of reads and writes of registers (each a block range written whole), and
 * its linearizability check. Every write writes a value no other write uses, so a read names
 * the write it saw, and a register's history is linearizable exactly when the "zones" of its
 * values are arranged as Gibbons and Korach showed (Testing Shared Memories, SIAM J. Comput.
 * 1997; the form used here is Golab, Li and Shah, PODC 2011): a value's cluster is its write and
 * the reads that returned it; its zone runs from the earliest completion in the cluster to the
 * latest invocation. When the earliest completion comes first the zone is <em>forward</em>
 * (the value was seen after some op of the cluster had ended, so it must have held over that
 * whole span), otherwise <em>backward</em>. The history is linearizable iff no read completes
 * before its write was invoked, no two forward zones overlap, and no backward zone lies inside a
 * forward zone.
 *
 * <p>Outcomes: an operation that failed or timed out may or may not have taken effect. A write
 * with an unknown outcome that no read saw is left out (a linearization where it did not take
 * effect exists); one a read saw took effect, at an unknown time after its invocation (its
 * completion counts as the end of time). Failed reads are left out. The register's initial
 * value (all zeros, value 0) is a write that completed before the history began.
 */
public final class RegisterHistory {
    /** How an operation ended. */
    public enum Outcome { OK, UNKNOWN }

    /** One operation; {@code value} is what a write wrote or a read returned; times are {@link System#nanoTime}. */
    public record Op(int register, boolean write, long value, long invokedNs, long completedNs, Outcome outcome) {
        @Override
        public String toString() {
            return (write ? "write" : "read") + "(r" + register + ", " + Long.toHexString(value) + ") [" + invokedNs + ", "
                    + (outcome == Outcome.UNKNOWN ? "?" : Long.toString(completedNs)) + "]";
        }
    }

    private final ConcurrentLinkedQueue<Op> ops = new ConcurrentLinkedQueue<>();

    public void add(Op op) {
        ops.add(op);
    }

    public List<Op> ops() {
        return List.copyOf(ops);
    }

    /** Every violation found, one line each (empty: the history is linearizable). */
    public List<String> check() {
        Map<Integer, List<Op>> byRegister = new TreeMap<>();
        for (Op op : ops) {
            byRegister.computeIfAbsent(op.register(), r -> new ArrayList<>()).add(op);
        }
        List<String> violations = new ArrayList<>();
        byRegister.forEach((register, list) -> checkRegister(register, list, violations));
        return violations;
    }

    private record Zone(long value, long from, long to, boolean forward) {}

    private static void checkRegister(int register, List<Op> list, List<String> violations) {
        Map<Long, Op> writes = new HashMap<>();
        for (Op op : list) {
            if (op.write() && writes.put(op.value(), op) != null) {
                throw new IllegalArgumentException("register " + register + ": value " + Long.toHexString(op.value()) + " written twice");
            }
        }
        // value -> {earliest completion, latest invocation} over its cluster
        Map<Long, long[]> clusters = new HashMap<>();
        for (Op w : writes.values()) {
            if (w.outcome() == Outcome.OK) {
                clusters.put(w.value(), new long[] {w.completedNs(), w.invokedNs()});
            }
        }
        for (Op r : list) {
            if (r.write() || r.outcome() != Outcome.OK) {
                continue;
            }
            Op w = writes.get(r.value());
            long writeInvoked;
            long writeCompleted;
            if (r.value() == 0) {
                writeInvoked = Long.MIN_VALUE;
                writeCompleted = Long.MIN_VALUE;
            } else if (w == null) {
                violations.add("register " + register + ": " + r + " returned a value no write wrote");
                continue;
            } else {
                writeInvoked = w.invokedNs();
                writeCompleted = w.outcome() == Outcome.OK ? w.completedNs() : Long.MAX_VALUE;
            }
            if (r.completedNs() < writeInvoked) {
                violations.add("register " + register + ": " + r + " completed before its write was invoked: " + w);
                continue;
            }
            long[] c = clusters.computeIfAbsent(r.value(), v -> new long[] {writeCompleted, writeInvoked});
            c[0] = Math.min(c[0], r.completedNs());
            c[1] = Math.max(c[1], r.invokedNs());
        }
        List<Zone> forward = new ArrayList<>();
        List<Zone> backward = new ArrayList<>();
        clusters.forEach((value, c) -> {
            if (c[0] < c[1]) {
                forward.add(new Zone(value, c[0], c[1], true));
            } else {
                backward.add(new Zone(value, c[1], c[0], false));
            }
        });
        forward.sort(Comparator.comparingLong(Zone::from));
        for (int i = 1; i < forward.size(); i++) {
            Zone a = forward.get(i - 1);
            Zone b = forward.get(i);
            if (b.from() < a.to()) {
                violations.add("register " + register + ": values " + describe(a, list) + " and " + describe(b, list)
                        + " were each seen as current over overlapping spans");
            }
        }
        for (Zone b : backward) {
            for (Zone f : forward) {
                if (f.from() < b.from() && b.to() < f.to()) {
                    violations.add("register " + register + ": value " + describe(b, list) + " came and went while "
                            + describe(f, list) + " was current (a stale or lost write)");
                }
            }
        }
    }

    private static String describe(Zone z, List<Op> list) {
        StringBuilder b = new StringBuilder(Long.toHexString(z.value())).append(" {");
        list.stream().filter(op -> op.value() == z.value()).limit(6).forEach(op -> b.append(op).append("; "));
        return b.append("}").toString();
    }
}
