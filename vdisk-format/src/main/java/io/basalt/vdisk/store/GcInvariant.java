package io.basalt.vdisk.store;

import java.util.Arrays;
import java.util.List;
import java.util.Set;

import io.basalt.vdisk.frame.BlockFrame;

/**
 * The one rule snapshot garbage collection must keep: every retained epoch of a vdisk (each
 * snapshot and the head; a clone reads its parent at one of these snapshots) reads the same
 * frame of a grain after a collection step as before it. A version still seen by one of them
 * is deleted only when an identical copy takes its place (the move up to the head), or when it
 * is a tombstone over nothing in a vdisk that is not a clone (it reads as zeros either way).
 * {@link SnapshotGc} checks every grain it touches before writing, and stops on a breach.
 */
final class GcInvariant {
    /** A stored version of a grain of the vdisk itself (not of an ancestor). */
    record Version(long epoch, byte[] frame) {}

    /** A copy {@link SnapshotGc} writes: {@code frame} at {@code epoch}. */
    record Put(long epoch, byte[] frame) {}

    private GcInvariant() {}

    /**
     * @param before          the grain's versions before the step, newest first
     * @param deletedEpochs   the epochs of the versions the step deletes
     * @param put             the copy the step writes, or null
     * @param retainedEpochs  the vdisk's snapshot epochs and its head epoch
     * @param clone           whether the vdisk reads through to a parent (a tombstone then hides it)
     * @throws IllegalStateException naming the grain and the epoch whose view would change
     */
    static void check(String vdisk, long grain, List<Version> before, Set<Long> deletedEpochs, Put put,
            long[] retainedEpochs, boolean clone) {
        for (long r : retainedEpochs) {
            byte[] was = seenAt(before, r, null, null);
            byte[] now = seenAt(before, r, deletedEpochs, put);
            if (!sameRead(was, now, clone)) {
                throw new IllegalStateException("snapshot gc would change what epoch " + r + " reads of grain " + grain + " of vdisk " + vdisk
                        + ": " + describe(was) + " -> " + describe(now)
                        + " (deleting epochs " + deletedEpochs + (put == null ? "" : ", copying to " + put.epoch()) + ")");
            }
        }
    }

    /** The frame epoch {@code r} reads, after deleting {@code deleted} and writing {@code put} when given. */
    private static byte[] seenAt(List<Version> versions, long r, Set<Long> deleted, Put put) {
        long bestEpoch = -1;
        byte[] best = null;
        for (Version v : versions) {
            if (v.epoch() <= r && v.epoch() > bestEpoch && (deleted == null || !deleted.contains(v.epoch()))) {
                bestEpoch = v.epoch();
                best = v.frame();
            }
        }
        if (put != null && deleted != null && put.epoch() <= r && put.epoch() >= bestEpoch) {
            best = put.frame();
        }
        return best;
    }

    private static String describe(byte[] frame) {
        return frame == null ? "nothing" : String.valueOf(BlockFrame.kind(frame));
    }

    private static boolean sameRead(byte[] was, byte[] now, boolean clone) {
        if (was == null || now == null) {
            // Nothing, and a tombstone over nothing, both read as zeros; in a clone nothing reads its parent.
            byte[] other = was == null ? now : was;
            return other == null || (!clone && !BlockFrame.isMapped(other));
        }
        return Arrays.equals(was, now);
    }
}
