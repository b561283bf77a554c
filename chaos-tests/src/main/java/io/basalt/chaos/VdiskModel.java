package io.basalt.chaos;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the vdisk model workload's vdisks must hold, block by block: the head of every vdisk (the
 * base vdisk and its clones) and every snapshot, updated only from operations whose outcome is
 * known. A block's content is named by the write that wrote it (every write has an id no other
 * write has, and writes its id and the block's LBA into each block, {@link ModelData}); 0 is zeros
 * (never written, unmapped, or beyond an earlier size).
 *
 * <p><b>Outcomes that are not known.</b> A write or unmap that failed or timed out ({@code info}) may
 * have been applied, or may still be applied <em>at any later time</em> (an entry left in a log
 * can commit after the client gave up, as {@link DurabilityCheck} assumes too). So each head block
 * keeps, besides its {@code certain} content (the last acknowledged write, unmap, rollback or
 * clone), a set {@code pending}: the ids of info writes to it, never cleared, each of which the
 * block may show at any moment from then on. A snapshot's block may hold what the head held when
 * it was taken or any write pending then: a snapshot keeps those as {@code maybe}, the content it
 * may hold instead of {@code certain}; a rollback or a clone copies them into the head, where an
 * acknowledged write or unmap of the block clears them. A read narrows it down: the block holds
 * what was read, which becomes certain (a snapshot's read becomes all it may hold; a head's
 * pending writes stay, they may still land). A block matches when it holds one of
 * {@code certain}, {@code maybe} and {@code pending}.
 *
 * <p>Pure and single-threaded: the one client of the workload feeds it; {@link ModelCheck} runs
 * the final comparison.
 */
public final class VdiskModel {
    /** A block read back that holds no write's data for that block: torn, misplaced or corrupted. */
    public static final long GARBAGE = -1;
    private static final long[] NONE = new long[0];

    /** A head or a snapshot, block by block. */
    private static final class Volume {
        long[] certain;
        long[][] maybe;
        long[][] pending;

        Volume(int blocks) {
            certain = new long[blocks];
            maybe = new long[blocks][];
            pending = new long[blocks][];
            Arrays.fill(maybe, NONE);
            Arrays.fill(pending, NONE);
        }

        int blocks() {
            return certain.length;
        }

        /** A frozen copy: what the head may hold now, a pending write being content it may already hold. */
        Volume frozen() {
            Volume s = new Volume(blocks());
            s.certain = certain.clone();
            for (int b = 0; b < blocks(); b++) {
                s.maybe[b] = union(maybe[b], pending[b]);
            }
            return s;
        }

        /**
         * New size; {@code pending} never shrinks: an info write sent before a rollback cut the size
         * may still land after a grow brought its blocks back.
         */
        void resize(int blocks) {
            int old = blocks();
            certain = Arrays.copyOf(certain, blocks);
            maybe = Arrays.copyOf(maybe, blocks);
            for (int b = old; b < blocks; b++) {
                maybe[b] = NONE;
            }
            if (blocks > pending.length) {
                int had = pending.length;
                pending = Arrays.copyOf(pending, blocks);
                Arrays.fill(pending, had, blocks, NONE);
            }
        }
    }

    /** A write: which vdisk it was sent to, so a block holding it elsewhere is named. */
    record WriteRecord(long id, String vdisk, long lba, int blockCount) {}

    private final Map<String, Volume> heads = new LinkedHashMap<>();
    /** Snapshots by {@code vdisk@snap}. */
    private final Map<String, Volume> snapshots = new LinkedHashMap<>();
    private final Map<Long, WriteRecord> writes = new HashMap<>();

    /** A new vdisk of {@code blocks} zero blocks. */
    public void create(String vdisk, int blocks) {
        if (heads.containsKey(vdisk)) {
            throw new IllegalArgumentException("vdisk: " + vdisk + " (expected: a new name; have " + heads.keySet() + ")");
        }
        heads.put(vdisk, new Volume(blocks));
    }

