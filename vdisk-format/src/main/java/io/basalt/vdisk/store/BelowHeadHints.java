package io.basalt.vdisk.store;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Per vdisk, a bounded in-memory cache of where each grain's newest version at or below the
 * head epoch lies in the vdisk's own keys (or that it has none), so that a head read of a grain
 * not written since the last snapshot is one point lookup at the hinted epoch instead of a lookup
 * at the head that misses, a new iterator and a floor seek through every LSM level. Why: reads
 * after one snapshot ran at 0.5x of reads without one (docs/decisions/reads-after-snapshots.md).
 *
 * <p>One table per head epoch {@code h}: hint slots, and "written" bits that every put at the
 * head sets <em>before</em> the put ({@link #markWritten}: writes, unmaps, write-zeroes, snapshot
 * GC's promotions), never cleared while the head stays. Why a hint never returns wrong data: a
 * hint {@code (g, x)} is recorded only by a head reader whose floor seek found grain {@code g}'s
 * newest own version at {@code x < h} (or none: {@link #ABSENT}), into a table that existed
 * before its seek. While the head stays at {@code h}, no version of {@code g} appears in
 * {@code (x, h)}: flatten puts at epoch 0 (below every version, and only where the clone reads
 * its parent, whose bytes it copies), the rest put at the head or delete. A put at the head set
 * the grain's bit first, so a read that starts after that write was acknowledged sees the bit and
 * looks at the head first; a read racing the write may see either version, as with any
 * overlapping read. A deleted hinted version makes the hinted lookup miss, and the reader looks
 * as without a hint. A new head epoch (snapshot, replica commit) starts a new table; rollback and
 * flatten's cut (under the vdisk's exclusive lock, so no reader is between) {@link #clear} it.
 *
 * <p>Every slot holds grain and epoch in one long, so a reader never sees half of an entry; a
 * slot whose grain differs (direct-mapped, so grains evict each other) is no hint, and the bits
 * are per slot too (a bit set by another grain only costs the head lookup). Memory: 8 bytes and
 * a bit per slot, at most {@link #SLOT_COUNT_MAX} slots per vdisk (2 MiB: one per grain of a
 * 1 GiB vdisk of 4 KiB grains), taken from the store-wide {@link Budget} at the first read or
 * write after a head change; when the budget is spent the vdisk reads without hints until its
 * head moves. Nothing is persisted: a reopened store learns again.
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
        /** About 32 MiB, in longs (slots and words of written bits): sixteen vdisks at {@link #SLOT_COUNT_MAX}. */
        static final long SLOT_COUNT_STORE_MAX = 16L * Table.slotsCharged(SLOT_COUNT_MAX);

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

    private record Table(long headEpoch, AtomicLongArray slots, AtomicLongArray written) {
        /** A table for an epoch the budget could not cover: no hints, nothing to mark. */
        static Table none(long headEpoch) {
            return new Table(headEpoch, new AtomicLongArray(0), new AtomicLongArray(0));
        }

        int slot(long grain) {
            return (int) (grain & (slots.length() - 1));
        }

        boolean written(int slot) {
            return (written.get(slot >>> 6) & (1L << slot)) != 0;
        }

        void markWritten(int slot) {
            long bit = 1L << slot;
            if ((written.get(slot >>> 6) & bit) == 0) {
                written.getAndAccumulate(slot >>> 6, bit, (word, b) -> word | b);
            }
        }

        static int slotsCharged(int slotCount) {
            return slotCount + (slotCount + 63) / 64;
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
     * {@link #ABSENT} when it has none, or {@link #NONE} when nothing is remembered or the grain
     * was put at the head (look there first). Makes the head's table, sized for
     * {@code grainCount} grains, when there is none: before the caller's floor seek, so that a
     * put racing the seek marks the table its {@link #remember} goes into.
     */
    long epochBelow(long grain, long headEpoch, long grainCount) {
        Table t = tableOf(headEpoch, grainCount);
        if (t == null || t.slots().length() == 0 || grain < 0 || grain > GRAIN_MAX) {
            return NONE;
        }
        int slot = t.slot(grain);
        long entry = t.slots().get(slot);
        return t.written(slot) || entry >>> EPOCH_BITS != grain + 1 ? NONE : entry & ABSENT;
    }

    /**
     * Remembers that a floor seek at head epoch {@code headEpoch} found {@code grain}'s newest
     * own version at {@code epoch}, or none ({@link #ABSENT}); ignored at or above the head (a
     * write just landed there), where grain or epoch do not fit a slot, and when the head's table
     * is gone.
     */
    void remember(long grain, long headEpoch, long epoch) {
        boolean fits = epoch == ABSENT || (epoch >= 0 && epoch < headEpoch && epoch < ABSENT);
        Table t = table;
        if (!fits || grain < 0 || grain > GRAIN_MAX || t == null || t.headEpoch() != headEpoch || t.slots().length() == 0) {
            return;
        }
        t.slots().set(t.slot(grain), (grain + 1) << EPOCH_BITS | epoch);
    }

    /** Call before putting a version of {@code grain} at head epoch {@code headEpoch}: its hint no longer holds. */
    void markWritten(long grain, long headEpoch, long grainCount) {
        Table t = tableOf(headEpoch, grainCount);
        if (t != null && t.slots().length() > 0 && grain >= 0) {
            t.markWritten(t.slot(grain));
        }
    }

    private Table tableOf(long headEpoch, long grainCount) {
        Table t = table;
        return t != null && t.headEpoch() == headEpoch ? t : newTable(headEpoch, grainCount);
    }

    private synchronized Table newTable(long headEpoch, long grainCount) {
        Table t = table;
        if (released || t != null && t.headEpoch() == headEpoch) {
            return released ? null : t; // another thread made it first
        }
        drop();
        int slotCount = (int) Math.min(SLOT_COUNT_MAX, Long.highestOneBit(Math.max(1, grainCount - 1)) << 1);
        table = budget.take(Table.slotsCharged(slotCount))
                ? new Table(headEpoch, new AtomicLongArray(slotCount), new AtomicLongArray((slotCount + 63) / 64))
                : Table.none(headEpoch);
        return table;
    }

    /** Forgets every hint: the vdisk's chain or its versions changed wholesale (hold its lock exclusively). */
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
            budget.give(t.slots().length() == 0 ? 0 : Table.slotsCharged(t.slots().length()));
        }
    }
}
