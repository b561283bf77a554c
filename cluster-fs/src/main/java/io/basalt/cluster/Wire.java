package io.basalt.cluster;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The hand-written binary encoding of every log entry, query and reply in the cluster
 * (docs/decisions/cluster-on-ratis.md, "Encoding"): big-endian fixed-width integers, strings as a u16 length and
 * UTF-8 bytes, byte blocks as an i32 length and the bytes. Every log entry, query and reply
 * starts with its format version, so a decoder that meets a version it does not know refuses it,
 * naming both versions, instead of misreading it; a tag byte then says which kind of message it is.
 *
 * <p>Two version schemes, because of history. Log entries (PG ops, meta commands) and PG queries
 * always began with a version byte (1, or 2 for a PG entry with a client tag). Meta queries,
 * meta replies and PG replies began without one, with a tag (below 16) or with the high byte
 * of a non-negative count (0); they now begin with {@link #VERSION_MARKER} plus their version,
 * a byte of 0x81 or more that none of those encodings can start with, so an encoding written
 * before versions (version 0, "unversioned") still reads: a PG reply a node kept for a client
 * session, an answer from a node not yet upgraded.
 *
 * <p>{@link Out} grows one array; {@link In} reads a {@link ByteBuffer} without copying until a
 * caller asks for bytes. Every length is checked against what remains before it is trusted.
 */
public final class Wire {
    private Wire() {}

    /** Thrown for an entry that cannot be decoded: the message names the bad value. */
    public static final class DecodeException extends RuntimeException {
        public DecodeException(String message) {
            super(message);
        }
    }

    /**
     * Added to the version in the first byte of an encoding that began without a version (see
     * the class comment): 0x81 is version 1. {@link In#version()} reads it.
     */
    public static final int VERSION_MARKER = 0x80;

    /**
     * The refusal of an encoding in a format version this code does not read, naming both:
     * {@code "pg reply: format version 3 (this node reads: 0..1)"}.
     */
    public static DecodeException unknownVersion(String what, int version, String versionsRead) {
        return new DecodeException(what + ": format version " + version + " (this node reads: " + versionsRead + ")");
    }

    public static final class Out {
        private byte[] buf;
        private int size;

        public Out(int capacityBytes) {
            buf = new byte[Math.max(16, capacityBytes)];
        }

        private void ensure(int more) {
            if (size + more > buf.length) {
                buf = Arrays.copyOf(buf, Math.max(buf.length * 2, size + more));
            }
        }

        public Out u8(int v) {
            ensure(1);
            buf[size++] = (byte) v;
            return this;
        }

        /** The first byte of a marked encoding: {@link #VERSION_MARKER} plus {@code version}. */
        public Out version(int version) {
            if (version < 1 || version > 0xFF - VERSION_MARKER) {
                throw new IllegalArgumentException("format version: " + version + " (expected: 1.." + (0xFF - VERSION_MARKER) + ")");
            }
            return u8(VERSION_MARKER + version);
        }

        public Out bool(boolean v) {
            return u8(v ? 1 : 0);
        }

        public Out i32(int v) {
            ensure(4);
            buf[size++] = (byte) (v >>> 24);
            buf[size++] = (byte) (v >>> 16);
            buf[size++] = (byte) (v >>> 8);
            buf[size++] = (byte) v;
            return this;
        }

        public Out i64(long v) {
            i32((int) (v >>> 32));
            return i32((int) v);
        }

        public Out str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            if (b.length > 0xFFFF) {
                throw new IllegalArgumentException("string length: " + b.length + " bytes (expected: <= 65535)");
            }
            ensure(2 + b.length);
            buf[size++] = (byte) (b.length >>> 8);
            buf[size++] = (byte) b.length;
            System.arraycopy(b, 0, buf, size, b.length);
            size += b.length;
            return this;
        }

        /** Writes the remaining bytes of {@code data} (its position is not moved). */
        public Out bytes(ByteBuffer data) {
            ByteBuffer view = data.duplicate();
            int n = view.remaining();
            i32(n);
            ensure(n);
            view.get(buf, size, n);
            size += n;
            return this;
        }

        public int sizeBytes() {
            return size;
        }

        /** The encoded bytes; the array may be longer than {@link #sizeBytes()}. */
        public byte[] array() {
            return buf;
        }

        public byte[] toByteArray() {
            return Arrays.copyOf(buf, size);
        }
    }

    public static final class In {
        private final ByteBuffer buf;

        public In(ByteBuffer buf) {
            this.buf = buf.duplicate();
        }

        public int u8() {
            need(1, "u8");
            return buf.get() & 0xFF;
        }

        /**
         * The version of a marked encoding (see {@link Out#version}), its marker byte consumed;
         * 0, with nothing consumed, for an encoding written before versions.
         */
        public int version() {
            need(1, "format version");
            int first = buf.get(buf.position()) & 0xFF;
            if (first < VERSION_MARKER) {
                return 0;
            }
            buf.get();
            if (first == VERSION_MARKER) {
                throw new DecodeException("format version marker: " + first + " (expected: " + (VERSION_MARKER + 1) + "..255)");
            }
            return first - VERSION_MARKER;
        }

        public boolean bool() {
            int v = u8();
            if (v > 1) {
                throw new DecodeException("boolean: " + v + " (expected: 0 or 1)");
            }
            return v == 1;
        }

        public int i32() {
            need(4, "i32");
            return buf.getInt();
        }

        public long i64() {
            need(8, "i64");
            return buf.getLong();
        }

        public String str() {
            need(2, "string length");
            int n = buf.getShort() & 0xFFFF;
            need(n, "string");
            byte[] b = new byte[n];
            buf.get(b);
            return new String(b, StandardCharsets.UTF_8);
        }

        /** A read-only view of the next byte block: no copy. */
        public ByteBuffer bytes() {
            int n = i32();
            if (n < 0) {
                throw new DecodeException("byte block length: " + n + " (expected: >= 0)");
            }
            need(n, "byte block");
            ByteBuffer slice = buf.slice(buf.position(), n).asReadOnlyBuffer();
            buf.position(buf.position() + n);
            return slice;
        }

        public int remaining() {
            return buf.remaining();
        }

        public void end(String what) {
            if (buf.hasRemaining()) {
                throw new DecodeException(what + ": " + buf.remaining() + " trailing bytes (expected: 0)");
            }
        }

        private void need(int n, String what) {
            if (buf.remaining() < n) {
                throw new DecodeException(what + ": needs " + n + " bytes, " + buf.remaining() + " left");
            }
        }
    }

    /** Checks a message tag against the kinds a decoder knows. */
    public static void checkTag(int tag, int expectedMax, String what) {
        if (tag < 1 || tag > expectedMax) {
            throw new DecodeException(what + " tag: " + tag + " (expected: 1.." + expectedMax + ")");
        }
    }

}
