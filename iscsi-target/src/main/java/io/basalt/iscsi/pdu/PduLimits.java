package io.basalt.iscsi.pdu;

/**
 * Bounds the decoder enforces before it buffers anything.
 *
 * @param dataSegmentBytesMax the largest DataSegmentLength accepted: our MaxRecvDataSegmentLength
 * @param ahsBytesMax the largest total AHS length accepted
 */
public record PduLimits(int dataSegmentBytesMax, int ahsBytesMax) {

    /** The RFC 7143 bound for MaxRecvDataSegmentLength. */
    public static final int DATA_SEGMENT_BYTES_LIMIT = (1 << 24) - 1;

    public PduLimits {
        if (dataSegmentBytesMax < 512 || dataSegmentBytesMax > DATA_SEGMENT_BYTES_LIMIT) {
            throw new IllegalArgumentException("dataSegmentBytesMax: " + dataSegmentBytesMax + " (expected: 512.." + DATA_SEGMENT_BYTES_LIMIT + ")");
        }
        if (ahsBytesMax < 0 || ahsBytesMax > 1020 || ahsBytesMax % 4 != 0) {
            throw new IllegalArgumentException("ahsBytesMax: " + ahsBytesMax + " (expected: a multiple of 4 in 0..1020)");
        }
    }
}
