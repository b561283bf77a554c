package io.basalt.iscsi.scsi;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * RESERVE(6)/RELEASE(6) and persistent reservations (SPC-5 §5.14) of one LU, per I_T nexus.
 * Registrations survive a nexus loss and resets; RESERVE(6) reservations do not. Guarded by
 * {@code this}; unit attentions go through the LU.
 *
 * <p>The persistent part (registrations, reservation, PRgeneration, and the unit attentions owed
 * to nexuses) lives in a {@link PrStateStore}, encoded by {@link PrStateCodec}: the fields here are
 * this LU's copy, as of {@link #version}. A command runs on the copy ({@link #execute}); when it
 * changed the state, the LU sets the new bytes in the store at the copy's version and, when
 * another writer (another gateway of the LUN) came first, {@link #discard discards} the copy, reads
 * the state again and runs the command again. Unit attentions are recorded in the state as events
 * and raised by each LU, once the state holding them is stored, for the nexuses of the target
 * ports it serves. RESERVE(6) stays local to this LU.
 */
final class Reservations {

    static final int WRITE_EXCLUSIVE = 1;
    static final int EXCLUSIVE_ACCESS = 3;
    static final int WRITE_EXCLUSIVE_REGISTRANTS_ONLY = 5;
    static final int EXCLUSIVE_ACCESS_REGISTRANTS_ONLY = 6;
    static final int WRITE_EXCLUSIVE_ALL_REGISTRANTS = 7;
    static final int EXCLUSIVE_ACCESS_ALL_REGISTRANTS = 8;
    private static final int PROUT_PARAMETER_BYTES = 24;
    private static final Sense INVALID_RELEASE = Sense.of(Sense.ILLEGAL_REQUEST, 0x26, 0x04);
    private static final Sense INSUFFICIENT_REGISTRATION_RESOURCES = Sense.of(Sense.ILLEGAL_REQUEST, 0x55, 0x04);

    private final LogicalUnit lu;
    private Nexus reserve6Holder;
    private final Map<Nexus, Long> registrations = new LinkedHashMap<>();
    private int generation;
    private Nexus holder;
    private int type;
    /** The sequence number of the last event recorded in the state. */
    private long eventSeq;
    private final Deque<PrStateCodec.Event> events = new ArrayDeque<>();
    /** The store version the fields are a copy of; -1 before the first read and after {@link #discard}. */
    private long version = -1;
    /** Events up to this sequence number were raised (or were before this LU first read the state); -1 before that. */
    private long eventsRaised = -1;
    /** When the state was last read or stored ({@link System#nanoTime}). */
    private long readAtNanos;
    /** The target ports of the nexuses attached to this LU: the events of their nexuses are this LU's to raise. */
    private final Set<String> ownTargetPorts = new TreeSet<>();

    Reservations(LogicalUnit lu) {
        this.lu = lu;
    }

    /** One run of a command on the copy: its answer, and the state to store at {@code baseVersion}, or null when nothing changed. */
    record Attempt(ScsiResult result, long baseVersion, ByteBuffer changed) {}

    synchronized void attached(Nexus n) {
        ownTargetPorts.add(n.targetPort());
    }

    /**
     * Takes {@code v} as the copy when it is newer than it, and raises the events it owes the
     * nexuses of this LU's target ports. A state that does not decode throws (a bug or another
     * version's gateway): the command fails rather than guess.
     */
    synchronized void adopt(PrStateStore.Versioned v, long nowNanos) {
        readAtNanos = nowNanos;
        if (v.version() <= version) {
            return;
        }
        PrStateCodec.State s = PrStateCodec.decode(v.state());
        registrations.clear();
        registrations.putAll(s.registrations());
        generation = s.generation();
        holder = s.holder();
        type = s.type();
        eventSeq = s.eventSeq();
        events.clear();
        events.addAll(s.events());
        version = v.version();
        if (eventsRaised >= 0) {
            for (PrStateCodec.Event e : events) {
                if (e.seq() > eventsRaised && ownTargetPorts.contains(e.nexus().targetPort())) {
                    lu.raiseUnitAttention(e.nexus(), e.sense());
                }
            }
        }
        eventsRaised = eventSeq;
    }

    /** The copy was changed by a command whose state was not stored: the next {@link #adopt} replaces it whatever its version. */
    synchronized void discard() {
        version = -1;
    }

    /** Whether the copy, as last read or stored, has any registration. */
    synchronized boolean anyRegistered() {
        return !registrations.isEmpty();
    }

    /** Whether the copy may be older than the shared state by more than {@code ageNanosMax}, or holds registrations (then always re-read). */
    synchronized boolean stale(long nowNanos, long ageNanosMax) {
        return version < 0 || !registrations.isEmpty() || nowNanos - readAtNanos > ageNanosMax;
    }

    private PrStateCodec.State state() {
        return new PrStateCodec.State(generation, eventSeq, type, holder, registrations, List.copyOf(events));
    }

    /** Records a unit attention owed to {@code n}, raised once the state holding it is stored. */
    private void event(Nexus n, Sense sense) {
        int kind = sense.equals(Sense.REGISTRATIONS_PREEMPTED) ? PrStateCodec.Event.REGISTRATIONS_PREEMPTED
                : sense.equals(Sense.RESERVATIONS_PREEMPTED) ? PrStateCodec.Event.RESERVATIONS_PREEMPTED
                : PrStateCodec.Event.RESERVATIONS_RELEASED;
        events.addLast(new PrStateCodec.Event(++eventSeq, n, kind));
        while (events.size() > PrStateCodec.EVENTS_MAX) {
            events.removeFirst();      // bounded: a gateway that misses this many changes misses their attentions
        }
    }

    synchronized void nexusLost(Nexus n) {
        if (n.equals(reserve6Holder)) {
            reserve6Holder = null;
        }
    }

    synchronized void reset() {
        reserve6Holder = null;
    }

    /** The hosts (initiator names) with a key registered, as of state {@code version}. */
    record Registrants(long version, Set<String> hosts) {}

    synchronized Registrants registrants() {
        Set<String> hosts = new TreeSet<>();
        registrations.keySet().forEach(n -> hosts.add(n.initiatorName()));
        return new Registrants(Math.max(0, version), Collections.unmodifiableSet(hosts));
    }

    // ---- access control ----

    synchronized boolean conflicts(ScsiRequest r) {
        Access a = access(r);
        if (a == Access.ANY) {
            return false;
        }
        if (reserve6Holder != null && !reserve6Holder.equals(r.nexus())) {
            return r.opcode() != Opcodes.RELEASE_6 && r.opcode() != Opcodes.PERSISTENT_RESERVE_IN
                    && r.opcode() != Opcodes.PERSISTENT_RESERVE_OUT;
        }
        if (holder == null || isHolder(r.nexus())) {
            return false;
        }
        boolean registered = registrations.containsKey(r.nexus());
        return switch (type) {
            case WRITE_EXCLUSIVE -> a == Access.WRITE;
            case EXCLUSIVE_ACCESS -> a != Access.PR;
            case WRITE_EXCLUSIVE_REGISTRANTS_ONLY, WRITE_EXCLUSIVE_ALL_REGISTRANTS -> !registered && a == Access.WRITE;
            case EXCLUSIVE_ACCESS_REGISTRANTS_ONLY, EXCLUSIVE_ACCESS_ALL_REGISTRANTS -> !registered && a != Access.PR;
            default -> false;
        };
    }

    private enum Access { ANY, PR, READ, WRITE }

    private static Access access(ScsiRequest r) {
        return switch (r.opcode()) {
            case Opcodes.INQUIRY, Opcodes.REPORT_LUNS, Opcodes.REQUEST_SENSE, Opcodes.MAINTENANCE_IN -> Access.ANY;
            case Opcodes.PERSISTENT_RESERVE_IN, Opcodes.PERSISTENT_RESERVE_OUT -> Access.PR;
            case Opcodes.READ_6, Opcodes.READ_10, Opcodes.READ_12, Opcodes.READ_16, Opcodes.VERIFY_10, Opcodes.VERIFY_12,
                 Opcodes.VERIFY_16, Opcodes.PRE_FETCH_10, Opcodes.PRE_FETCH_16 -> Access.READ;
            case Opcodes.TEST_UNIT_READY, Opcodes.READ_CAPACITY_10, Opcodes.SERVICE_ACTION_IN_16, Opcodes.MODE_SENSE_6,
                 Opcodes.MODE_SENSE_10, Opcodes.RECEIVE_COPY_RESULTS -> Access.PR;
            default -> Access.WRITE;
        };
    }

    private boolean isHolder(Nexus n) {
        if (type == WRITE_EXCLUSIVE_ALL_REGISTRANTS || type == EXCLUSIVE_ACCESS_ALL_REGISTRANTS) {
            return registrations.containsKey(n);
        }
        return n.equals(holder);
    }

    // ---- commands ----

    /** Runs {@code r} on the copy (see the class comment); call {@link #adopt} with the state read first. */
    synchronized Attempt execute(ScsiRequest r) {
        if (version < 0) {
            throw new IllegalStateException("pr command before the state was read (or after a discard) lun=" + lu.lun());
        }
        ByteBuffer before = PrStateCodec.encode(state());
        ScsiResult result = run(r);
        ByteBuffer after = PrStateCodec.encode(state());
        return new Attempt(result, version, after.equals(before) ? null : after);
    }

    private ScsiResult run(ScsiRequest r) {
        return switch (r.opcode()) {
            case Opcodes.RESERVE_6 -> reserve6(r.nexus());
            case Opcodes.RELEASE_6 -> release6(r.nexus());
            case Opcodes.PERSISTENT_RESERVE_IN -> persistentReserveIn(r);
            default -> persistentReserveOut(r);
        };
    }

    private ScsiResult reserve6(Nexus n) {
        if ((reserve6Holder != null && !reserve6Holder.equals(n)) || (holder != null && !isHolder(n))) {
            return ScsiResult.status(ScsiResult.RESERVATION_CONFLICT);
        }
        reserve6Holder = n;
        return ScsiResult.good();
    }

    private ScsiResult release6(Nexus n) {
        if (n.equals(reserve6Holder)) {
            reserve6Holder = null;
        }
        return ScsiResult.good();
    }

    private ScsiResult persistentReserveIn(ScsiRequest r) {
        int alloc = r.u16(7);
        ByteBuffer data = switch (r.u8(1) & 0x1f) {
            case 0 -> readKeys();
            case 1 -> readReservation();
            case 2 -> reportCapabilities();
            case 3 -> readFullStatus();
            default -> null;
        };
        return data == null ? ScsiResult.check(Sense.invalidCdbField(1)) : ScsiResult.good(InfoCommands.truncate(data, alloc));
    }

    private ByteBuffer readKeys() {
        ByteBuffer b = ByteBuffer.allocate(8 + 8 * registrations.size());
        b.putInt(0, generation).putInt(4, 8 * registrations.size());
        int at = 8;
        for (long key : registrations.values()) {
            b.putLong(at, key);
            at += 8;
        }
        return b;
    }

    private ByteBuffer readReservation() {
        ByteBuffer b = ByteBuffer.allocate(holder == null ? 8 : 24);
        b.putInt(0, generation);
        if (holder != null) {
            b.putInt(4, 16);
            b.putLong(8, allRegistrants() ? 0 : registrations.getOrDefault(holder, 0L));
            b.put(21, (byte) type);
        }
        return b;
    }

    private static ByteBuffer reportCapabilities() {
        ByteBuffer b = ByteBuffer.allocate(8);
        b.putShort(0, (short) 8);
        b.put(3, (byte) 0x80);                          // TMV: the type mask is valid
        b.put(4, (byte) (0x80 | 0x40 | 0x20 | 0x08 | 0x02));
        b.put(5, (byte) 0x01);
        return b;
    }

    private ByteBuffer readFullStatus() {
        List<byte[]> descriptors = new ArrayList<>();
        for (Map.Entry<Nexus, Long> e : registrations.entrySet()) {
            descriptors.add(fullStatusDescriptor(e.getKey(), e.getValue()));
        }
        int length = descriptors.stream().mapToInt(d -> d.length).sum();
        ByteBuffer b = ByteBuffer.allocate(8 + length);
        b.putInt(0, generation).putInt(4, length);
        int at = 8;
        for (byte[] d : descriptors) {
            b.put(at, d);
            at += d.length;
        }
        return b;
    }

    private byte[] fullStatusDescriptor(Nexus n, long key) {
        byte[] name = n.initiatorPort().getBytes(StandardCharsets.UTF_8);
        int idBytes = (4 + name.length + 1 + 3) & ~3;
        ByteBuffer d = ByteBuffer.allocate(24 + idBytes);
        d.putLong(0, key);
        boolean holds = holder != null && isHolder(n);
        d.put(12, (byte) (holds ? 0x01 : 0));
        d.put(13, (byte) (holds ? type : 0));
        d.putShort(18, (short) 1);
        d.putInt(20, idBytes);
        d.put(24, (byte) 0x45);                        // iSCSI TransportID with ISID
        d.putShort(26, (short) (idBytes - 4));
        d.put(28, name);
        return d.array();
    }

    private ScsiResult persistentReserveOut(ScsiRequest r) {
        int sa = r.u8(1) & 0x1f;
        long paramLength = r.u32(5);
        if (paramLength != PROUT_PARAMETER_BYTES || r.dataOut().remaining() < PROUT_PARAMETER_BYTES) {
            return ScsiResult.check(Sense.PARAMETER_LIST_LENGTH_ERROR);
        }
        ByteBuffer p = r.dataOut();
        long key = p.getLong(p.position());
        long saKey = p.getLong(p.position() + 8);
        if ((p.get(p.position() + 20) & 0x0d) != 0) {
            return ScsiResult.check(Sense.invalidParameterField(20));     // SPEC_I_PT, ALL_TG_PT, APTPL unsupported
        }
        int requestedType = r.u8(2) & 0x0f;
        return switch (sa) {
            case 0 -> register(r.nexus(), key, saKey, false);
            case 6 -> register(r.nexus(), key, saKey, true);
            case 1 -> reserve(r.nexus(), key, requestedType, r.u8(2) >> 4);
            case 2 -> release(r.nexus(), key, requestedType);
            case 3 -> clear(r.nexus(), key);
            case 4, 5 -> preempt(r.nexus(), key, saKey, requestedType);
            default -> ScsiResult.check(Sense.invalidCdbField(1));
        };
    }

    private boolean keyMatches(Nexus n, long key) {
        Long registered = registrations.get(n);
        return registered != null && registered == key;
    }

    private ScsiResult conflict() {
        return ScsiResult.status(ScsiResult.RESERVATION_CONFLICT);
    }

    private ScsiResult register(Nexus n, long key, long saKey, boolean ignoreExisting) {
        Long registered = registrations.get(n);
        if (!ignoreExisting && (registered == null ? key != 0 : registered != key)) {
            return conflict();
        }
        if (saKey == 0) {
            if (registered != null) {
                unregister(n);
            }
        } else {
            if (registered == null && registrations.size() >= PrStateCodec.REGISTRATIONS_MAX) {
                return ScsiResult.check(INSUFFICIENT_REGISTRATION_RESOURCES);
            }
            registrations.put(n, saKey);
        }
        generation++;
        return ScsiResult.good();
    }

    private void unregister(Nexus n) {
        registrations.remove(n);
        boolean lastOfAll = allRegistrants() && registrations.isEmpty();
        if (n.equals(holder) && !allRegistrants() || lastOfAll) {
            releaseReservation(n);
        }
    }

    private ScsiResult reserve(Nexus n, long key, int requestedType, int scope) {
        if (!keyMatches(n, key)) {
            return conflict();
        }
        if (scope != 0 || !validType(requestedType)) {
            return ScsiResult.check(Sense.invalidCdbField(2));
        }
        if (holder != null) {
            return isHolder(n) && type == requestedType ? ScsiResult.good() : conflict();
        }
        holder = n;
        type = requestedType;
        return ScsiResult.good();
    }

    private static boolean validType(int t) {
        return t == WRITE_EXCLUSIVE || t == EXCLUSIVE_ACCESS || (t >= WRITE_EXCLUSIVE_REGISTRANTS_ONLY && t <= EXCLUSIVE_ACCESS_ALL_REGISTRANTS);
    }

    private ScsiResult release(Nexus n, long key, int requestedType) {
        if (!keyMatches(n, key)) {
            return conflict();
        }
        if (holder == null || !isHolder(n)) {
            return ScsiResult.good();
        }
        if (requestedType != type) {
            return ScsiResult.check(INVALID_RELEASE);
        }
        releaseReservation(n);
        return ScsiResult.good();
    }

    /** Drops the reservation; registrants of a shared type learn of it by unit attention. */
    private void releaseReservation(Nexus by) {
        boolean tell = type != WRITE_EXCLUSIVE && type != EXCLUSIVE_ACCESS;
        holder = null;
        type = 0;
        if (tell) {
            for (Nexus other : registrations.keySet()) {
                if (!other.equals(by)) {
                    event(other, Sense.RESERVATIONS_RELEASED);
                }
            }
        }
    }

    private ScsiResult clear(Nexus n, long key) {
        if (!keyMatches(n, key)) {
            return conflict();
        }
        for (Nexus other : registrations.keySet()) {
            if (!other.equals(n)) {
                event(other, Sense.RESERVATIONS_PREEMPTED);
            }
        }
        registrations.clear();
        holder = null;
        type = 0;
        generation++;
        return ScsiResult.good();
    }

    private ScsiResult preempt(Nexus n, long key, long saKey, int requestedType) {
        if (!keyMatches(n, key)) {
            return conflict();
        }
        if (holder != null && allRegistrants() && saKey == 0) {
            removeRegistrants(n, k -> true);
            return take(n, requestedType);
        }
        if (saKey == 0) {
            return ScsiResult.check(Sense.invalidParameterField(8));
        }
        boolean preemptsHolder = holder != null && !allRegistrants() && registrations.getOrDefault(holder, 0L) == saKey;
        int removed = removeRegistrants(n, k -> k == saKey);
        if (preemptsHolder) {
            return take(n, requestedType);
        }
        return removed == 0 ? conflict() : ScsiResult.good();
    }

    private ScsiResult take(Nexus n, int requestedType) {
        if (!validType(requestedType)) {
            return ScsiResult.check(Sense.invalidCdbField(2));
        }
        holder = n;
        type = requestedType;
        generation++;
        return ScsiResult.good();
    }

    private int removeRegistrants(Nexus keep, java.util.function.LongPredicate match) {
        List<Nexus> gone = new ArrayList<>();
        for (Map.Entry<Nexus, Long> e : registrations.entrySet()) {
            if (!e.getKey().equals(keep) && match.test(e.getValue())) {
                gone.add(e.getKey());
            }
        }
        for (Nexus g : gone) {
            registrations.remove(g);
            event(g, Sense.REGISTRATIONS_PREEMPTED);
        }
        generation++;
        return gone.size();
    }

    private boolean allRegistrants() {
        return type == WRITE_EXCLUSIVE_ALL_REGISTRANTS || type == EXCLUSIVE_ACCESS_ALL_REGISTRANTS;
    }
}
