package io.basalt.node.cluster;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;

/**
 * The zombie test's checker, a plain function of what the two writers printed and what the slots
 * hold afterwards: {@link #check} lists every way the run broke the fencing promise
 * (docs/architecture.md, "Locks and fencing"), and the counts it saw. The same function judges
 * the run with the PGs' check switched off, which must break it.
 *
 * <p>The promise, for a zombie A replaced by B: nothing A sends after B raised the fence is
 * applied, so every block holds B's data or data A wrote before the takeover (B writes every
 * slot, so after B it is B's last write to the slot, or A's write overwrote it after the fence);
 * A learns it was fenced; and, when the run delivered A's stale writes to the PGs, at least one
 * was refused there with FENCED (A's own self-fence would pass the data check alone).
 */
record ZombieVerdict(Counts a, Counts b, List<String> violations) {
    /**
     * One writer's outcomes: acknowledged, not sent while its lease was unconfirmed, refused by
     * itself, refused by a PG, failed otherwise; and writes it left unresolved.
     */
    record Counts(int ok, int unconfirmed, int fencedSelf, int fencedPg, int error, int unresolved) {
        static Counts of(List<ZombieEvent> events) {
            int[] n = new int[ZombieEvent.Kind.values().length];
            int unresolved = -1;
            for (ZombieEvent e : events) {
                switch (e) {
                    case ZombieEvent.Outcome o -> n[o.kind().ordinal()]++;
                    case ZombieEvent.Done d -> unresolved = d.unresolvedCount();
                    case ZombieEvent.Locked l -> { }
                }
            }
            return new Counts(n[ZombieEvent.Kind.OK.ordinal()], n[ZombieEvent.Kind.UNCONFIRMED.ordinal()], n[ZombieEvent.Kind.FENCED_SELF.ordinal()],
                    n[ZombieEvent.Kind.FENCED_PG.ordinal()], n[ZombieEvent.Kind.ERROR.ordinal()], unresolved);
        }
    }

    boolean holds() {
        return violations.isEmpty();
    }

    /**
     * Judges one run. {@code aEvents}, {@code bEvents}: the zombie's and the new holder's lines;
     * {@code slots}: each slot's block as read back after both ended; {@code pgRefusalRequired}:
     * whether A's stale writes reached the PGs (a partition healed with writes in flight), so
     * that at least one FENCED at a PG is owed.
     */
    static ZombieVerdict check(List<ZombieEvent> aEvents, List<ZombieEvent> bEvents, SortedMap<Integer, ByteBuffer> slots,
                               boolean pgRefusalRequired) {
        Counts a = Counts.of(aEvents);
        Counts b = Counts.of(bEvents);
        List<String> violations = new ArrayList<>();
        Optional<ZombieEvent.Locked> lockedA = locked(aEvents);
        Optional<ZombieEvent.Locked> lockedB = locked(bEvents);
        if (lockedA.isEmpty() || lockedB.isEmpty()) {
            violations.add("a writer never held the lock: A " + lockedA + ", B " + lockedB);
            return new ZombieVerdict(a, b, violations);
        }
        long takeoverMs = lockedB.get().atMs();
        long tokenA = lockedA.get().token();
        if (lockedB.get().token() <= tokenA) {
            violations.add("B's token " + lockedB.get().token() + " (expected: > A's token " + tokenA + ")");
        }
        checkB(bEvents, b, violations);
        Map<Long, ZombieEvent.Outcome> outcomesA = outcomes(aEvents);
        for (ZombieEvent.Outcome o : outcomesA.values()) {
            if (o.kind() == ZombieEvent.Kind.OK && o.issuedMs() >= takeoverMs) {
                violations.add("A's write seq " + o.seq() + " to slot " + o.slot() + ", issued at " + o.issuedMs()
                        + " ms, after B raised the fence (at " + takeoverMs + " ms), was acknowledged");
            }
        }
        Map<Integer, ZombieEvent.Outcome> lastOfB = lastWrites(bEvents);
        for (var slot : slots.entrySet()) {
            checkSlot(slot.getKey(), slot.getValue(), lastOfB.get(slot.getKey()), outcomesA, tokenA, takeoverMs, violations);
        }
        if (a.fencedSelf() + a.fencedPg() == 0) {
            violations.add("A was never told it was fenced (no fenced-self, no fenced-pg)");
        }
        if (pgRefusalRequired && a.fencedPg() == 0) {
            violations.add("no FENCED refusal at a PG: A's stale writes in flight were not refused there (A's self-fence alone would pass)");
        }
        if (a.unresolved() != 0) {
            violations.add("A ended with " + a.unresolved() + " writes unresolved (-1: A never printed done): they could still land after the read-back");
        }
        return new ZombieVerdict(a, b, violations);
    }

