package io.basalt.replication.stream;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.zip.CRC32C;

import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4FastDecompressor;

import io.basalt.replication.stream.MirrorException.Reason;

/**
 * Encodes and decodes one {@link MirrorFrame} (the layout: docs/architecture.md, "Replication").
 * Every frame is an envelope that stays the same in every format version:
 *
 * <pre>
 *   u8   type         1 header, 2 data, 3 end
 *   u32  bodyLength   at most {@link #BODY_BYTES_MAX}
 *   body              as the type and the stream's format version say
 *   u32  CRC32C       of type, bodyLength and body
 * </pre>
 *
 * A data frame's body is its index, its extent count, an encoding byte (0 raw, 1 LZ4), the
 * length of its extents section and that section, LZ4-compressed when that saves bytes. Decoding
 * checks the CRC before it looks at the body, and refuses anything it cannot read fully and
 * exactly with a {@link MirrorException} (BAD_FRAME) naming the bad value; it never throws
 * anything else on bad bytes. Stateless and thread-safe.
 */
public final class MirrorFrameCodec {
    /** The stream format this code writes and reads; the header frame carries it. */
    public static final int FORMAT_VERSION = 1;
    /** "BMIR": the first bytes of a header frame's body. */
    static final int HEADER_MAGIC = 0x424d4952;
    static final byte TYPE_HEADER = 1;
    static final byte TYPE_DATA = 2;
    static final byte TYPE_END = 3;
    /** type(1) + bodyLength(4) */
    public static final int PREFIX_BYTES = 5;
    public static final int CRC_BYTES = 4;
    /** The most extent bytes (offsets, lengths, kinds and data, uncompressed) one data frame holds. */
    public static final int SECTION_BYTES_MAX = 1 << 20;
    /** A data frame's body around its section: index, count, encoding, raw length; LZ4's worst case on top. */
    public static final int BODY_BYTES_MAX = SECTION_BYTES_MAX + SECTION_BYTES_MAX / 255 + 16 + 64;
    /** offset(8) + length(4) + kind(1) before each extent's data. */
    public static final int EXTENT_OVERHEAD_BYTES = 13;
    private static final byte ENCODING_RAW = 0;
    private static final byte ENCODING_LZ4 = 1;
    private static final byte KIND_ZEROS = 0;
    private static final byte KIND_DATA = 1;

    private static final LZ4Compressor COMPRESSOR = LZ4Factory.fastestInstance().fastCompressor();
    private static final LZ4FastDecompressor DECOMPRESSOR = LZ4Factory.fastestInstance().fastDecompressor();

    private MirrorFrameCodec() {}

    // ---- encoding ----

    public static byte[] encode(MirrorFrame frame) {
        return switch (frame) {
            case MirrorFrame.Header h -> envelope(TYPE_HEADER, headerBody(h));
            case MirrorFrame.Data d -> envelope(TYPE_DATA, dataBody(d));
            case MirrorFrame.End e -> envelope(TYPE_END, endBody(e));
        };
    }

    /** The CRC32C an encoded frame ends with (what the end frame's chain is built from). */
    public static int crcOf(byte[] frame) {
        return ByteBuffer.wrap(frame).getInt(frame.length - CRC_BYTES);
    }

    private static byte[] envelope(byte type, byte[] body) {
        if (body.length > BODY_BYTES_MAX) {
            throw new IllegalArgumentException("frame body: " + body.length + " bytes (expected: <= " + BODY_BYTES_MAX + ")");
        }
        ByteBuffer out = ByteBuffer.allocate(PREFIX_BYTES + body.length + CRC_BYTES);
        out.put(type).putInt(body.length).put(body);
        CRC32C crc = new CRC32C();
        crc.update(out.array(), 0, PREFIX_BYTES + body.length);
        out.putInt((int) crc.getValue());
        return out.array();
    }

    private static byte[] headerBody(MirrorFrame.Header h) {
        return write(out -> {
            out.writeInt(HEADER_MAGIC);
            out.writeShort(h.formatVersion());
            writeName(out, h.sourceSite());
            writeName(out, h.vdiskName());
            out.writeLong(h.sourceVdiskId());
            out.writeLong(h.streamId().getMostSignificantBits());
            out.writeLong(h.streamId().getLeastSignificantBits());
            out.writeLong(h.sequence());
            out.writeLong(h.sizeBytes());
            out.writeInt(h.blockSizeBytes());
            out.writeInt(h.grainSizeBytes());
            out.writeBoolean(h.fromSnapshot().isPresent());
            if (h.fromSnapshot().isPresent()) {
                writeName(out, h.fromSnapshot().get());
            }
            writeName(out, h.toSnapshot());
        });
    }

    private static byte[] dataBody(MirrorFrame.Data d) {
        byte[] section = section(d.extents());
        byte[] packed = new byte[COMPRESSOR.maxCompressedLength(section.length)];
        int packedLength = COMPRESSOR.compress(section, 0, section.length, packed, 0);
        boolean lz4 = packedLength < section.length;
        ByteBuffer body = ByteBuffer.allocate(4 + 2 + 1 + 4 + (lz4 ? packedLength : section.length));
        body.putInt(d.frameIndex()).putShort((short) d.extents().size()).put(lz4 ? ENCODING_LZ4 : ENCODING_RAW).putInt(section.length);
        body.put(lz4 ? packed : section, 0, lz4 ? packedLength : section.length);
        return body.array();
    }

