package io.basalt.vdisk.store;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Per vdisk, a bounded in-memory cache of where each grain's newest version below the head epoch
 * lies in the vdisk's own keys (or that it has none there), so that a head read of a grain not
 * written since the last snapshot is two point lookups (the head epoch, which misses, then the
 * hinted epoch) instead of a lookup, a new iterator and a floor seek through every LSM level.
 * Why: reads after one snapshot ran at 0.55x of reads without one
 * (docs/decisions/reads-after-snapshots.md).
 *
 * <p>Why a hint never returns wrong data. A hint {@code (g, x)} is recorded only by a head reader
 * at head epoch {@code h} whose floor seek at {@code h} found grain {@code g}'s newest own version
 * at {@code x < h} (or none: {@link #ABSENT}); it goes into a table tagged with {@code h} and is
 * used only by readers at head epoch {@code h}, after their point lookup at {@code h} missed, so
 * a version at the head always wins. While the head stays at {@code h}, no version of {@code g}
 * appears in {@code (x, h)}: writes, unmaps, rollback's copies and snapshot GC's promotions all
 * put at the head, flatten puts at epoch 0 (below every version, and only where the clone reads
 * its parent, whose bytes it copies), and everything else only deletes. A deleted hinted version
 * makes the hinted lookup miss, and the reader floor-seeks as without a hint. The head epoch
 * never goes back (a rollback keeps it), and a new one (snapshot, replica commit) starts a new
 * table. An {@code ABSENT} hint sends the read to the parent: when flatten cuts the chain,
 * {@link #clear} drops the table (under the vdisk's exclusive lock, so no reader is between).
 *
 * <p>Every slot holds grain and epoch in one long, so a reader never sees half of an entry; a
 * slot whose grain differs (direct-mapped, so grains evict each other) is no hint. Memory: one
 * long per slot, at most {@link #SLOT_COUNT_MAX} per vdisk (2 MiB: one slot per grain of a 1 GiB
 * vdisk of 4 KiB grains), allocated at the first floor seek after a head change and only while
 * the store-wide {@link Budget} allows. Nothing is persisted: a reopened store learns again.
 */
final class BelowHeadHints {
    /** Slots of one vdisk's table: covers a 1 GiB vdisk of 4 KiB grains without two grains sharing a slot. */
    static final int SLOT_COUNT_MAX = 1 << 18;
    /** Low bits of a slot holding the epoch; the grain + 1 is above them (0 is an empty slot). */
    static final int EPOCH_BITS = 24;
    /** The hint "no own version at or below the head": the epoch field's largest value, never a hinted epoch. */
    static final long ABSENT = (1L << EPOCH_BITS) - 1;
    /** No hint for the grain. */
    static final long NONE = -1;
    static final long GRAIN_MAX = (1L << (Long.SIZE - 1 - EPOCH_BITS)) - 2;

    /** Slots every vdisk of one store may hold together. */
    static final class Budget {
        /** 32 MiB of slots: sixteen vdisks at {@link #SLOT_COUNT_MAX}. */
        static final long SLOT_COUNT_STORE_MAX = 16L * SLOT_COUNT_MAX;

        private final AtomicLong freeSlotCount;

        Budget(long slotCount) {
            if (slotCount < 0) {
                throw new IllegalArgumentException("hint slots: " + slotCount + " (expected: >= 0)");
            }
            this.freeSlotCount = new AtomicLong(slotCount);
        }

        boolean take(int slotCount) {
            long free;
            do {
                free = freeSlotCount.get();
                if (free < slotCount) {
                    return false;
                }
            } while (!freeSlotCount.compareAndSet(free, free - slotCount));
            return true;
        }

        void give(int slotCount) {
            freeSlotCount.addAndGet(slotCount);
        }
    }

    private record Table(long headEpoch, AtomicLongArray slots) {
        int slot(long grain) {
            return (int) (grain & (slots.length() - 1));
        }
    }

    private final Budget budget;
    /** The table of the head epoch it is tagged with, or null; replaced, never retagged, when the head moves. */
    private volatile Table table;
    private boolean released;

    BelowHeadHints(Budget budget) {
        this.budget = budget;
    }

    /**
     * The epoch of {@code grain}'s newest own version below {@code headEpoch} as remembered,
     * {@link #ABSENT} when it has none, or {@link #NONE} when nothing is remembered.
     */
    long epochBelow(long grain, long headEpoch) {
        Table t = table;
        if (t == null || t.headEpoch() != headEpoch || grain < 0 || grain > GRAIN_MAX) {
            return NONE;
        }
        long slot = t.slots().get(t.slot(grain));
        return slot >>> EPOCH_BITS == grain + 1 ? slot & ABSENT : NONE;
    }

    /**
     * Remembers that a floor seek at head epoch {@code headEpoch} found {@code grain}'s newest own
     * version at {@code epoch}, or none ({@link #ABSENT}); ignored at or above the head (a write
     * just landed there) and where grain or epoch do not fit a slot. {@code grainCount} sizes a
     * new table.
     */
    void remember(long grain, long headEpoch, long epoch, long grainCount) {
        boolean fits = epoch == ABSENT || (epoch >= 0 && epoch < headEpoch && epoch < ABSENT);
        if (!fits || grain < 0 || grain > GRAIN_MAX) {
            return;
        }
        Table t = table;
        if (t == null || t.headEpoch() != headEpoch) {
            t = newTable(t, headEpoch, grainCount);
            if (t == null) {
                return;
            }
        }
        t.slots().set(t.slot(grain), (grain + 1) << EPOCH_BITS | epoch);
    }

    private synchronized Table newTable(Table seen, long headEpoch, long grainCount) {
        Table t = table;
        if (t != seen || released) {
            return t != null && t.headEpoch() == headEpoch ? t : null; // another reader replaced it first
        }
        drop();
        int slotCount = (int) Math.min(SLOT_COUNT_MAX, Long.highestOneBit(Math.max(1, grainCount - 1)) << 1);
        if (!budget.take(slotCount)) {
            return null;
        }
        table = new Table(headEpoch, new AtomicLongArray(slotCount));
        return table;
    }

    /** Forgets every hint: the vdisk's chain changed (hold its lock exclusively). */
    synchronized void clear() {
        drop();
    }

    /** Gives the table's slots back to the budget for good (the vdisk was removed). */
    synchronized void release() {
        drop();
        released = true;
    }

    private void drop() {
        Table t = table;
        if (t != null) {
            table = null;
            budget.give(t.slots().length());
        }
    }
}
