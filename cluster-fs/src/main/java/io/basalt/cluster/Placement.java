package io.basalt.cluster;

import java.util.ArrayList;
import java.util.List;

/**
 * Where data lives: which placement group holds a grain, and which nodes hold a PG. Pure and
 * stable: the same inputs give the same answer in every JVM, forever (a change here moves data).
 *
 * <p>A grain {@code g} of a vdisk whose root (oldest ancestor) is {@code r} lives in PG
 * {@code mix(r, g / stripeGrains) mod pgCount}. When the cluster is created, PG {@code p} is
 * replicated on nodes {@code p, p+1, ..., p+replicas-1} (mod node count, 1-based), and its
 * preferred leader is the first of them, so leaders spread evenly over the nodes. Membership
 * changes move PG replicas between nodes (docs/decisions/cluster-membership.md); grains never move.
 */
public final class Placement {
    private final int pgCount;
    private final List<Integer> nodeIds;
    private final int replicaCount;
    private final int stripeGrains;

    public Placement(ClusterConfig config) {
        this.pgCount = config.pgCount();
        this.nodeIds = config.nodeIds();
        this.replicaCount = config.replicaCount();
        this.stripeGrains = config.stripeGrains();
    }

    public int stripeGrains() {
        return stripeGrains;
    }

    /** The PG of grain {@code grain} of a vdisk whose root vdisk id is {@code rootId}. */
    public int pgOf(long rootId, long grain) {
        long stripe = grain / stripeGrains;
        return (int) Long.remainderUnsigned(mix(rootId * 0x9E3779B97F4A7C15L ^ mix(stripe)), pgCount);
    }

    /**
     * Node ids holding a replica of {@code pg} when the cluster is created; the first is the
     * preferred leader. After a membership change the group's Ratis configuration is the truth.
     */
    public List<Integer> nodesOf(int pg) {
        List<Integer> out = new ArrayList<>(replicaCount);
        for (int k = 0; k < replicaCount; k++) {
            out.add(nodeIds.get((pg + k) % nodeIds.size()));
        }
        return out;
    }

    /** SplitMix64's finaliser: a fixed, well-mixed 64-bit permutation. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
