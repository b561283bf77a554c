package io.basalt.chaos;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The vdisk model check: after the heal, every block of every head and snapshot the model holds
 * ({@link VdiskModel}) is read back and must hold what the model says it may; so must every
 * block read during the run. A mismatch is a <b>lost write</b> when a head holds zeros or an older
 * write of its own where an acknowledged write must be; anything else is a <b>violation</b>: a
 * snapshot that changed, a rollback not applied (a write made after the snapshot still there), a
 * clone that sees its parent's later writes, a grown range that is not zeros, bytes of no write.
 *
 * <p>Pure: built from the model and what was read, no I/O.
 */
public final class ModelCheck {
    /** Block {@code lba} of {@code volume} ({@code vdisk} or {@code vdisk@snap}) does not hold what it may. */
    public record Mismatch(String volume, long lba, List<String> expected, String found, boolean lost) {
        public Mismatch {
            expected = List.copyOf(expected);
        }

        @Override
        public String toString() {
            return volume + " lba " + lba + ": expected " + (expected.size() == 1 ? expected.get(0) : "one of " + expected) + ", found " + found;
        }
    }

    /** What the check found. */
    public record Result(int volumesChecked, long blocksChecked, List<String> lost, List<String> violations) {
        public Result {
            lost = List.copyOf(lost);
            violations = List.copyOf(violations);
        }

        public boolean valid() {
            return lost.isEmpty() && violations.isEmpty();
        }
    }

    private ModelCheck() {}

    /**
     * Compares {@code finalContent} (each volume's blocks from LBA 0, as {@link ModelData#decode}
     * names them) with {@code model}; {@code duringRun} are the mismatches of reads made during the
     * run. A volume of the model not read back is a violation ({@code readBack} false: nothing
     * was read back, only the run's reads are judged).
     */
    public static Result check(VdiskModel model, Map<String, long[]> finalContent, List<Mismatch> duringRun, boolean readBack) {
        if (!model.volumes().containsAll(finalContent.keySet())) {
            throw new IllegalArgumentException("volumes read: " + new TreeSet<>(finalContent.keySet()) + " (expected: some of the model's "
                    + new TreeSet<>(model.volumes()) + ")");
        }
        List<String> lost = new ArrayList<>();
        List<String> violations = new ArrayList<>();
        for (Mismatch m : duringRun) {
            (m.lost() ? lost : violations).add("read during the run: " + m);
        }
        long blocks = 0;
        for (String volume : readBack ? model.volumes() : List.<String>of()) {
            long[] found = finalContent.get(volume);
            if (found == null) {
                violations.add("after the heal: " + volume + " could not be read back");
                continue;
            }
            if (found.length != model.blocks(volume)) {
                violations.add(volume + ": " + found.length + " blocks read back (expected: " + model.blocks(volume) + ")");
                continue;
            }
            blocks += found.length;
            for (Mismatch m : model.observe(volume, 0, found)) {
                (m.lost() ? lost : violations).add("after the heal: " + m);
            }
        }
        return new Result(finalContent.size(), blocks, lost, violations);
    }
}
