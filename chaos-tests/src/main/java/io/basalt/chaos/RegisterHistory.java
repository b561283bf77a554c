package io.basalt.chaos;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
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
 *
 * <p>Each violation comes with its witness: the few operations that alone cannot be linearized
 * (the writes of the values involved and the operations that bound their zones), and the time
 * window they span; {@link #smallestViolation} is the one with the narrowest window, the place
 * to start reading a failed run.
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

    /**
     * A violation: what is wrong, and the operations that show it. {@code fromNs}..{@code toNs}
     * spans them (an operation of unknown outcome counts up to its invocation).
     */
    public record Violation(int register, String message, List<Op> witness, long fromNs, long toNs) {
        public Violation {
            witness = List.copyOf(witness);
            if (fromNs > toNs) {
                throw new IllegalArgumentException("window: " + fromNs + ".." + toNs + " (expected: from <= to) " + message);
            }
        }

        public long windowNs() {
            return toNs - fromNs;
        }

        static Violation of(int register, String message, Set<Op> witness) {
            long from = witness.stream().mapToLong(Op::invokedNs).min().orElseThrow();
            long to = witness.stream().mapToLong(op -> op.outcome() == Outcome.OK ? op.completedNs() : op.invokedNs()).max().orElseThrow();
            return new Violation(register, message, List.copyOf(witness), from, Math.max(from, to));
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
        return violations().stream().map(Violation::message).toList();
    }

    /** Every violation found, with its witness. */
    public List<Violation> violations() {
        Map<Integer, List<Op>> byRegister = new TreeMap<>();
        for (Op op : ops) {
            byRegister.computeIfAbsent(op.register(), r -> new ArrayList<>()).add(op);
        }
        List<Violation> violations = new ArrayList<>();
        byRegister.forEach((register, list) -> checkRegister(register, list, violations));
        return violations;
    }

    /** The violation whose witness spans the shortest time, if any. */
    public Optional<Violation> smallestViolation() {
        return violations().stream().min(Comparator.comparingLong(Violation::windowNs));
    }

    /**
     * A value's cluster: its write (null for the initial zeros) and the operations that bound its
     * zone, the earliest completion ({@code first}) and the latest invocation ({@code last}).
     */
    private static final class Cluster {
        final long value;
        final Op write;
        long earliestCompletedNs;
        Op first;
        long latestInvokedNs;
        Op last;

        Cluster(long value, Op write, long completedNs, long invokedNs) {
            this.value = value;
            this.write = write;
            this.earliestCompletedNs = completedNs;
            this.first = write;
            this.latestInvokedNs = invokedNs;
            this.last = write;
        }

        void add(Op read) {
            if (read.completedNs() < earliestCompletedNs) {
                earliestCompletedNs = read.completedNs();
                first = read;
            }
            if (read.invokedNs() > latestInvokedNs) {
                latestInvokedNs = read.invokedNs();
                last = read;
            }
        }

        boolean forward() {
            return earliestCompletedNs < latestInvokedNs;
        }

        long from() {
            return forward() ? earliestCompletedNs : latestInvokedNs;
        }

        long to() {
            return forward() ? latestInvokedNs : earliestCompletedNs;
        }

        void addWitness(Set<Op> witness) {
            for (Op op : new Op[] {write, first, last}) {
                if (op != null) {
                    witness.add(op);
                }
            }
        }
    }

    private static void checkRegister(int register, List<Op> list, List<Violation> violations) {
        Map<Long, Op> writes = new HashMap<>();
        for (Op op : list) {
            if (op.write() && writes.put(op.value(), op) != null) {
                throw new IllegalArgumentException("register " + register + ": value " + Long.toHexString(op.value()) + " written twice");
            }
        }
        Map<Long, Cluster> clusters = new HashMap<>();
        for (Op w : writes.values()) {
            if (w.outcome() == Outcome.OK) {
                clusters.put(w.value(), new Cluster(w.value(), w, w.completedNs(), w.invokedNs()));
            }
        }
        for (Op r : list) {
            if (r.write() || r.outcome() != Outcome.OK) {
                continue;
            }
            Op w = writes.get(r.value());
            if (r.value() != 0 && w == null) {
                violations.add(Violation.of(register, "register " + register + ": " + r + " returned a value no write wrote", Set.of(r)));
                continue;
            }
            long writeInvoked = w == null ? Long.MIN_VALUE : w.invokedNs();
            long writeCompleted = w == null ? Long.MIN_VALUE : w.outcome() == Outcome.OK ? w.completedNs() : Long.MAX_VALUE;
            if (r.completedNs() < writeInvoked) {
                violations.add(Violation.of(register, "register " + register + ": " + r + " completed before its write was invoked: " + w,
                        Set.of(r, w)));
                continue;
            }
            clusters.computeIfAbsent(r.value(), v -> new Cluster(v, w, writeCompleted, writeInvoked)).add(r);
        }
        List<Cluster> forward = new ArrayList<>(clusters.values().stream().filter(Cluster::forward).toList());
        forward.sort(Comparator.comparingLong(Cluster::from));
        for (int i = 1; i < forward.size(); i++) {
            Cluster a = forward.get(i - 1);
            Cluster b = forward.get(i);
            if (b.from() < a.to()) {
                violations.add(witnessed(register, "register " + register + ": values " + describe(a, list) + " and " + describe(b, list)
                        + " were each seen as current over overlapping spans", a, b));
            }
        }
        for (Cluster b : clusters.values()) {
            if (b.forward()) {
                continue;
            }
            for (Cluster f : forward) {
                if (f.from() < b.from() && b.to() < f.to()) {
                    violations.add(witnessed(register, "register " + register + ": value " + describe(b, list) + " came and went while "
                            + describe(f, list) + " was current (a stale or lost write)", b, f));
                }
            }
        }
    }

    private static Violation witnessed(int register, String message, Cluster a, Cluster b) {
        Set<Op> witness = new LinkedHashSet<>();
        a.addWitness(witness);
        b.addWitness(witness);
        if (witness.isEmpty()) {
            throw new IllegalStateException("no operation bounds the zones of " + Long.toHexString(a.value) + " and " + Long.toHexString(b.value));
        }
        return Violation.of(register, message, witness);
    }

    private static String describe(Cluster z, List<Op> list) {
        StringBuilder b = new StringBuilder(Long.toHexString(z.value)).append(" {");
        list.stream().filter(op -> op.value() == z.value).limit(6).forEach(op -> b.append(op).append("; "));
        return b.append("}").toString();
    }
}
