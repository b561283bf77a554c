package io.basalt.vdisk.frame;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4FastDecompressor;

/**
 * What the store keeps per grain version: a small header, then the payload.
 *
 * <pre>
 *   byte 0     format version (1)
 *   byte 1     kind: 0 raw data, 1 LZ4 data, 2 zeros (mapped, no payload), 3 tombstone (unmapped),
 *              4 extent (the data lies in one of the store's extent files)
 *   bytes 2-5  CRC32C of the uncompressed grain data (big-endian); 0 for zeros and tombstones
 *   bytes 6-   payload: the grain (raw), or its LZ4 block (compressed); for an extent, the
 *              extent file id (8 bytes), the offset in it (8) and the data's length (4)
 * </pre>
 *
 * An extent frame is only a pointer: {@link #decode} refuses it, and the store that owns the
 * extent files reads the data and checks it with {@link #checkExtentData}.
 *
 * LZ4 is used only when it saves at least {@link #COMPRESSION_GAIN_MIN_BYTES}. The checksum covers
 * the uncompressed data, so a corruption of the stored payload, of the header, or a bug in the
 * codec all surface as a checksum mismatch on read. A grain of all zeros is stored as a
 * {@link Kind#ZEROS} frame: six bytes, still "mapped" in the SCSI sense.
 */
public final class BlockFrame {
    public static final byte FORMAT_VERSION = 1;
    public static final int HEADER_BYTES = 6;
    /** Don't pay LZ4's decompression on every read for a saving smaller than this. */
    public static final int COMPRESSION_GAIN_MIN_BYTES = 512;

    public enum Kind {
        RAW, LZ4, ZEROS, TOMBSTONE, EXTENT;

        static Kind of(byte code) {
            return switch (code) {
                case 0 -> RAW;
                case 1 -> LZ4;
                case 2 -> ZEROS;
                case 3 -> TOMBSTONE;
                case 4 -> EXTENT;
                default -> throw new FrameException("frame kind: " + code + " (expected: 0..4)");
            };
        }
    }

    private static final LZ4Compressor COMPRESSOR = LZ4Factory.fastestInstance().fastCompressor();
    private static final LZ4FastDecompressor DECOMPRESSOR = LZ4Factory.fastestInstance().fastDecompressor();
    private static final byte[] TOMBSTONE = {FORMAT_VERSION, 3, 0, 0, 0, 0};
    private static final byte[] ZEROS = {FORMAT_VERSION, 2, 0, 0, 0, 0};
    private static final byte[] ZERO_CHUNK = new byte[16 * 1024];
    private static final ThreadLocal<byte[]> SCRATCH = ThreadLocal.withInitial(() -> new byte[0]);

    private BlockFrame() {}

    /** A frame for {@code length} bytes of grain data at {@code data[offset]}. */
    public static byte[] encode(byte[] data, int offset, int length) {
        return encode(data, offset, length, true);
    }

    /**
     * A frame for {@code length} bytes of grain data at {@code data[offset]}; with {@code tryLz4}
     * false, non-zero data is stored raw without an LZ4 attempt (the caller has seen the data
     * not compress). Either frame decodes the same way: the choice costs space, never correctness.
     */
    public static byte[] encode(byte[] data, int offset, int length, boolean tryLz4) {
        if (isAllZero(data, offset, length)) {
            return ZEROS.clone();
        }
        int crc = crc32c(data, offset, length);
        byte[] scratch = tryLz4 ? scratch(COMPRESSOR.maxCompressedLength(length)) : null;
        int compressedBytes = tryLz4 ? COMPRESSOR.compress(data, offset, length, scratch, 0, scratch.length) : length;
        boolean compress = tryLz4 && compressedBytes + COMPRESSION_GAIN_MIN_BYTES <= length;
        int payloadBytes = compress ? compressedBytes : length;
        byte[] frame = new byte[HEADER_BYTES + payloadBytes];
        frame[0] = FORMAT_VERSION;
        frame[1] = (byte) (compress ? 1 : 0);
        putInt(frame, 2, crc);
        System.arraycopy(compress ? scratch : data, compress ? 0 : offset, frame, HEADER_BYTES, payloadBytes);
        return frame;
    }

    public static final int EXTENT_FRAME_BYTES = HEADER_BYTES + 8 + 8 + 4;

