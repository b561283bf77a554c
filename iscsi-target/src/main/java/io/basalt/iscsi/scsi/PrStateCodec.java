package io.basalt.iscsi.scsi;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The bytes of a LUN's persistent-reservation state, as a {@link PrStateStore} keeps them. Format
 * {@value #VERSION}: the version byte; PRgeneration (i32); the last event's sequence number (i64);
 * the reservation's type (u8, 0 for none) and holder (two strings, empty for none, or for an
 * all-registrants type the nexus that reserved); the registrations in the order they were made
 * (u16 count; initiator port, target port, key); the recent unit-attention events (u8 count; seq,
 * initiator port, target port, kind). Strings are u16 length + UTF-8. A state of another version is
 * refused by name: a gateway never guesses at reservations.
 */
final class PrStateCodec {
    static final int VERSION = 1;
    static final int REGISTRATIONS_MAX = 256;
    static final int EVENTS_MAX = 32;
    private static final int STRING_BYTES_MAX = 1024;

    /** A unit attention owed to a nexus, whichever gateway serves it. */
    record Event(long seq, Nexus nexus, int kind) {
        static final int REGISTRATIONS_PREEMPTED = 1;
        static final int RESERVATIONS_PREEMPTED = 2;
        static final int RESERVATIONS_RELEASED = 3;

        Sense sense() {
            return switch (kind) {
                case REGISTRATIONS_PREEMPTED -> Sense.REGISTRATIONS_PREEMPTED;
                case RESERVATIONS_PREEMPTED -> Sense.RESERVATIONS_PREEMPTED;
                case RESERVATIONS_RELEASED -> Sense.RESERVATIONS_RELEASED;
                default -> throw new IllegalStateException("pr event kind: " + kind + " (expected: 1..3)");
            };
        }
    }

    /** The decoded state. {@code holder} null when nothing is reserved. */
    record State(int generation, long eventSeq, int type, Nexus holder, Map<Nexus, Long> registrations, List<Event> events) {
        static final State EMPTY = new State(0, 0, 0, null, Map.of(), List.of());
    }

    private PrStateCodec() {}

    static ByteBuffer encode(State s) {
        if (s.registrations().size() > REGISTRATIONS_MAX || s.events().size() > EVENTS_MAX) {
            throw new IllegalStateException("pr state: " + s.registrations().size() + " registrations, " + s.events().size()
                    + " events (expected: <= " + REGISTRATIONS_MAX + ", <= " + EVENTS_MAX + ")");
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
        DataOutputStream out = new DataOutputStream(bytes);
        try {
            out.writeByte(VERSION);
            out.writeInt(s.generation());
            out.writeLong(s.eventSeq());
            out.writeByte(s.type());
            putNexus(out, s.holder());
            out.writeShort(s.registrations().size());
            for (Map.Entry<Nexus, Long> e : s.registrations().entrySet()) {
                putNexus(out, e.getKey());
                out.writeLong(e.getValue());
            }
            out.writeByte(s.events().size());
            for (Event e : s.events()) {
                out.writeLong(e.seq());
                putNexus(out, e.nexus());
                out.writeByte(e.kind());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("writing to memory", e);
        }
        return ByteBuffer.wrap(bytes.toByteArray());
    }

    /** The state in {@code bytes}; empty bytes are the state never written. A malformed state throws, naming the bad value. */
    static State decode(ByteBuffer bytes) {
        ByteBuffer b = bytes.duplicate();
        if (!b.hasRemaining()) {
            return State.EMPTY;
        }
        try {
            int version = b.get() & 0xff;
            if (version != VERSION) {
                throw new IllegalStateException("pr state version: " + version + " (expected: " + VERSION + ")");
            }
            int generation = b.getInt();
            long eventSeq = b.getLong();
            int type = b.get() & 0xff;
            Nexus holder = getNexus(b);
            int count = b.getShort() & 0xffff;
            if (count > REGISTRATIONS_MAX) {
                throw new IllegalStateException("pr state registrations: " + count + " (expected: <= " + REGISTRATIONS_MAX + ")");
            }
            Map<Nexus, Long> registrations = new LinkedHashMap<>();
            for (int i = 0; i < count; i++) {
                registrations.put(getNexus(b), b.getLong());
            }
            int events = b.get() & 0xff;
            List<Event> list = new ArrayList<>();
            for (int i = 0; i < events; i++) {
                list.add(new Event(b.getLong(), getNexus(b), b.get() & 0xff));
            }
            if (b.hasRemaining()) {
                throw new IllegalStateException("pr state: " + b.remaining() + " bytes after the end");
            }
            return new State(generation, eventSeq, type, holder, registrations, list);
        } catch (BufferUnderflowException e) {
            throw new IllegalStateException("pr state: truncated at byte " + b.position() + " of " + bytes.remaining(), e);
        }
    }

    private static void putNexus(DataOutputStream out, Nexus n) throws IOException {
        putString(out, n == null ? "" : n.initiatorPort());
        putString(out, n == null ? "" : n.targetPort());
    }

    private static Nexus getNexus(ByteBuffer b) {
        String initiator = getString(b);
        String target = getString(b);
        return initiator.isEmpty() ? null : new Nexus(initiator, target);
    }

    private static void putString(DataOutputStream out, String s) throws IOException {
        byte[] raw = s.getBytes(StandardCharsets.UTF_8);
        if (raw.length > STRING_BYTES_MAX) {
            throw new IllegalStateException("pr state string of " + raw.length + " bytes (expected: <= " + STRING_BYTES_MAX + "): " + s);
        }
        out.writeShort(raw.length);
        out.write(raw);
    }

    private static String getString(ByteBuffer b) {
        int n = b.getShort() & 0xffff;
        if (n > STRING_BYTES_MAX || n > b.remaining()) {
            throw new IllegalStateException("pr state string length: " + n + " (expected: <= " + Math.min(STRING_BYTES_MAX, b.remaining()) + ")");
        }
        byte[] raw = new byte[n];
        b.get(raw);
        return new String(raw, StandardCharsets.UTF_8);
    }
}
