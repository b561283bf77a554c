package io.basalt.cluster;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The hand-written binary encoding of every log entry, query and reply in the cluster
 * (docs/cluster-fs.md, "Encoding"): big-endian fixed-width integers, strings as a u16 length and
 * UTF-8 bytes, byte blocks as an i32 length and the bytes. A tag byte starts each message and
 * a version byte the entry, so a decoder can name what it did not understand.
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