    /** B is the rightful holder: each of its writes must be acknowledged. */
    private static void checkB(List<ZombieEvent> bEvents, Counts b, List<String> violations) {
        for (ZombieEvent.Outcome o : outcomes(bEvents).values()) {
            if (o.kind() != ZombieEvent.Kind.OK) {
                violations.add("B's write seq " + o.seq() + " to slot " + o.slot() + " was not acknowledged: " + o.format());
            }
        }
        if (b.unresolved() != 0) {
            violations.add("B ended with " + b.unresolved() + " writes unresolved (-1: B never printed done)");
        }
    }

    /**
     * A slot B wrote must hold B's last write to it; one B did not write may hold A's data, from
     * a write A issued before the takeover. Anything else (a foreign or torn block, A's data
     * over B's) is a violation.
     */
    private static void checkSlot(int slot, ByteBuffer data, ZombieEvent.Outcome lastB, Map<Long, ZombieEvent.Outcome> outcomesA,
                                  long tokenA, long takeoverMs, List<String> violations) {
        Optional<ZombieBlock> held;
        try {
            held = ZombieBlock.decode(data);
        } catch (IllegalArgumentException e) {
            violations.add("slot " + slot + " holds neither writer's block: " + e.getMessage());
            return;
        }
        if (lastB != null) {
            ZombieBlock expected = new ZombieBlock("B", lastB.seq(), slot, lastB.token());
            if (held.isEmpty() || !held.get().equals(expected)) {
                violations.add("slot " + slot + " holds " + held.map(ZombieBlock::toString).orElse("zeroes") + " (expected: B's last write there, "
                        + expected + ")" + (held.isPresent() && held.get().writer().equals("A") ? ": A's stale write landed after B's fence" : ""));
            }
            return;
        }
        if (held.isEmpty()) {
            return;
        }
        ZombieBlock block = held.get();
        ZombieEvent.Outcome by = outcomesA.get(block.seq());
        if (!block.writer().equals("A") || block.token() != tokenA || block.slot() != slot) {
            violations.add("slot " + slot + " holds " + block + " (expected: A's data with token " + tokenA + ", or B's)");
        } else if (by == null || by.issuedMs() >= takeoverMs) {
            violations.add("slot " + slot + " holds A's write seq " + block.seq() + " (" + (by == null ? "never reported by A" : "issued at "
                    + by.issuedMs() + " ms") + "; expected: one issued before B's fence at " + takeoverMs + " ms)");
        }
    }

    private static Optional<ZombieEvent.Locked> locked(List<ZombieEvent> events) {
        return events.stream().filter(e -> e instanceof ZombieEvent.Locked).map(e -> (ZombieEvent.Locked) e).findFirst();
    }

    private static Map<Long, ZombieEvent.Outcome> outcomes(List<ZombieEvent> events) {
        Map<Long, ZombieEvent.Outcome> out = new HashMap<>();
        for (ZombieEvent e : events) {
            if (e instanceof ZombieEvent.Outcome o) {
                out.put(o.seq(), o);
            }
        }
        return out;
    }

    /** Per slot, the acknowledged write of the highest sequence number (the writer's last to it). */
    private static Map<Integer, ZombieEvent.Outcome> lastWrites(List<ZombieEvent> events) {
        Map<Integer, ZombieEvent.Outcome> last = new HashMap<>();
        outcomes(events).values().stream().filter(o -> o.kind() == ZombieEvent.Kind.OK).sorted(Comparator.comparingLong(ZombieEvent.Outcome::seq))
                .forEach(o -> last.put(o.slot(), o));
        return last;
    }

    /** One line per writer and the violations, for the test's output. */
    String summary() {
        return "A: " + a.ok() + " ok, " + a.unconfirmed() + " unconfirmed, " + a.fencedSelf() + " fenced-self, " + a.fencedPg() + " fenced-pg, " + a.error() + " error, "
                + a.unresolved() + " unresolved; B: " + b.ok() + " ok, " + b.error() + " error; "
                + (violations.isEmpty() ? "no violation" : violations.size() + " violations:\n  " + String.join("\n  ", violations));
    }
}
