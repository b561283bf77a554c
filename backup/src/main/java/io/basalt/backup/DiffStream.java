package io.basalt.backup;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.zip.CRC32C;
import java.util.zip.CheckedInputStream;
import java.util.zip.CheckedOutputStream;

/**
 * The diff stream format (docs/backup-format.md), like {@code rbd export-diff}'s: what changed
 * between two snapshots of a vdisk, to apply to a copy that has the first. Big-endian:
 * <pre>
 *   magic "BSLTDIFF" (8), version (4) = 1
 *   from-snapshot: length (2) + UTF-8 (length 0: from the start, the whole disk)
 *   to-snapshot:   length (2) + UTF-8
 *   size in bytes (8), logical block size (4)
 *   records, ascending and not overlapping:
 *     'D' offset (8) length (4) data[length]   bytes to write (length <= {@value #DATA_BYTES_MAX})
 *     'Z' offset (8) length (8)                bytes that read as zeros (unmapped)
 *   'E'
 *   CRC32C (4) of every byte before it
 * </pre>
 * Offsets and lengths are whole blocks. A reader checks the CRC before it applies anything.
 */
public final class DiffStream {
    static final long MAGIC = 0x42534C5444494646L; // "BSLTDIFF"
    static final int VERSION = 1;
    public static final int DATA_BYTES_MAX = 1 << 20;
    static final int NAME_BYTES_MAX = 1024;

    /** The stream's header. */
    public record Header(Optional<String> fromSnap, String toSnap, long sizeBytes, int blockSizeBytes) {}

    /** One record. */
    public sealed interface Record {
        long offsetBytes();

        /** {@code data}, read-only, holds the bytes from its position to its limit. */
        record Data(long offsetBytes, java.nio.ByteBuffer data) implements Record {}

        record Zero(long offsetBytes, long lengthBytes) implements Record {}
    }

    private DiffStream() {}

    /** Writes a stream; the caller adds records in ascending order and calls {@link Writer#finish()}. */
    public static final class Writer implements AutoCloseable {
        private final CRC32C crc = new CRC32C();
        private final DataOutputStream out;
        private final OutputStream raw;
        private final Header header;
        private long nextOffsetBytes;

        public Writer(OutputStream raw, Header header) throws IOException {
            this.raw = raw;
            this.header = header;
            this.out = new DataOutputStream(new CheckedOutputStream(new BufferedOutputStream(raw, 1 << 20), crc));
            out.writeLong(MAGIC);
            out.writeInt(VERSION);
            writeName(header.fromSnap().orElse(""));
            writeName(header.toSnap());
            out.writeLong(header.sizeBytes());
            out.writeInt(header.blockSizeBytes());
        }

        private void writeName(String name) throws IOException {
            byte[] b = name.getBytes(StandardCharsets.UTF_8);
            if (b.length > NAME_BYTES_MAX) {
                throw new IllegalArgumentException("snapshot name of " + b.length + " bytes (expected: <= " + NAME_BYTES_MAX + ")");
            }
            out.writeShort(b.length);
            out.write(b);
        }

        public void data(long offsetBytes, byte[] data, int at, int length) throws IOException {
            check(offsetBytes, length);
            out.write('D');
            out.writeLong(offsetBytes);
            out.writeInt(length);
            out.write(data, at, length);
        }

        public void zero(long offsetBytes, long length) throws IOException {
            check(offsetBytes, length);
            out.write('Z');
            out.writeLong(offsetBytes);
            out.writeLong(length);
        }

        private void check(long offsetBytes, long length) {
            int bs = header.blockSizeBytes();
            if (offsetBytes < nextOffsetBytes || length <= 0 || offsetBytes % bs != 0 || length % bs != 0 || offsetBytes + length > header.sizeBytes()) {
                throw new IllegalArgumentException("diff record at " + offsetBytes + " of " + length + " bytes (expected: whole " + bs
                        + "-byte blocks, at or after " + nextOffsetBytes + ", within " + header.sizeBytes() + ")");
            }
            nextOffsetBytes = offsetBytes + length;
        }

        /** Writes the end marker and the CRC32C, and flushes. */
        public void finish() throws IOException {
            out.write('E');
            out.flush();
            DataOutputStream tail = new DataOutputStream(raw);
            tail.writeInt((int) crc.getValue());
            tail.flush();
        }

        @Override
        public void close() throws IOException {
            raw.close();
        }
    }

