package io.basalt.vdisk.store;

import java.util.Optional;

/**
 * The descriptor of one vdisk as stored in the meta column family.
 *
 * @param headEpoch  the epoch that writes go to; every snapshot has a smaller epoch
 * @param parent     for a linked clone, the snapshot its misses fall through to
 * @param chainDepth 0 for a plain vdisk, parent's depth + 1 for a clone
 */
public record VdiskInfo(long id, String name, long sizeBytes, int blockSizeBytes, int grainSizeBytes,
                        long headEpoch, Optional<ParentLink> parent, int chainDepth, long createdEpochMs) {

    /** A clone's link to the snapshot it was cloned from. */
    public record ParentLink(long vdiskId, long epoch, String description) {}

    public VdiskInfo {
        if (sizeBytes % blockSizeBytes != 0) {
            throw new IllegalArgumentException("sizeBytes: " + sizeBytes + " (expected: a multiple of " + blockSizeBytes + ")");
        }
        if (headEpoch < 1) {
            throw new IllegalArgumentException("headEpoch: " + headEpoch + " (expected: >= 1)");
        }
    }

    VdiskInfo withHeadEpoch(long epoch) {
        return new VdiskInfo(id, name, sizeBytes, blockSizeBytes, grainSizeBytes, epoch, parent, chainDepth, createdEpochMs);
    }

    VdiskInfo withSize(long bytes) {
        return new VdiskInfo(id, name, bytes, blockSizeBytes, grainSizeBytes, headEpoch, parent, chainDepth, createdEpochMs);
    }

    VdiskInfo withoutParent() {
        return new VdiskInfo(id, name, sizeBytes, blockSizeBytes, grainSizeBytes, headEpoch, Optional.empty(), 0, createdEpochMs);
    }

    public long grainCount() {
        return (sizeBytes + grainSizeBytes - 1) / grainSizeBytes;
    }
}
