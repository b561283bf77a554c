package io.basalt.replication.link;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

import io.basalt.replication.stream.MirrorFrameCodec;

/**
 * Where a {@code MirrorSender} writes a stream bound for the link: each write is one whole frame
 * (as {@code MirrorStreamWriter} writes them), sent as a {@link LinkMessage.StreamFrame} once
 * the bandwidth limit allows and the channel is writable. The frames before {@code skipBytes}
 * (the peer holds them) are not sent; their CRC chain must reach the peer's {@code chainCrc}
 * exactly at {@code skipBytes}, or the stream is not the one the peer staged
 * ({@link StagedPrefixMismatch}).
 */
final class FrameOutput extends OutputStream {
    private final ClientConnection connection;
    private final long skipBytes;
    private final int chainCrc;
    private final TokenBucket bandwidth;
    private final Duration stallMax;
    private final CRC32C chain = new CRC32C();
    private final byte[] crcBytes = new byte[MirrorFrameCodec.CRC_BYTES];
    private long streamBytes;
    private long sentBytes;

    /** @param bandwidth the limit, or null for none */
    FrameOutput(ClientConnection connection, long skipBytes, int chainCrc, TokenBucket bandwidth, Duration stallMax) {
        this.connection = connection;
        this.skipBytes = skipBytes;
        this.chainCrc = chainCrc;
        this.bandwidth = bandwidth;
        this.stallMax = stallMax;
    }

    long sentBytes() {
        return sentBytes;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        byte[] frame = off == 0 && len == b.length ? b : Arrays.copyOfRange(b, off, off + len);
        int frameLength = MirrorFrameCodec.frameLength(ByteBuffer.wrap(frame, 0, MirrorFrameCodec.PREFIX_BYTES));
        if (frameLength != len) {
            throw new IllegalStateException("write of " + len + " bytes (expected: one whole frame of " + frameLength + ")");
        }
        long end = streamBytes + len;
        if (end <= skipBytes) {
            ByteBuffer.wrap(crcBytes).putInt(MirrorFrameCodec.crcOf(frame));
            chain.update(crcBytes);
            streamBytes = end;
            if (end == skipBytes && (int) chain.getValue() != chainCrc) {
                throw new StagedPrefixMismatch("the first " + skipBytes + " stream bytes chain to " + Integer.toHexString((int) chain.getValue())
                        + " here (expected: " + Integer.toHexString(chainCrc) + ", what the peer staged)");
            }
            return;
        }
        if (streamBytes < skipBytes) {
            throw new StagedPrefixMismatch("the peer staged " + skipBytes + " bytes, inside the frame at " + streamBytes + ".." + end);
        }
        if (bandwidth != null) {
            pace(bandwidth.acquire(LinkCodec.PREFIX_BYTES + len));
        }
        connection.send(new LinkMessage.StreamFrame(ByteBuffer.wrap(frame)), stallMax);
        streamBytes = end;
        sentBytes += len;
    }

    @Override
    public void write(int b) {
        throw new UnsupportedOperationException("a mirror link takes whole frames (expected: write(byte[]))");
    }

    private static void pace(long waitNanos) throws InterruptedIOException {
        if (waitNanos > 0) {
            try {
                TimeUnit.NANOSECONDS.sleep(waitNanos);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while pacing the mirror stream");
            }
        }
    }
}
