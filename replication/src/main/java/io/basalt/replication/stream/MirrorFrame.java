package io.basalt.replication.stream;

import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * The frames of a mirror stream (format: docs/architecture.md, "Replication"): one
 * {@link Header}, any number of {@link Data} frames, one {@link End}. {@link MirrorFrameCodec}
 * encodes and decodes one frame; {@link MirrorStreamWriter} and {@link MirrorStreamReader} a
 * whole stream.
 */
public sealed interface MirrorFrame permits MirrorFrame.Header, MirrorFrame.Data, MirrorFrame.End {

    /**
     * What the stream brings: vdisk {@code vdiskName} (id {@code sourceVdiskId} at site
     * {@code sourceSite}) from snapshot {@code fromSnapshot} (empty: from nothing, a full sync) to
     * {@code toSnapshot}, which is round {@code sequence} of this mirror.
     *
     * @param streamId     this attempt; the end frame repeats it, so two attempts never splice
     * @param sizeBytes    the size of {@code toSnapshot}
     */
    record Header(int formatVersion, String sourceSite, String vdiskName, long sourceVdiskId, UUID streamId, long sequence,
                  long sizeBytes, int blockSizeBytes, int grainSizeBytes, Optional<String> fromSnapshot, String toSnapshot)
            implements MirrorFrame {
        public Header {
            if (sequence < 1) {
                throw new IllegalArgumentException("sequence: " + sequence + " (expected: >= 1)");
            }
            if (blockSizeBytes != 512 && blockSizeBytes != 4096) {
                throw new IllegalArgumentException("block size: " + blockSizeBytes + " (expected: 512 or 4096)");
            }
            if (Integer.bitCount(grainSizeBytes) != 1 || grainSizeBytes < blockSizeBytes) {
                throw new IllegalArgumentException("grain size: " + grainSizeBytes + " (expected: a power of two >= " + blockSizeBytes + ")");
            }
            if (sizeBytes <= 0 || sizeBytes % blockSizeBytes != 0) {
                throw new IllegalArgumentException("size: " + sizeBytes + " bytes (expected: a positive multiple of " + blockSizeBytes + ")");
            }
            if (fromSnapshot.isPresent() && fromSnapshot.get().equals(toSnapshot)) {
                throw new IllegalArgumentException("from-snapshot and to-snapshot: both " + toSnapshot + " (expected: different)");
            }
        }
    }

    /**
     * Extents of the stream, ascending and not overlapping across the whole stream.
     *
     * @param frameIndex 1 for the first data frame, then consecutive
     */
    record Data(int frameIndex, List<MirrorExtent> extents) implements MirrorFrame {
        public Data {
            extents = List.copyOf(extents);
            if (frameIndex < 1 || extents.isEmpty()) {
                throw new IllegalArgumentException("data frame " + frameIndex + " with " + extents.size()
                        + " extents (expected: index >= 1, at least one extent)");
            }
        }
    }

    /**
     * The totals of the stream, checked by the reader before anything is committed.
     *
     * @param extentBytes every extent's length summed (data and zeros)
     * @param dataBytes   the data extents' lengths summed
     * @param chainCrc    CRC32C over the CRC32C of every frame before this one, in order
     */
    record End(UUID streamId, int dataFrameCount, long extentCount, long extentBytes, long dataBytes, int chainCrc)
            implements MirrorFrame {}
}