    /**
     * A write of {@code id} (0: an unmap) to blocks {@code [lba, lba + blockCount)} of {@code vdisk}'s
     * head; {@code acknowledged} false: its outcome is unknown.
     */
    public void write(String vdisk, long lba, int blockCount, long id, boolean acknowledged) {
        Volume v = head(vdisk);
        if (lba < 0 || blockCount < 1 || lba + blockCount > v.blocks()) {
            throw new IllegalArgumentException("write: lba " + lba + " blocks " + blockCount + " (expected: inside " + v.blocks() + " blocks) vdisk=" + vdisk);
        }
        if (id != 0 && writes.putIfAbsent(id, new WriteRecord(id, vdisk, lba, blockCount)) != null) {
            throw new IllegalArgumentException("write id: " + id + " (expected: one no other write used) vdisk=" + vdisk);
        }
        for (int b = (int) lba; b < lba + blockCount; b++) {
            if (acknowledged) {
                v.certain[b] = id;
                v.maybe[b] = NONE;
            } else {
                v.pending[b] = union(v.pending[b], new long[] {id});
            }
        }
    }

    /** Snapshot {@code snap} of {@code vdisk}, taken (acknowledged) now. */
    public void snapshot(String vdisk, String snap) {
        Volume h = head(vdisk);
        if (snapshots.putIfAbsent(vdisk + "@" + snap, h.frozen()) != null) {
            throw new IllegalArgumentException("snapshot: " + vdisk + "@" + snap + " (expected: a new one)");
        }
    }

    public void removeSnapshot(String vdisk, String snap) {
        if (snapshots.remove(vdisk + "@" + snap) == null) {
            throw new IllegalArgumentException("snapshot: " + vdisk + "@" + snap + " (expected: one of " + snapshots.keySet() + ")");
        }
    }

    /** {@code child}, a linked clone of {@code parent@snap}: it reads as the snapshot. */
    public void cloneOf(String parent, String snap, String child) {
        Volume s = snapshot(parent + "@" + snap);
        if (heads.containsKey(child)) {
            throw new IllegalArgumentException("clone: " + child + " (expected: a new name)");
        }
        Volume c = new Volume(s.blocks());
        c.certain = s.certain.clone();
        c.maybe = s.maybe.clone();
        heads.put(child, c);
    }

    /** {@code vdisk}'s head reads as {@code snap} again, and has its size; writes still pending may land after it. */
    public void rollback(String vdisk, String snap) {
        Volume h = head(vdisk);
        Volume s = snapshot(vdisk + "@" + snap);
        h.resize(s.blocks());
        for (int b = 0; b < s.blocks(); b++) {
            h.certain[b] = s.certain[b];
            h.maybe[b] = s.maybe[b];
        }
    }

    /** {@code vdisk} grown to {@code blocks}: the new blocks read as zeros. */
    public void grow(String vdisk, int blocks) {
        Volume h = head(vdisk);
        if (blocks < h.blocks()) {
            throw new IllegalArgumentException("grow: " + blocks + " blocks (expected: >= " + h.blocks() + ") vdisk=" + vdisk);
        }
        h.resize(blocks);
    }

    /** Blocks of {@code volume}: a vdisk's head, or {@code vdisk@snap}. */
    public int blocks(String volume) {
        return volume(volume).blocks();
    }

    /** The vdisks (heads) in the order they were made. */
    public List<String> vdisks() {
        return List.copyOf(heads.keySet());
    }

    /** The snapshots, as {@code vdisk@snap}, in the order they were taken. */
    public List<String> snapshots() {
        return List.copyOf(snapshots.keySet());
    }

    /** Every head and snapshot. */
    public List<String> volumes() {
        List<String> all = new ArrayList<>(heads.keySet());
        all.addAll(snapshots.keySet());
        return all;
    }

