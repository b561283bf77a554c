package io.basalt.replication.stream;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

import io.basalt.replication.stream.MirrorException.Reason;

/**
 * Reads one mirror stream from a byte channel and checks everything that depends on the stream
 * alone: each frame's CRC32C and fields ({@link MirrorFrameCodec}), that it starts with a header,
 * that data frames are numbered 1, 2, …, that extents are ascending, block-aligned, not
 * overlapping and inside the vdisk, and that the end frame's stream id, totals and chain checksum
 * match what was read. Whether the stream fits the replica is {@link MirrorReceiver}'s question.
 *
 * <p>The envelope prefix is checked before the frame is read, so a damaged length never makes
 * the reader allocate more than {@link MirrorFrameCodec#BODY_BYTES_MAX}. Not thread-safe.
 */
public final class MirrorStreamReader {
    private final InputStream in;
    private final byte[] prefix = new byte[MirrorFrameCodec.PREFIX_BYTES];
    private final CRC32C chain = new CRC32C();
    private final byte[] crcBytes = new byte[MirrorFrameCodec.CRC_BYTES];
    private MirrorFrame.Header header;
    private MirrorFrame.End end;
    private int dataFrameCount;
    private long extentCount;
    private long extentBytes;
    private long dataBytes;
    private long streamBytes;
    private long nextOffsetBytes;

    public MirrorStreamReader(InputStream in) {
        this.in = in;
    }

    /** Reads the header frame; refused when the stream starts with anything else. */
    public MirrorFrame.Header header() {
        if (header != null) {
            return header;
        }
        MirrorFrame first = readFrame("header");
        if (!(first instanceof MirrorFrame.Header h)) {
            throw new MirrorException(Reason.BAD_STREAM, "first frame: " + kind(first) + " (expected: header)");
        }
        header = h;
        return h;
    }

    /**
     * The next data frame, checked; or null once the end frame was read and matched every total.
     * Call {@link #header()} first.
     */
    public MirrorFrame.Data next() {
        if (header == null || end != null) {
            throw new IllegalStateException(header == null ? "read the header first" : "stream " + header.streamId() + " already ended");
        }
        int crcBefore = (int) chain.getValue();
        MirrorFrame frame = readFrame("data or end frame after data frame " + dataFrameCount);
        return switch (frame) {
            case MirrorFrame.Data d -> checked(d);
            case MirrorFrame.End e -> {
                checkEnd(e, crcBefore);
                end = e;
                yield null;
            }
            case MirrorFrame.Header h -> throw new MirrorException(Reason.BAD_STREAM,
                    "a second header (stream " + h.streamId() + ") after data frame " + dataFrameCount + " of stream " + header.streamId());
        };
    }

    public long streamBytes() {
        return streamBytes;
    }

    /** The end frame, once {@link #next()} returned null. */
    public MirrorFrame.End end() {
        return end;
    }

    private MirrorFrame.Data checked(MirrorFrame.Data d) {
        if (d.frameIndex() != dataFrameCount + 1) {
            throw new MirrorException(Reason.BAD_STREAM, "data frame index: " + d.frameIndex() + " (expected: " + (dataFrameCount + 1)
                    + ") stream " + header.streamId());
        }
        for (MirrorExtent e : d.extents()) {
            checkExtent(header, nextOffsetBytes, e, d.frameIndex());
            nextOffsetBytes = e.endBytes();
            extentBytes += e.lengthBytes();
            dataBytes += e.zeros() ? 0 : e.lengthBytes();
        }
        dataFrameCount++;
        extentCount += d.extents().size();
        return d;
    }

    /** An extent must be block-aligned, start at or after {@code nextOffsetBytes} and end inside the vdisk. */
    static void checkExtent(MirrorFrame.Header h, long nextOffsetBytes, MirrorExtent e, int frameIndex) {
        int block = h.blockSizeBytes();
        if (e.offsetBytes() % block != 0 || e.lengthBytes() % block != 0) {
            throw new MirrorException(Reason.BAD_STREAM, "extent at " + e.offsetBytes() + " of " + e.lengthBytes()
                    + " bytes in data frame " + frameIndex + " (expected: multiples of the block size " + block + ")");
        }
        if (e.offsetBytes() < nextOffsetBytes || e.endBytes() > h.sizeBytes()) {
            throw new MirrorException(Reason.BAD_STREAM, "extent " + e.offsetBytes() + ".." + e.endBytes() + " in data frame " + frameIndex
                    + " (expected: from " + nextOffsetBytes + " on, ascending, and up to the size " + h.sizeBytes() + ")");
        }
    }

    private void checkEnd(MirrorFrame.End e, int chainCrc) {
        MirrorFrame.End expected = new MirrorFrame.End(header.streamId(), dataFrameCount, extentCount, extentBytes, dataBytes, chainCrc);
        if (!e.equals(expected)) {
            throw new MirrorException(Reason.BAD_STREAM, "end frame: " + e + " (expected: " + expected + ", from what was read)");
        }
    }

    private MirrorFrame readFrame(String what) {
        try {
            int got = in.readNBytes(prefix, 0, prefix.length);
            if (got < prefix.length) {
                throw truncated(what, got);
            }
            int length = MirrorFrameCodec.frameLength(ByteBuffer.wrap(prefix));
            byte[] frame = new byte[length];
            System.arraycopy(prefix, 0, frame, 0, prefix.length);
            int rest = in.readNBytes(frame, prefix.length, length - prefix.length);
            if (rest < length - prefix.length) {
                throw truncated(what, prefix.length + rest);
            }
            MirrorFrame decoded = MirrorFrameCodec.decode(frame);
            streamBytes += length;
            if (!(decoded instanceof MirrorFrame.End)) {
                ByteBuffer.wrap(crcBytes).putInt(MirrorFrameCodec.crcOf(frame));
                chain.update(crcBytes);
            }
            return decoded;
        } catch (IOException e) {
            throw new UncheckedIOException("read mirror stream" + (header == null ? "" : " " + header.streamId()) + ": " + what, e);
        }
    }

    private MirrorException truncated(String what, int bytesOfFrame) {
        return new MirrorException(Reason.TRUNCATED, "mirror stream" + (header == null ? "" : " " + header.streamId() + " of " + header.vdiskName())
                + " ended " + bytesOfFrame + " bytes into the " + what + ", after " + streamBytes + " bytes (expected: an end frame)");
    }

    private static String kind(MirrorFrame f) {
        return switch (f) {
            case MirrorFrame.Header h -> "header";
            case MirrorFrame.Data d -> "data frame " + d.frameIndex();
            case MirrorFrame.End e -> "end frame";
        };
    }
}
