package io.basalt.replication.link;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HexFormat;
import java.util.zip.CRC32C;

import io.basalt.replication.stream.MirrorException;
import io.basalt.replication.stream.MirrorFrame;
import io.basalt.replication.stream.MirrorFrameCodec;

/**
 * Where the secondary keeps the part of a round's stream it has received, one file per replica:
 * whole frames only, each checked against its CRC32C before it is appended. The replica itself
 * is not touched until the stream's end frame has arrived; then the whole staged stream is
 * applied from here, once ({@code MirrorReceiver}), and the file removed. So a cut connection
 * leaves the replica at its last complete snapshot, and the next attempt of the same stream (the
 * same header, the same stream id) resumes after the last whole frame staged.
 *
 * <p>A staged file that belongs to another attempt, or does not read back whole (a crash while
 * appending), is cut back to its last whole frame or dropped: staged bytes are never trusted
 * further than their CRCs. Costs up to one round's stream bytes of disk per replica being
 * received. Not thread-safe: the server holds one {@link Part} per replica at a time.
 */
final class StagingArea {
    private static final String SUFFIX = ".mirror-part";

    private final Path dir;

    StagingArea(Path dir) {
        this.dir = dir;
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the mirror staging directory " + dir, e);
        }
    }

    /** A replica's staging file; names are hex, so any vdisk name is a file name. */
    Path pathOf(String replica) {
        return dir.resolve(HexFormat.of().formatHex(replica.getBytes(StandardCharsets.UTF_8)) + SUFFIX);
    }

    /**
     * Opens the staging of the stream {@code header} heads: resumes after the whole frames
     * already staged for this very header (never after its end frame, so the end arrives again
     * and triggers the apply), or starts empty, dropping whatever else was staged for the replica.
     */
    Part open(MirrorFrame.Header header) {
        Path path = pathOf(header.vdiskName());
        try {
            FileChannel file = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            try {
                Part part = new Part(header, path, file);
                part.recover();
                return part;
            } catch (IOException | RuntimeException e) {
                file.close();
                throw e;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open mirror staging " + path + " for stream " + header.streamId(), e);
        }
    }

    /** The staged part of one stream. */
    static final class Part implements AutoCloseable {
        private final MirrorFrame.Header header;
        private final Path path;
        private final FileChannel file;
        private final CRC32C chain = new CRC32C();
        private final byte[] crcBytes = new byte[MirrorFrameCodec.CRC_BYTES];
        private long stagedBytes;
        private boolean ended;

        private Part(MirrorFrame.Header header, Path path, FileChannel file) {
            this.header = header;
            this.path = path;
            this.file = file;
        }

        /** Bytes of whole frames staged: where the sender resumes. */
        long stagedBytes() {
            return stagedBytes;
        }

        /** The chain of the staged frames' CRCs, as the end frame chains them. */
        int chainCrc() {
            return (int) chain.getValue();
        }

        boolean ended() {
            return ended;
        }

        Path path() {
            return path;
        }

        MirrorFrame.Header header() {
            return header;
        }

        /**
         * Appends one frame, checked first: its CRC32C and fields, and that the first frame is this
         * stream's header. Whether the frames make a whole stream is checked when it is applied.
         *
         * @return true when it was the end frame
         */
        boolean append(ByteBuffer frame) {
            if (ended) {
                throw new MirrorException(MirrorException.Reason.BAD_STREAM, "stream " + header.streamId() + ": a frame after its end frame");
            }
            byte[] bytes = new byte[frame.remaining()];
            frame.duplicate().get(bytes);
            MirrorFrame decoded = MirrorFrameCodec.decode(bytes);
            if (stagedBytes == 0 && !header.equals(decoded)) {
                throw new MirrorException(MirrorException.Reason.BAD_STREAM, "stream starts with " + decoded.getClass().getSimpleName()
                        + " (expected: the header of stream " + header.streamId() + " that was requested)");
            }
            try {
                ByteBuffer b = ByteBuffer.wrap(bytes);
                while (b.hasRemaining()) {
                    file.write(b, stagedBytes + b.position());
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot stage stream " + header.streamId() + " in " + path, e);
            }
            stagedBytes += bytes.length;
            ended = decoded instanceof MirrorFrame.End;
            if (!ended) {
                chainUpdate(bytes);
            }
            return ended;
        }

        /** The staged stream from its start, for the apply. */
        InputStream read() throws IOException {
            return new java.io.BufferedInputStream(Files.newInputStream(path), 1 << 20);
        }

        /** Removes the staged stream (applied, or refused: never to be resumed). */
        void discard() {
            close();
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot remove mirror staging " + path, e);
            }
        }

        @Override
        public void close() {
            try {
                file.close();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot close mirror staging " + path, e);
            }
        }

        /** Keeps the staged whole frames of this header's stream before its end frame; drops all else. */
        private void recover() throws IOException {
            long size = file.size();
            long at = 0;
            ByteBuffer prefix = ByteBuffer.allocate(MirrorFrameCodec.PREFIX_BYTES);
            while (at + MirrorFrameCodec.PREFIX_BYTES <= size) {
                prefix.clear();
                readFully(prefix, at);
                int length;
                try {
                    length = MirrorFrameCodec.frameLength(prefix.flip());
                } catch (MirrorException damaged) {
                    break;
                }
                if (at + length > size) {
                    break; // a frame cut by a crash
                }
                ByteBuffer frame = ByteBuffer.allocate(length);
                readFully(frame, at);
                MirrorFrame decoded;
                try {
                    decoded = MirrorFrameCodec.decode(frame.array());
                } catch (MirrorException damaged) {
                    break;
                }
                if ((at == 0 && !header.equals(decoded)) || decoded instanceof MirrorFrame.End) {
                    break; // another attempt's stream; or the end, which the sender sends again
                }
                chainUpdate(frame.array());
                at += length;
            }
            file.truncate(at);
            stagedBytes = at;
        }

        private void readFully(ByteBuffer b, long at) throws IOException {
            while (b.hasRemaining()) {
                if (file.read(b, at + b.position()) < 0) {
                    throw new IOException("mirror staging " + path + " ended at " + (at + b.position()) + " while reading a frame");
                }
            }
        }

        private void chainUpdate(byte[] frame) {
            ByteBuffer.wrap(crcBytes).putInt(MirrorFrameCodec.crcOf(frame));
            chain.update(crcBytes);
        }
    }
}
