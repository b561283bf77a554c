package io.basalt.replication.stream;

import java.nio.ByteBuffer;
import java.util.Optional;

/**
 * One byte range of a vdisk in a mirror stream: its new bytes, or empty when it reads as zeros
 * (unmapped or written as zeros on the source; the replica unmaps it).
 *
 * @param offsetBytes where it starts, a multiple of the vdisk's block size
 * @param lengthBytes how long, a positive multiple of the block size
 * @param data        {@code lengthBytes} bytes, or empty for zeros; held read-only
 */
public record MirrorExtent(long offsetBytes, int lengthBytes, Optional<ByteBuffer> data) {
    public MirrorExtent {
        if (offsetBytes < 0 || lengthBytes <= 0) {
            throw new IllegalArgumentException("extent: offset " + offsetBytes + ", length " + lengthBytes + " (expected: >= 0, > 0)");
        }
        if (data.isPresent() && data.get().remaining() != lengthBytes) {
            throw new IllegalArgumentException("extent at " + offsetBytes + ": " + data.get().remaining()
                    + " bytes of data (expected: " + lengthBytes + ")");
        }
        data = data.map(b -> b.slice().asReadOnlyBuffer());
    }

    public static MirrorExtent data(long offsetBytes, ByteBuffer bytes) {
        return new MirrorExtent(offsetBytes, bytes.remaining(), Optional.of(bytes));
    }

    public static MirrorExtent zeros(long offsetBytes, int lengthBytes) {
        return new MirrorExtent(offsetBytes, lengthBytes, Optional.empty());
    }

    /** A view of the data with its own position, so callers never move each other's. */
    @Override
    public Optional<ByteBuffer> data() {
        return data.map(ByteBuffer::duplicate);
    }

    public boolean zeros() {
        return data.isEmpty();
    }

    public long endBytes() {
        return offsetBytes + lengthBytes;
    }
}
