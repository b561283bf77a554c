package io.basalt.cluster.client;

import java.util.ArrayList;
import java.util.List;

import io.basalt.vdisk.store.Extent;

/** Joins the extents the PGs report for one vdisk into one list (a diff: {@link ClusterClient#diff}). */
final class ExtentMerge {
    private ExtentMerge() {}

    /** Sorts extents by offset and joins neighbours of the same kind (PGs hold interleaved stripes). */
    static List<Extent> merge(List<Extent> extents) {
        List<Extent> sorted = new ArrayList<>(extents);
        sorted.sort(java.util.Comparator.comparingLong(Extent::offsetBytes));
        List<Extent> out = new ArrayList<>();
        for (Extent e : sorted) {
            Extent last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last != null && last.offsetBytes() + last.lengthBytes() > e.offsetBytes()) {
                throw new IllegalStateException("extents overlap: " + last + " and " + e + " (expected: each grain on one PG)");
            }
            if (last != null && last.data() == e.data() && last.offsetBytes() + last.lengthBytes() == e.offsetBytes()) {
                out.set(out.size() - 1, new Extent(last.offsetBytes(), last.lengthBytes() + e.lengthBytes(), e.data()));
            } else {
                out.add(e);
            }
        }
        return out;
    }
}
