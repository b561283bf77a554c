package io.basalt.vdisk;

/**
 * An I/O failure of a block device that is not the caller's fault: a checksum mismatch, a full
 * disk, a lost quorum. The message names the device and the address. Callers map it to a SCSI
 * MEDIUM ERROR or HARDWARE ERROR; they never retry a {@link Kind#CORRUPTION} silently.
 */
public class BlockDeviceException extends RuntimeException {

    public enum Kind {
        /** Stored data failed its checksum: a medium error. */
        CORRUPTION,
        /** The device refuses writes: read-only snapshot or replica. */
        READ_ONLY,
        /** Out of space. */
        NO_SPACE,
        /** The device is closed or otherwise unavailable. */
        UNAVAILABLE,
        /** Any other I/O failure of the backing store. */
        IO,
        /**
         * Not possible now, likely soon, and the same request may be sent again: a replicated
         * device has no quorum or no reachable leader at the moment (an election, a node restart,
         * a partition), or cannot tell what a request cut short by one did. A SCSI target answers
         * NOT READY, BECOMING READY, which initiators retry for a while instead of failing the I/O.
         */
        TRANSIENT
        // New kinds go last: PgCodec sends a kind as its ordinal.
    }

    private final Kind kind;

    public BlockDeviceException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public BlockDeviceException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