    /** The bytes a data frame's section takes for {@code extents} (before compression). */
    public static long sectionBytes(List<MirrorExtent> extents) {
        long bytes = 0;
        for (MirrorExtent e : extents) {
            bytes += EXTENT_OVERHEAD_BYTES + (e.zeros() ? 0 : e.lengthBytes());
        }
        return bytes;
    }

    private static byte[] section(List<MirrorExtent> extents) {
        long bytes = sectionBytes(extents);
        if (bytes > SECTION_BYTES_MAX || extents.size() > 0xffff) {
            throw new IllegalArgumentException("data frame: " + extents.size() + " extents, " + bytes
                    + " section bytes (expected: <= 65535 extents, <= " + SECTION_BYTES_MAX + " bytes)");
        }
        ByteBuffer out = ByteBuffer.allocate((int) bytes);
        for (MirrorExtent e : extents) {
            out.putLong(e.offsetBytes()).putInt(e.lengthBytes()).put(e.zeros() ? KIND_ZEROS : KIND_DATA);
            e.data().ifPresent(out::put);
        }
        return out.array();
    }

    private static byte[] endBody(MirrorFrame.End e) {
        return ByteBuffer.allocate(16 + 4 + 8 + 8 + 8 + 4)
                .putLong(e.streamId().getMostSignificantBits()).putLong(e.streamId().getLeastSignificantBits())
                .putInt(e.dataFrameCount()).putLong(e.extentCount()).putLong(e.extentBytes()).putLong(e.dataBytes())
                .putInt(e.chainCrc()).array();
    }

    // ---- decoding ----

    /**
     * Checks the envelope prefix of a frame ({@link #PREFIX_BYTES} at {@code prefix}'s position)
     * and returns the whole frame's length, so a reader knows how much to wait for before it
     * allocates anything. Refuses an unknown type or a body longer than {@link #BODY_BYTES_MAX}.
     */
    public static int frameLength(ByteBuffer prefix) {
        byte type = prefix.get(prefix.position());
        int bodyLength = prefix.getInt(prefix.position() + 1);
        if (type != TYPE_HEADER && type != TYPE_DATA && type != TYPE_END) {
            throw bad("frame type: " + type + " (expected: 1 header, 2 data, 3 end)");
        }
        if (bodyLength < 0 || bodyLength > BODY_BYTES_MAX) {
            throw bad("frame body length: " + bodyLength + " (expected: 0.." + BODY_BYTES_MAX + ")");
        }
        return PREFIX_BYTES + bodyLength + CRC_BYTES;
    }

    /** Decodes one whole frame (envelope included), checking its CRC32C first. */
    public static MirrorFrame decode(byte[] frame) {
        if (frame.length < PREFIX_BYTES + CRC_BYTES) {
            throw bad("frame: " + frame.length + " bytes (expected: >= " + (PREFIX_BYTES + CRC_BYTES) + ")");
        }
        int length = frameLength(ByteBuffer.wrap(frame));
        if (length != frame.length) {
            throw bad("frame: " + frame.length + " bytes (expected: " + length + " from its body length)");
        }
        CRC32C crc = new CRC32C();
        crc.update(frame, 0, frame.length - CRC_BYTES);
        int stored = crcOf(frame);
        if ((int) crc.getValue() != stored) {
            throw bad(String.format("frame CRC32C: %08x (expected: %08x computed over its %d bytes, type %d)",
                    stored, (int) crc.getValue(), frame.length - CRC_BYTES, frame[0]));
        }
        ByteBuffer body = ByteBuffer.wrap(frame, PREFIX_BYTES, frame.length - PREFIX_BYTES - CRC_BYTES).slice();
        try {
            MirrorFrame decoded = switch (frame[0]) {
                case TYPE_HEADER -> decodeHeader(body);
                case TYPE_DATA -> decodeData(body);
                default -> decodeEnd(body);
            };
            if (body.hasRemaining()) {
                throw bad("frame type " + frame[0] + ": " + body.remaining() + " bytes after its last field (expected: none)");
            }
            return decoded;
        } catch (BufferUnderflowException | IndexOutOfBoundsException e) {
            throw bad("frame type " + frame[0] + ": body of " + frame.length + " bytes ends inside a field");
        } catch (IllegalArgumentException e) {
            throw new MirrorException(Reason.BAD_FRAME, "frame type " + frame[0] + ": " + e.getMessage(), e);
        }
    }

