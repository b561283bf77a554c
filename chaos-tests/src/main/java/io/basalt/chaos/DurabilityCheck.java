package io.basalt.chaos;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The durability check: after every node was killed and restarted, each key (a block) must hold
 * every acknowledged write made to it, or a write that superseded it. Every write writes a value
 * no other write uses, so the block read back names the write it holds. An acknowledged write
 * {@code w} survived when the key holds {@code w}'s value, or the value of another write {@code x}
 * that may have taken effect after {@code w}: one not acknowledged before {@code w} was invoked
 * (a write of unknown outcome may have landed at any time after its invocation). Anything else
 * is a lost write; a value no write wrote is a corruption.
 *
 * <p>Pure: built from the writes and the final reads, no I/O.
 */
public final class DurabilityCheck {
    /** A write; {@code acknowledged} false: its outcome is unknown (completedNs is then ignored). */
    public record Write(int key, long value, long invokedNs, long completedNs, boolean acknowledged) {
        /** When this write ended at the latest: its acknowledgement, or never. */
        long latestEndNs() {
            return acknowledged ? completedNs : Long.MAX_VALUE;
        }
    }

    /** An acknowledged write that the key no longer holds nor was superseded: {@code found} is what the key holds. */
    public record Loss(int key, Write write, long found) {
        @Override
        public String toString() {
            return "key " + key + ": acknowledged write " + Long.toHexString(write.value()) + " [" + write.invokedNs() + ", "
                    + write.completedNs() + "] lost; the key holds " + Long.toHexString(found);
        }
    }

    /** What the check found; valid when nothing was lost or corrupted. */
    public record Result(int keysChecked, long acknowledgedWrites, List<Loss> losses, List<String> corruptions) {
        public Result {
            losses = List.copyOf(losses);
            corruptions = List.copyOf(corruptions);
        }

        public boolean valid() {
            return losses.isEmpty() && corruptions.isEmpty();
        }
    }

    private DurabilityCheck() {}

    /**
     * Checks {@code writes} against {@code finalValues} (key to the value read after the
     * restart; 0: the block was never written). Every key written must have been read.
     */
    public static Result check(List<Write> writes, Map<Integer, Long> finalValues) {
        Map<Integer, List<Write>> byKey = new TreeMap<>();
        for (Write w : writes) {
            byKey.computeIfAbsent(w.key(), k -> new ArrayList<>()).add(w);
        }
        List<Loss> losses = new ArrayList<>();
        List<String> corruptions = new ArrayList<>();
        long acknowledged = 0;
        for (var e : byKey.entrySet()) {
            int key = e.getKey();
            Long found = finalValues.get(key);
            if (found == null) {
                throw new IllegalArgumentException("key " + key + ": written but not read back (keys read: " + finalValues.keySet() + ")");
            }
            Map<Long, Write> byValue = new HashMap<>();
            for (Write w : e.getValue()) {
                if (byValue.put(w.value(), w) != null) {
                    throw new IllegalArgumentException("key " + key + ": value " + Long.toHexString(w.value()) + " written twice");
                }
            }
            Write holder = byValue.get(found);
            if (found != 0 && holder == null) {
                corruptions.add("key " + key + " holds " + Long.toHexString(found) + ", a value no write wrote");
                continue;
            }
            for (Write w : e.getValue()) {
                if (!w.acknowledged()) {
                    continue;
                }
                acknowledged++;
                // The held value is w's, or one written by a write that may have come after w.
                boolean survived = holder != null && (holder == w || holder.latestEndNs() > w.invokedNs());
                if (!survived) {
                    losses.add(new Loss(key, w, found));
                }
            }
        }
        return new Result(byKey.size(), acknowledged, losses, corruptions);
    }
}
