package io.basalt.vdisk;

/** A run of blocks with one provisioning status (SBC GET LBA STATUS descriptor). */
public record LbaStatus(long lba, long blockCount, Provisioning provisioning) {

    public enum Provisioning {
        /** Backed by stored data (possibly zeros that were written). */
        MAPPED,
        /** Never written or unmapped: reads as zeros and takes no space. */
        DEALLOCATED
    }

    public LbaStatus {
        if (lba < 0) {
            throw new IllegalArgumentException("lba: " + lba + " (expected: >= 0)");
        }
        if (blockCount <= 0) {
            throw new IllegalArgumentException("blockCount: " + blockCount + " (expected: > 0)");
        }
    }
}
