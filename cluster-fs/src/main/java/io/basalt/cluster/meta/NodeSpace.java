package io.basalt.cluster.meta;

/**
 * What node {@code nodeId} last reported of the filesystem under its data directory: free
 * bytes, the reserve it keeps ({@link io.basalt.cluster.raft.DiskReserve}) and the total. A
 * group's leader refuses data writes while any replica of the group reports {@link #full()}, so
 * a follower's full disk is honoured, not only the leader's.
 */
public record NodeSpace(int nodeId, long freeBytes, long reserveBytes, long totalBytes, long reportedMs) {
    /**
     * Free space below this many reserves is "nearfull": with the default reserve of 5 % that is
     * 85 % used, Ceph's {@code mon_osd_nearfull_ratio} against its full ratio of 95 %.
     */
    public static final int NEARFULL_RESERVES = 3;

    /** Below its reserve (a reserve of 0 is never full). */
    public boolean full() {
        return reserveBytes > 0 && freeBytes < reserveBytes;
    }

    /** Not full yet, but below {@link #NEARFULL_RESERVES} times its reserve: writes will stop soon. */
    public boolean nearFull() {
        return reserveBytes > 0 && !full() && freeBytes < NEARFULL_RESERVES * reserveBytes;
    }

    /** Why these values cannot be a report, or null when they can. */
    static String check(int nodeId, long freeBytes, long reserveBytes, long totalBytes) {
        if (nodeId <= 0) {
            return "node id: " + nodeId + " (expected: > 0)";
        }
        if (freeBytes < 0 || reserveBytes < 0 || totalBytes < 0) {
            return "node " + nodeId + " space: free " + freeBytes + ", reserve " + reserveBytes + ", total " + totalBytes + " (expected: >= 0)";
        }
        return null;
    }
}
