package io.basalt.replication.stream;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Writes one mirror stream to a byte channel: the header, data frames numbered from 1, and an
 * end frame whose totals and chain checksum it keeps while the data frames go out. Checks on the
 * way what a reader will check (extents ascending, not overlapping, inside the vdisk), so a bad
 * stream fails here, at its source. Not thread-safe: one writer per stream.
 */
public final class MirrorStreamWriter {
    private final OutputStream out;
    private final MirrorFrame.Header header;
    private final CRC32C chain = new CRC32C();
    private final byte[] crcBytes = new byte[MirrorFrameCodec.CRC_BYTES];
    private int dataFrameCount;
    private long extentCount;
    private long extentBytes;
    private long dataBytes;
    private long streamBytes;
    private long nextOffsetBytes;
    private boolean ended;

    /** Writes {@code header} at once. */
    public MirrorStreamWriter(OutputStream out, MirrorFrame.Header header) {
        this.out = out;
        this.header = header;
        emit(MirrorFrameCodec.encode(header));
    }

    /** Writes one data frame of {@code extents} (at most {@link MirrorFrameCodec#SECTION_BYTES_MAX} section bytes). */
    public void data(List<MirrorExtent> extents) {
        if (ended) {
            throw new IllegalStateException("stream " + header.streamId() + " already ended");
        }
        for (MirrorExtent e : extents) {
            MirrorStreamReader.checkExtent(header, nextOffsetBytes, e, dataFrameCount + 1);
            nextOffsetBytes = e.endBytes();
            extentBytes += e.lengthBytes();
            dataBytes += e.zeros() ? 0 : e.lengthBytes();
        }
        dataFrameCount++;
        extentCount += extents.size();
        emit(MirrorFrameCodec.encode(new MirrorFrame.Data(dataFrameCount, extents)));
    }

    /** Writes the end frame and flushes; returns the stream's totals. */
    public MirrorFrame.End end() {
        if (ended) {
            throw new IllegalStateException("stream " + header.streamId() + " already ended");
        }
        MirrorFrame.End end = new MirrorFrame.End(header.streamId(), dataFrameCount, extentCount, extentBytes, dataBytes, (int) chain.getValue());
        emit(MirrorFrameCodec.encode(end));
        ended = true;
        try {
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("flush mirror stream " + header.streamId(), e);
        }
        return end;
    }

    /** Bytes written so far, envelopes included: what the link carries. */
    public long streamBytes() {
        return streamBytes;
    }

    private void emit(byte[] frame) {
        try {
            out.write(frame);
        } catch (IOException e) {
            throw new UncheckedIOException("write mirror stream " + header.streamId() + " of " + header.vdiskName(), e);
        }
        streamBytes += frame.length;
        ByteBuffer.wrap(crcBytes).putInt(MirrorFrameCodec.crcOf(frame));
        chain.update(crcBytes);
    }
}