    /** A frame pointing at {@code length} bytes of grain data at {@code offset} of extent file {@code fileId}, whose CRC32C is {@code crc}. */
    public static byte[] extent(long fileId, long offset, int length, int crc) {
        byte[] frame = new byte[EXTENT_FRAME_BYTES];
        frame[0] = FORMAT_VERSION;
        frame[1] = 4;
        putInt(frame, 2, crc);
        putLong(frame, HEADER_BYTES, fileId);
        putLong(frame, HEADER_BYTES + 8, offset);
        putInt(frame, HEADER_BYTES + 16, length);
        return frame;
    }

    /** The extent file id of an {@link Kind#EXTENT} frame. */
    public static long extentFile(byte[] frame) {
        checkExtent(frame);
        return getLong(frame, HEADER_BYTES);
    }

    /** The offset of the data in its extent file. */
    public static long extentOffset(byte[] frame) {
        checkExtent(frame);
        return getLong(frame, HEADER_BYTES + 8);
    }

    /** The length of the data in its extent file. */
    public static int extentLength(byte[] frame) {
        checkExtent(frame);
        return getInt(frame, HEADER_BYTES + 16);
    }

    /**
     * Checks {@code grainBytes} of data read for extent frame {@code frame} at {@code data[offset]}.
     *
     * @throws FrameException when the frame is malformed, its length is not the grain's or the checksum does not match
     */
    public static void checkExtentData(byte[] frame, int grainBytes, ByteBuffer data, int index) {
        if (extentLength(frame) != grainBytes) {
            throw new FrameException("extent length: " + extentLength(frame) + " bytes (expected: " + grainBytes + ")");
        }
        CRC32C crc = new CRC32C();
        crc.update(data.slice(index, grainBytes));
        int expected = getInt(frame, 2);
        if (expected != (int) crc.getValue()) {
            throw new FrameException(String.format("checksum mismatch: crc32c %08x (expected: %08x) of extent file %d at offset %d",
                    (int) crc.getValue(), expected, extentFile(frame), extentOffset(frame)));
        }
    }

    private static void checkExtent(byte[] frame) {
        if (kind(frame) != Kind.EXTENT || frame.length != EXTENT_FRAME_BYTES) {
            throw new FrameException("extent frame: kind " + kind(frame) + ", " + frame.length + " bytes (expected: EXTENT, " + EXTENT_FRAME_BYTES + ")");
        }
    }

    private static void putLong(byte[] b, int at, long v) {
        putInt(b, at, (int) (v >>> 32));
        putInt(b, at + 4, (int) v);
    }

    private static long getLong(byte[] b, int at) {
        return (long) getInt(b, at) << 32 | (getInt(b, at + 4) & 0xffffffffL);
    }

    public static byte[] tombstone() {
        return TOMBSTONE.clone();
    }

    public static Kind kind(byte[] frame) {
        checkHeader(frame);
        return Kind.of(frame[1]);
    }

    /** True for a frame that maps the grain (data or zeros), false for a tombstone. */
    public static boolean isMapped(byte[] frame) {
        return kind(frame) != Kind.TOMBSTONE;
    }

    /**
     * Decodes {@code grainBytes} of data into {@code out[outOffset..]} and verifies the checksum.
     * Tombstones and zero frames decode to zeros.
     *
     * @throws FrameException when the frame is malformed or its checksum does not match
     */
    public static void decode(byte[] frame, int grainBytes, byte[] out, int outOffset) {
        Kind kind = kind(frame);
        switch (kind) {
            case EXTENT -> throw new FrameException("extent frame: its data lies in the store's extent files (expected: read through the store)");
            case TOMBSTONE, ZEROS -> {
                if (frame.length != HEADER_BYTES) {
                    throw new FrameException("frame length: " + frame.length + " (expected: " + HEADER_BYTES + " for " + kind + ")");
                }
                java.util.Arrays.fill(out, outOffset, outOffset + grainBytes, (byte) 0);
                return;
            }
            case RAW -> {
                int payload = frame.length - HEADER_BYTES;
                if (payload != grainBytes) {
                    throw new FrameException("raw payload: " + payload + " bytes (expected: " + grainBytes + ")");
                }
                System.arraycopy(frame, HEADER_BYTES, out, outOffset, grainBytes);
            }
            case LZ4 -> {
                try {
                    int read = DECOMPRESSOR.decompress(frame, HEADER_BYTES, out, outOffset, grainBytes);
                    if (read != frame.length - HEADER_BYTES) {
                        throw new FrameException("lz4 payload: consumed " + read + " of " + (frame.length - HEADER_BYTES) + " bytes");
                    }
                } catch (LZ4Exception e) {
                    throw new FrameException("lz4 payload does not decode: " + e.getMessage());
                }
            }
        }
        int expected = getInt(frame, 2);
        int actual = crc32c(out, outOffset, grainBytes);
        if (expected != actual) {
            throw new FrameException(String.format("checksum mismatch: crc32c %08x (expected: %08x)", actual, expected));
        }
    }