    /** What a block may hold, as ids (0: zeros). */
    public Set<Long> expected(String volume, long lba) {
        Volume v = volume(volume);
        int b = (int) lba;
        java.util.TreeSet<Long> all = new java.util.TreeSet<>();
        all.add(v.certain[b]);
        Arrays.stream(v.maybe[b]).forEach(all::add);
        Arrays.stream(v.pending[b]).forEach(all::add);
        return all;
    }

    /**
     * A read of {@code found.length} blocks of {@code volume} from {@code lba} ({@link #GARBAGE} for a
     * block of no write): returns the blocks that do not match, and narrows the model down to what
     * was read for those that do.
     */
    public List<ModelCheck.Mismatch> observe(String volume, long lba, long[] found) {
        Volume v = volume(volume);
        if (lba < 0 || lba + found.length > v.blocks()) {
            throw new IllegalArgumentException("read: lba " + lba + " blocks " + found.length + " (expected: inside " + v.blocks() + " blocks) of " + volume);
        }
        boolean isHead = heads.containsKey(volume);
        List<ModelCheck.Mismatch> bad = new ArrayList<>();
        for (int i = 0; i < found.length; i++) {
            int b = (int) lba + i;
            long f = found[i];
            if (f == v.certain[b] || contains(v.maybe[b], f) || contains(v.pending[b], f)) {
                v.certain[b] = f;
                v.maybe[b] = NONE;
            } else {
                bad.add(mismatch(volume, isHead, b, f));
            }
        }
        return bad;
    }

    /**
     * A block that does not hold what it may: a lost write when a head holds zeros or an older
     * write sent to the same vdisk than what it must hold (an acknowledged write is gone);
     * anything else (a newer write, another vdisk's write, a changed snapshot, garbage) a violation.
     */
    private ModelCheck.Mismatch mismatch(String volume, boolean isHead, int b, long f) {
        Set<Long> may = expected(volume, b);
        long newestExpected = may.stream().mapToLong(Long::longValue).max().orElse(0);
        WriteRecord w = writes.get(f);
        String vdisk = volume.contains("@") ? volume.substring(0, volume.indexOf('@')) : volume;
        boolean lost = isHead && newestExpected > 0 && (f == 0 || (w != null && w.vdisk().equals(vdisk) && f < newestExpected));
        String foundText = f == 0 ? "zeros" : f == GARBAGE ? "bytes of no write (torn, misplaced or corrupted)"
                : w == null ? "write " + f + ", which the model never sent" : describe(w) + (w.lba() <= b && b < w.lba() + w.blockCount() ? "" : " for other blocks");
        List<String> expectedText = may.stream().map(id -> id == 0 ? "zeros" : writes.containsKey(id) ? describe(writes.get(id)) : "write " + id).toList();
        return new ModelCheck.Mismatch(volume, b, expectedText, foundText, lost);
    }

    private static String describe(WriteRecord w) {
        return "write " + w.id() + " (to " + w.vdisk() + " lba " + w.lba() + "+" + w.blockCount() + ")";
    }

    private Volume head(String vdisk) {
        Volume v = heads.get(vdisk);
        if (v == null) {
            throw new IllegalArgumentException("vdisk: " + vdisk + " (expected: one of " + heads.keySet() + ")");
        }
        return v;
    }

    private Volume snapshot(String name) {
        Volume v = snapshots.get(name);
        if (v == null) {
            throw new IllegalArgumentException("snapshot: " + name + " (expected: one of " + snapshots.keySet() + ")");
        }
        return v;
    }

    private Volume volume(String name) {
        return name.contains("@") ? snapshot(name) : head(name);
    }

    private static boolean contains(long[] ids, long id) {
        for (long x : ids) {
            if (x == id) {
                return true;
            }
        }
        return false;
    }

    private static long[] union(long[] a, long[] b) {
        if (b.length == 0) {
            return a;
        }
        return java.util.stream.LongStream.concat(Arrays.stream(a), Arrays.stream(b)).distinct().toArray();
    }
}