    private static MirrorFrame.Header decodeHeader(ByteBuffer in) {
        int magic = in.getInt();
        if (magic != HEADER_MAGIC) {
            throw bad(String.format("header magic: %08x (expected: %08x, 'BMIR')", magic, HEADER_MAGIC));
        }
        int version = Short.toUnsignedInt(in.getShort());
        if (version != FORMAT_VERSION) {
            throw bad("mirror stream format version: " + version + " (this Basalt reads: " + FORMAT_VERSION + ")");
        }
        String site = utf(in);
        String vdisk = utf(in);
        long vdiskId = in.getLong();
        UUID streamId = new UUID(in.getLong(), in.getLong());
        long sequence = in.getLong();
        long size = in.getLong();
        int block = in.getInt();
        int grain = in.getInt();
        Optional<String> from = bool(in) ? Optional.of(utf(in)) : Optional.empty();
        String to = utf(in);
        return new MirrorFrame.Header(version, site, vdisk, vdiskId, streamId, sequence, size, block, grain, from, to);
    }

    private static MirrorFrame.Data decodeData(ByteBuffer in) {
        int index = in.getInt();
        int count = Short.toUnsignedInt(in.getShort());
        byte encoding = in.get();
        int rawLength = in.getInt();
        if (rawLength < 0 || rawLength > SECTION_BYTES_MAX) {
            throw bad("data frame " + index + " section: " + rawLength + " bytes (expected: 0.." + SECTION_BYTES_MAX + ")");
        }
        ByteBuffer section = switch (encoding) {
            case ENCODING_RAW -> {
                if (in.remaining() != rawLength) {
                    throw bad("data frame " + index + " raw section: " + in.remaining() + " bytes (expected: " + rawLength + ")");
                }
                ByteBuffer s = in.slice();
                in.position(in.limit());
                yield s;
            }
            case ENCODING_LZ4 -> decompress(in, index, rawLength);
            default -> throw bad("data frame " + index + " encoding: " + encoding + " (expected: 0 raw, 1 LZ4)");
        };
        List<MirrorExtent> extents = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            extents.add(extent(section, index));
        }
        if (section.hasRemaining()) {
            throw bad("data frame " + index + ": " + section.remaining() + " section bytes after its " + count + " extents (expected: none)");
        }
        return new MirrorFrame.Data(index, extents);
    }

    private static ByteBuffer decompress(ByteBuffer in, int index, int rawLength) {
        byte[] raw = new byte[rawLength];
        int packedLength = in.remaining();
        try {
            int read = DECOMPRESSOR.decompress(in.array(), in.arrayOffset() + in.position(), raw, 0, rawLength);
            if (read != packedLength) {
                throw bad("data frame " + index + " LZ4 section: " + packedLength + " bytes, " + read + " of them decoded (expected: all)");
            }
        } catch (LZ4Exception e) {
            throw bad("data frame " + index + " LZ4 section does not decode to " + rawLength + " bytes: " + e.getMessage());
        }
        in.position(in.limit());
        return ByteBuffer.wrap(raw);
    }

    private static MirrorExtent extent(ByteBuffer section, int index) {
        long offset = section.getLong();
        int length = section.getInt();
        byte kind = section.get();
        if (kind == KIND_ZEROS) {
            return MirrorExtent.zeros(offset, length);
        }
        if (kind != KIND_DATA) {
            throw bad("data frame " + index + " extent at " + offset + " kind: " + kind + " (expected: 0 zeros, 1 data)");
        }
        if (length <= 0 || length > section.remaining()) {
            throw bad("data frame " + index + " extent at " + offset + ": " + length + " bytes (expected: 1.." + section.remaining() + ")");
        }
        ByteBuffer data = section.slice(section.position(), length);
        section.position(section.position() + length);
        return MirrorExtent.data(offset, data);
    }

    private static MirrorFrame.End decodeEnd(ByteBuffer in) {
        return new MirrorFrame.End(new UUID(in.getLong(), in.getLong()), in.getInt(), in.getLong(), in.getLong(), in.getLong(), in.getInt());
    }

    private static String utf(ByteBuffer in) {
        int length = Short.toUnsignedInt(in.getShort());
        ByteBuffer bytes = in.slice(in.position(), length);
        in.position(in.position() + length);
        try {
            // Strict: a damaged name is refused, never read as another name.
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(bytes).toString();
        } catch (CharacterCodingException e) {
            throw bad("name of " + length + " bytes is not UTF-8");
        }
    }

    private static boolean bool(ByteBuffer in) {
        byte b = in.get();
        if (b != 0 && b != 1) {
            throw bad("flag: " + b + " (expected: 0 or 1)");
        }
        return b == 1;
    }

    private static MirrorException bad(String message) {
        return new MirrorException(Reason.BAD_FRAME, message);
    }

    /** u16 length and standard UTF-8 (not DataOutput's modified UTF-8), as {@link #utf} reads it. */
    private static void writeName(DataOutputStream out, String name) throws IOException {
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > 0xffff) {
            throw new IllegalArgumentException("name of " + bytes.length + " bytes (expected: <= 65535)");
        }
        out.writeShort(bytes.length);
        out.write(bytes);
    }

    private interface Writer {
        void write(DataOutputStream out) throws IOException;
    }

    private static byte[] write(Writer writer) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(128);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            writer.write(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }
}
