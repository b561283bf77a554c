package io.basalt.backup;

import java.util.ArrayList;
import java.util.List;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.LbaStatus;
import io.basalt.vdisk.store.Extent;

/**
 * Which chunks of a disk to read, as ascending runs of chunk indices: those a list of changed
 * extents touches, or those holding mapped blocks. Runs, not a set of indices, so a full backup of
 * a large disk costs memory by its fragmentation, not its size.
 */
record ChunkRuns(List<Run> runs) {
    /** Chunks {@code [first, first + count)}. */
    record Run(long first, long count) {
        long end() {
            return first + count;
        }
    }

    ChunkRuns {
        runs = List.copyOf(runs);
    }

    long chunkCount() {
        return runs.stream().mapToLong(Run::count).sum();
    }

    boolean contains(long chunk) {
        int lo = 0;
        int hi = runs.size() - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            Run r = runs.get(mid);
            if (chunk < r.first()) {
                hi = mid - 1;
            } else if (chunk >= r.end()) {
                lo = mid + 1;
            } else {
                return true;
            }
        }
        return false;
    }

    /** The chunks under {@code extents} (ascending), plus {@code extra} (a chunk index, or -1), below {@code chunkCountMax}. */
    static ChunkRuns ofExtents(List<Extent> extents, long extra, int chunkBytes, long chunkCountMax) {
        List<Run> out = new ArrayList<>();
        for (Extent e : extents) {
            long first = e.offsetBytes() / chunkBytes;
            long end = Math.min((e.offsetBytes() + e.lengthBytes() + chunkBytes - 1) / chunkBytes, chunkCountMax);
            add(out, first, end);
        }
        if (extra >= 0 && extra < chunkCountMax) {
            List<Run> merged = new ArrayList<>();
            boolean placed = false;
            for (Run r : out) {
                if (!placed && extra < r.first()) {
                    add(merged, extra, extra + 1);
                    placed = true;
                }
                add(merged, r.first(), r.end());
            }
            if (!placed) {
                add(merged, extra, extra + 1);
            }
            out = merged;
        }
        return new ChunkRuns(out);
    }

    /** The chunks holding blocks the device reports mapped (GET LBA STATUS). */
    static ChunkRuns ofMapped(BlockDevice device, int chunkBytes) {
        List<Run> out = new ArrayList<>();
        int bs = device.logicalBlockSizeBytes();
        long blocks = device.blockCount();
        long lba = 0;
        while (lba < blocks) {
            List<LbaStatus> status = device.getLbaStatus(lba, blocks - lba).join();
            if (status.isEmpty() || status.getFirst().lba() != lba) {
                throw new IllegalStateException("lba status from " + lba + ": " + status + " (expected: runs starting at " + lba + ") device=" + device.name());
            }
            for (LbaStatus s : status) {
                long end = Math.min(s.lba() + s.blockCount(), blocks);
                if (s.provisioning() == LbaStatus.Provisioning.MAPPED) {
                    add(out, s.lba() * bs / chunkBytes, (end * bs + chunkBytes - 1) / chunkBytes);
                }
                lba = end;
            }
        }
        return new ChunkRuns(out);
    }

    /** Appends chunks {@code [first, end)}, merging with the last run where they touch or overlap (input ascending). */
    private static void add(List<Run> out, long first, long end) {
        if (end <= first) {
            return;
        }
        Run last = out.isEmpty() ? null : out.getLast();
        if (last != null && first <= last.end()) {
            if (first < last.first()) {
                throw new IllegalStateException("chunk run " + first + ".." + end + " before " + last + " (expected: ascending)");
            }
            out.set(out.size() - 1, new Run(last.first(), Math.max(last.end(), end) - last.first()));
        } else {
            out.add(new Run(first, end - first));
        }
    }
}
