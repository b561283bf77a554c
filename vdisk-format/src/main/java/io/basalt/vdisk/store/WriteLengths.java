package io.basalt.vdisk.store;

import java.nio.ByteBuffer;

/** Why a write's buffers cannot be written: checked on the caller's thread before anything is queued. */
final class WriteLengths {
    private WriteLengths() {}

    /** Why {@code data} cannot be written, or null when its length is whole blocks. */
    static IllegalArgumentException writeError(ByteBuffer data, int blockSize, String vdisk) {
        if (data.remaining() % blockSize == 0) {
            return null;
        }
        return new IllegalArgumentException("write length: " + data.remaining() + " bytes (expected: a multiple of " + blockSize + ") vdisk=" + vdisk);
    }

    /** Why a compare-and-write of these buffers is refused, or null when their lengths are equal, whole blocks and not 0. */
    static IllegalArgumentException compareError(ByteBuffer expected, ByteBuffer data, int blockSize, String vdisk) {
        if (expected.remaining() == data.remaining() && data.remaining() % blockSize == 0 && data.remaining() != 0) {
            return null;
        }
        return new IllegalArgumentException("compare-and-write lengths: expected " + expected.remaining() + ", data "
                + data.remaining() + " bytes (expected: equal, a positive multiple of " + blockSize + ") vdisk=" + vdisk);
    }
}