    /**
     * {@link #decode(byte[], int, byte[], int)} into a buffer, heap or direct, at absolute index
     * {@code outIndex}; the buffer's position and limit are left alone. Lets a reader decode
     * straight into a network buffer.
     *
     * @throws FrameException when the frame is malformed or its checksum does not match
     */
    public static void decode(byte[] frame, int grainBytes, ByteBuffer out, int outIndex) {
        if (out.hasArray()) {
            decode(frame, grainBytes, out.array(), out.arrayOffset() + outIndex);
            return;
        }
        Kind kind = kind(frame);
        switch (kind) {
            case EXTENT -> throw new FrameException("extent frame: its data lies in the store's extent files (expected: read through the store)");
            case TOMBSTONE, ZEROS -> {
                if (frame.length != HEADER_BYTES) {
                    throw new FrameException("frame length: " + frame.length + " (expected: " + HEADER_BYTES + " for " + kind + ")");
                }
                fillZeros(out, outIndex, grainBytes);
                return;
            }
            case RAW -> {
                int payload = frame.length - HEADER_BYTES;
                if (payload != grainBytes) {
                    throw new FrameException("raw payload: " + payload + " bytes (expected: " + grainBytes + ")");
                }
                out.put(outIndex, frame, HEADER_BYTES, grainBytes);
            }
            case LZ4 -> {
                try {
                    int read = DECOMPRESSOR.decompress(ByteBuffer.wrap(frame), HEADER_BYTES, out, outIndex, grainBytes);
                    if (read != frame.length - HEADER_BYTES) {
                        throw new FrameException("lz4 payload: consumed " + read + " of " + (frame.length - HEADER_BYTES) + " bytes");
                    }
                } catch (LZ4Exception e) {
                    throw new FrameException("lz4 payload does not decode: " + e.getMessage());
                }
            }
        }
        CRC32C crc = new CRC32C();
        crc.update(out.slice(outIndex, grainBytes));
        int expected = getInt(frame, 2);
        int actual = (int) crc.getValue();
        if (expected != actual) {
            throw new FrameException(String.format("checksum mismatch: crc32c %08x (expected: %08x)", actual, expected));
        }
    }

    /** Writes {@code length} zero bytes into {@code out} at absolute index {@code at}. */
    public static void fillZeros(ByteBuffer out, int at, int length) {
        if (out.hasArray()) {
            java.util.Arrays.fill(out.array(), out.arrayOffset() + at, out.arrayOffset() + at + length, (byte) 0);
            return;
        }
        for (int done = 0; done < length; done += ZERO_CHUNK.length) {
            out.put(at + done, ZERO_CHUNK, 0, Math.min(ZERO_CHUNK.length, length - done));
        }
    }

    public static int crc32c(byte[] data, int offset, int length) {
        CRC32C crc = new CRC32C();
        crc.update(data, offset, length);
        return (int) crc.getValue();
    }

    public static boolean isAllZero(byte[] data, int offset, int length) {
        // Compare 8 bytes at a time through a ByteBuffer view; the JIT vectorises this loop.
        ByteBuffer view = ByteBuffer.wrap(data, offset, length);
        int i = 0;
        for (; i + 8 <= length; i += 8) {
            if (view.getLong(offset + i) != 0) {
                return false;
            }
        }
        for (; i < length; i++) {
            if (data[offset + i] != 0) {
                return false;
            }
        }
        return true;
    }

    private static void checkHeader(byte[] frame) {
        if (frame.length < HEADER_BYTES) {
            throw new FrameException("frame length: " + frame.length + " (expected: >= " + HEADER_BYTES + ")");
        }
        if (frame[0] != FORMAT_VERSION) {
            throw new FrameException("frame format version: " + frame[0] + " (expected: " + FORMAT_VERSION + ")");
        }
    }

    private static byte[] scratch(int bytes) {
        byte[] buf = SCRATCH.get();
        if (buf.length < bytes) {
            buf = new byte[bytes];
            SCRATCH.set(buf);
        }
        return buf;
    }

    private static void putInt(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 24);
        b[at + 1] = (byte) (v >>> 16);
        b[at + 2] = (byte) (v >>> 8);
        b[at + 3] = (byte) v;
    }

    private static int getInt(byte[] b, int at) {
        return (b[at] & 0xff) << 24 | (b[at + 1] & 0xff) << 16 | (b[at + 2] & 0xff) << 8 | (b[at + 3] & 0xff);
    }
}
