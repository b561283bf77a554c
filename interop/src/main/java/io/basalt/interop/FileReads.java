package io.basalt.interop;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Positional reads that fill the buffer or say which field pointed past the end of the file. */
final class FileReads implements AutoCloseable {
    final Path file;
    final FileChannel channel;
    final long sizeBytes;

    private FileReads(Path file, FileChannel channel, long sizeBytes) {
        this.file = file;
        this.channel = channel;
        this.sizeBytes = sizeBytes;
    }

    static FileReads open(Path file) {
        try {
            FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
            return new FileReads(file, ch, ch.size());
        } catch (IOException e) {
            throw new InteropException(file + ": open: " + e.getMessage(), e);
        }
    }

    /** Reads exactly {@code length} bytes at {@code position}; {@code what} names the field that gave the position. */
    void readFully(long position, byte[] dst, int dstOffset, int length, String what) {
        if (position < 0 || position > sizeBytes - length) {
            throw new InteropException(file + ": " + what + ": " + length + " bytes at offset " + position
                    + " (expected: within the file's " + sizeBytes + " bytes)");
        }
        readUpTo(position, dst, dstOffset, length);
    }

    /** Reads what the file holds of {@code [position, position + length)}; bytes past its end are left alone. Returns the count read. */
    int readUpTo(long position, byte[] dst, int dstOffset, int length) {
        ByteBuffer buf = ByteBuffer.wrap(dst, dstOffset, (int) Math.max(0, Math.min(length, sizeBytes - position)));
        try {
            while (buf.hasRemaining()) {
                int n = channel.read(buf, position + buf.position() - dstOffset);
                if (n < 0) {
                    throw new InteropException(file + ": shrank while being read: EOF at offset " + (position + buf.position() - dstOffset));
                }
            }
        } catch (IOException e) {
            throw new InteropException(file + ": read at offset " + position + ": " + e.getMessage(), e);
        }
        return buf.position() - dstOffset;
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new InteropException(file + ": close: " + e.getMessage(), e);
        }
    }
}
