package io.basalt.lock;

import io.basalt.lock.LockCommand.Acquire;
import io.basalt.lock.LockCommand.Break;
import io.basalt.lock.LockCommand.CloseSession;
import io.basalt.lock.LockCommand.ExpireSession;
import io.basalt.lock.LockCommand.Forget;
import io.basalt.lock.LockCommand.Handoff;
import io.basalt.lock.LockCommand.OpenSession;
import io.basalt.lock.LockCommand.Release;
import io.basalt.lock.LockCommand.RenewSession;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The binary encoding of lock commands (the cluster's meta log entries, the embedded store's lock
 * log) and of the records a host persists ({@link Session}, {@link VdiskLock}).
 *
 * <p>Every encoding starts with its format version byte ({@value #VERSION}); a command then has a
 * kind byte (1..9, in {@link LockCommand}'s order). Integers are big-endian 64-bit, strings a
 * 16-bit length and their UTF-8 bytes, a lock mode one byte (its ordinal), a holder list a 32-bit
 * count and the holders. A change to any of this (a new command kind or mode included) takes a new
 * version, which this build refuses by name rather than misread:
 * {@code "lock record version 7 (this build reads 1)"}.
 *
 * <p>Decoding refuses, with an {@link IllegalArgumentException} naming the bad value, an unknown
 * version, kind or mode, input cut short or with bytes left over, malformed UTF-8, and values the
 * records themselves refuse (a session id of 0, a fence above the last token). Encoding refuses
 * what could not be read back: a null field, a string longer than 65,535 bytes or not valid UTF-16.
 */
public final class LockCodec {
    /** The format this build writes and the only one it reads. */
    public static final int VERSION = 1;
    /** The longest string, in UTF-8 bytes, a 16-bit length can say. */
    public static final int STRING_BYTES_MAX = 0xFFFF;

    private static final String COMMAND = "lock command";
    private static final String SESSION = "session record";
    private static final String LOCK = "lock record";
    private static final int KIND_MAX = 9;
    /** A holding's smallest encoding: session id, mode, token. */
    private static final int HOLDING_BYTES = 8 + 1 + 8;

    private LockCodec() {}

    public static byte[] encode(LockCommand command) {
        Out out = new Out(COMMAND);
        switch (command) {
            case OpenSession c -> out.u8(1).str("host", c.host()).i64(c.leaseMs()).i64(c.nowMs());
            case RenewSession c -> out.u8(2).i64(c.sessionId()).i64(c.nowMs());
            case CloseSession c -> out.u8(3).i64(c.sessionId());
            case ExpireSession c -> out.u8(4).i64(c.sessionId()).i64(c.renewedAtIndex());
            case Acquire c -> out.u8(5).i64(c.sessionId()).str("vdisk", c.vdisk()).mode(c.mode());
            case Release c -> out.u8(6).i64(c.sessionId()).str("vdisk", c.vdisk());
            case Handoff c -> out.u8(7).str("vdisk", c.vdisk()).i64(c.fromSessionId()).i64(c.toSessionId());
            case Break c -> out.u8(8).str("vdisk", c.vdisk());
            case Forget c -> out.u8(9).str("vdisk", c.vdisk());
        }
        return out.toByteArray();
    }

    public static LockCommand decodeCommand(byte[] bytes) {
        In in = new In(bytes, COMMAND);
        int kind = in.u8("kind");
        if (kind < 1 || kind > KIND_MAX) {
            throw new IllegalArgumentException(COMMAND + " kind " + kind + " (this build knows 1.." + KIND_MAX + ")");
        }
        LockCommand c = switch (kind) {
            case 1 -> new OpenSession(in.str("host"), in.i64("leaseMs"), in.i64("nowMs"));
            case 2 -> new RenewSession(in.i64("sessionId"), in.i64("nowMs"));
            case 3 -> new CloseSession(in.i64("sessionId"));
            case 4 -> new ExpireSession(in.i64("sessionId"), in.i64("renewedAtIndex"));
            case 5 -> new Acquire(in.i64("sessionId"), in.str("vdisk"), in.mode());
            case 6 -> new Release(in.i64("sessionId"), in.str("vdisk"));
            case 7 -> new Handoff(in.str("vdisk"), in.i64("fromSessionId"), in.i64("toSessionId"));
            case 8 -> new Break(in.str("vdisk"));
            default -> new Forget(in.str("vdisk"));
        };
        in.end();
        return c;
    }

    public static byte[] encode(Session s) {
        return new Out(SESSION).i64(s.id()).str("host", s.host()).i64(s.leaseMs()).i64(s.openedAtMs())
                .i64(s.renewedAtMs()).i64(s.renewedAtIndex()).toByteArray();
    }

    public static Session decodeSession(byte[] bytes) {
        In in = new In(bytes, SESSION);
        Session s = new Session(in.i64("id"), in.str("host"), in.i64("leaseMs"), in.i64("openedAtMs"),
                in.i64("renewedAtMs"), in.i64("renewedAtIndex"));
        in.end();
        return s;
    }

    public static byte[] encode(VdiskLock lock) {
        Out out = new Out(LOCK).str("vdisk", lock.vdisk()).i64(lock.fence()).i64(lock.lastToken()).i32(lock.holders().size());
        for (Holding h : lock.holders()) {
            out.i64(h.sessionId()).mode(h.mode()).i64(h.token());
        }
        return out.toByteArray();
    }

    public static VdiskLock decodeLock(byte[] bytes) {
        In in = new In(bytes, LOCK);
        String vdisk = in.str("vdisk");
        long fence = in.i64("fence");
        long lastToken = in.i64("lastToken");
        int count = in.i32("holder count");
        if (count < 0 || count > in.remaining() / HOLDING_BYTES) {
            // Checked before allocating: a corrupt count must not ask for gigabytes.
            throw new IllegalArgumentException(LOCK + " holder count " + count + " (expected: 0.."
                    + in.remaining() / HOLDING_BYTES + ", what the " + in.remaining() + " bytes left can hold) vdisk=" + vdisk);
        }
        List<Holding> holders = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            holders.add(new Holding(in.i64("holder session id"), in.mode(), in.i64("holder token")));
        }
        in.end();
        return new VdiskLock(vdisk, holders, fence, lastToken);
    }

    /** Grows one array; the version byte goes first. */
    private static final class Out {
        private final String what;
        private byte[] buf = new byte[64];
        private int size;

        Out(String what) {
            this.what = what;
            u8(VERSION);
        }

        Out u8(int v) {
            ensure(1);
            buf[size++] = (byte) v;
            return this;
        }

        Out i32(int v) {
            ensure(4);
            for (int shift = 24; shift >= 0; shift -= 8) {
                buf[size++] = (byte) (v >>> shift);
            }
            return this;
        }

        Out i64(long v) {
            i32((int) (v >>> 32));
            return i32((int) v);
        }

        Out mode(LockMode mode) {
            if (mode == null) {
                throw new IllegalArgumentException(what + ": mode is null");
            }
            return u8(mode.ordinal());
        }

        Out str(String field, String s) {
            if (s == null) {
                throw new IllegalArgumentException(what + ": " + field + " is null");
            }
            ByteBuffer b;
            try {
                b = StandardCharsets.UTF_8.newEncoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .encode(CharBuffer.wrap(s));
            } catch (CharacterCodingException e) {
                // A lone surrogate would be written as '?' and read back as another name.
                throw new IllegalArgumentException(what + ": " + field + " '" + s + "' is not valid UTF-16 (" + e + ")", e);
            }
            int n = b.remaining();
            if (n > STRING_BYTES_MAX) {
                throw new IllegalArgumentException(what + ": " + field + " of " + n + " UTF-8 bytes (expected: <= " + STRING_BYTES_MAX + ")");
            }
            ensure(2 + n);
            buf[size++] = (byte) (n >>> 8);
            buf[size++] = (byte) n;
            b.get(buf, size, n);
            size += n;
            return this;
        }

        byte[] toByteArray() {
            return Arrays.copyOf(buf, size);
        }

        private void ensure(int more) {
            if (size + more > buf.length) {
                buf = Arrays.copyOf(buf, Math.max(buf.length * 2, size + more));
            }
        }

    }

    /** Reads one encoding; every read checks what remains first, so short input is refused by name. */
    private static final class In {
        private final ByteBuffer buf;
        private final String what;

        In(byte[] bytes, String what) {
            this.buf = ByteBuffer.wrap(bytes);
            this.what = what;
            int version = u8("version");
            if (version != VERSION) {
                throw new IllegalArgumentException(what + " version " + version + " (this build reads " + VERSION + ")");
            }
        }

        int u8(String field) {
            need(1, field);
            return buf.get() & 0xFF;
        }

        int i32(String field) {
            need(4, field);
            return buf.getInt();
        }

        long i64(String field) {
            need(8, field);
            return buf.getLong();
        }

        LockMode mode() {
            int ordinal = u8("mode");
            LockMode[] modes = LockMode.values();
            if (ordinal >= modes.length) {
                throw new IllegalArgumentException(what + " mode " + ordinal + " (this build knows 0.." + (modes.length - 1) + ": "
                        + Arrays.toString(modes) + ")");
            }
            return modes[ordinal];
        }

        String str(String field) {
            need(2, field + " length");
            int n = buf.getShort() & 0xFFFF;
            need(n, field);
            ByteBuffer slice = buf.slice(buf.position(), n);
            buf.position(buf.position() + n);
            try {
                return StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(slice).toString();
            } catch (CharacterCodingException e) {
                throw new IllegalArgumentException(what + ": " + field + " of " + n + " bytes is not valid UTF-8 (" + e + ")", e);
            }
        }

        int remaining() {
            return buf.remaining();
        }

        void end() {
            if (buf.hasRemaining()) {
                throw new IllegalArgumentException(what + ": " + buf.remaining() + " bytes after the end (expected: 0)");
            }
        }

        private void need(int n, String field) {
            if (buf.remaining() < n) {
                throw new IllegalArgumentException(what + " cut short: " + field + " at byte " + buf.position() + " needs "
                        + n + " bytes, " + buf.remaining() + " left");
            }
        }
    }
}
