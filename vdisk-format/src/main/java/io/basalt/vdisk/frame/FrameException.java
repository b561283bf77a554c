package io.basalt.vdisk.frame;

/** A stored frame is malformed or fails its checksum. The caller adds the vdisk and LBA. */
public final class FrameException extends RuntimeException {
    public FrameException(String message) {
        super(message);
    }
}