    /** Reads a stream record by record; {@link #next()} returns empty after the end marker, once the CRC matched. */
    public static final class Reader implements AutoCloseable {
        private final CRC32C crc = new CRC32C();
        private final InputStream raw;
        private final DataInputStream in;
        private final Header header;
        private long nextOffsetBytes;
        private boolean ended;

        public Reader(InputStream stream) throws IOException {
            this.raw = new BufferedInputStream(stream, 1 << 20);
            this.in = new DataInputStream(new CheckedInputStream(raw, crc));
            long magic = readLong();
            int version = in.readInt();
            if (magic != MAGIC || version != VERSION) {
                throw new BackupException("diff stream: magic " + Long.toHexString(magic) + " version " + version + " (expected: "
                        + Long.toHexString(MAGIC) + " version " + VERSION + ")");
            }
            String from = readName();
            String to = readName();
            long size = in.readLong();
            int bs = in.readInt();
            if (to.isEmpty() || size < 0 || (bs != 512 && bs != 4096) || size % bs != 0) {
                throw new BackupException("diff stream header: to '" + to + "', size " + size + ", block size " + bs
                        + " (expected: a to-snapshot, block size 512 or 4096, the size a multiple of it)");
            }
            this.header = new Header(Optional.of(from).filter(f -> !f.isEmpty()), to, size, bs);
        }

        private long readLong() throws IOException {
            try {
                return in.readLong();
            } catch (EOFException e) {
                throw new BackupException("diff stream: shorter than its header", e);
            }
        }

        private String readName() throws IOException {
            int n = in.readUnsignedShort();
            if (n > NAME_BYTES_MAX) {
                throw new BackupException("diff stream: snapshot name of " + n + " bytes (expected: <= " + NAME_BYTES_MAX + ")");
            }
            return new String(in.readNBytes(n), StandardCharsets.UTF_8);
        }

        public Header header() {
            return header;
        }

        public Optional<Record> next() throws IOException {
            if (ended) {
                return Optional.empty();
            }
            try {
                int kind = in.read();
                return switch (kind) {
                    case 'D' -> {
                        long offset = in.readLong();
                        int length = in.readInt();
                        check(offset, length, DATA_BYTES_MAX);
                        byte[] data = in.readNBytes(length);
                        if (data.length != length) {
                            throw new EOFException();
                        }
                        yield Optional.of(new Record.Data(offset, java.nio.ByteBuffer.wrap(data).asReadOnlyBuffer()));
                    }
                    case 'Z' -> {
                        long offset = in.readLong();
                        long length = in.readLong();
                        check(offset, length, Long.MAX_VALUE);
                        yield Optional.of(new Record.Zero(offset, length));
                    }
                    case 'E' -> {
                        end();
                        yield Optional.empty();
                    }
                    case -1 -> throw new EOFException();
                    default -> throw new BackupException("diff stream: record kind " + kind + " (expected: 'D', 'Z' or 'E')");
                };
            } catch (EOFException e) {
                throw new BackupException("diff stream: ends before its end marker (truncated)", e);
            }
        }

        private void check(long offset, long length, long lengthMax) {
            int bs = header.blockSizeBytes();
            if (offset < nextOffsetBytes || length <= 0 || length > lengthMax || offset % bs != 0 || length % bs != 0
                    || offset + length > header.sizeBytes()) {
                throw new BackupException("diff stream: record at " + offset + " of " + length + " bytes (expected: whole " + bs
                        + "-byte blocks, at or after " + nextOffsetBytes + ", within " + header.sizeBytes() + ", at most " + lengthMax + ")");
            }
            nextOffsetBytes = offset + length;
        }

        private void end() throws IOException {
            int expected = (int) crc.getValue();
            byte[] tail = raw.readNBytes(4);
            if (tail.length != 4) {
                throw new BackupException("diff stream: ends before its CRC32C (truncated)");
            }
            int stated = ((tail[0] & 0xff) << 24) | ((tail[1] & 0xff) << 16) | ((tail[2] & 0xff) << 8) | (tail[3] & 0xff);
            if (stated != expected) {
                throw new BackupException("diff stream: CRC32C " + Integer.toHexString(expected) + " (expected: " + Integer.toHexString(stated) + ")");
            }
            if (raw.read() != -1) {
                throw new BackupException("diff stream: bytes after its CRC32C (expected: the end of the file)");
            }
            ended = true;
        }

        @Override
        public void close() throws IOException {
            raw.close();
        }
    }
}
