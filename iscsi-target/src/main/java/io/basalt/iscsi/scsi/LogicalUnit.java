package io.basalt.iscsi.scsi;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.FencedException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.function.Function;

/**
 * One LUN: a {@link LunSource} plus the SCSI state kept around it (mode page settings, unit
 * attentions per I_T nexus, reservations). Shared by every session of its target, so its state
 * is guarded by {@code this}; I/O itself runs on the device's futures, never under the lock.
 * Medium-access commands go through the device the requesting session opened from the source
 * (kept per attached nexus, closed once the nexus is detached and its last command is done);
 * everything else — identity, capacity, reservations, unit attentions — is the LUN's own.
 *
 * <p>{@link #execute} is the one place commands are dispatched.
 */
public final class LogicalUnit {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(LogicalUnit.class);

    /** Largest single transfer we accept and advertise in the Block Limits VPD page. */
    public static final int TRANSFER_BYTES_MAX = 32 << 20;
    /** The transfer size we advertise as optimal. */
    public static final int OPTIMAL_TRANSFER_BYTES = 1 << 20;
    static final int COMPARE_AND_WRITE_BLOCKS_MAX = 64;
    static final int UNMAP_DESCRIPTORS_MAX = 256;
    static final long UNMAP_BLOCKS_MAX = 1L << 20;
    /**
     * A write refused by the store's fence (its session's lock was taken over): DATA PROTECT /
     * WRITE PROTECTED, which Linux fails at once without trying another path and QEMU's iSCSI
     * client reports as EACCES without re-issuing; docs/decisions/fenced-writes-over-iscsi.md.
     */
    static final Sense FENCED = Sense.WRITE_PROTECTED;
    /**
     * A LUN whose PR state other gateways change too re-reads it before a command a reservation may
     * refuse: always while anything is registered, else when the copy is older than this (a plain
     * disk, where nobody registers, is not slowed by a read per command).
     */
    static final long PR_STATE_UNREGISTERED_AGE_NANOS_MAX = 1_000_000_000L;
    /** Tries of a PR command whose stored state another gateway changed in between; then BUSY (re-issued). */
    static final int PR_STORE_ATTEMPTS_MAX = 8;
    /** How deep in a failure's causes a FencedException is looked for (wrappers: futures, device exceptions). */
    private static final int CAUSE_DEPTH_MAX = 8;

    private final int lun;
    private final LunSource source;
    /** The LUN's identity and geometry: {@code source.device()}. */
    private final BlockDevice device;
    private final String serial;
    private final long naaId;
    private final TargetInfo target;
    /** Medium-access commands on {@link #device}, for a {@link LunSource.Shared} source; null otherwise. */
    private final BlockCommands sharedBlock;
    private final InfoCommands info;
    private final Reservations reservations;
    /** Where {@link #reservations}'s persistent state lives ({@link LunSource#prStateStore()}). */
    private final PrStateStore prStore;
    private final Map<Nexus, Deque<Sense>> unitAttentions = new HashMap<>();
    private final Map<Nexus, Long> capacitySeen = new HashMap<>();
    private final Set<Nexus> nexuses = new HashSet<>();
    /** The session devices of the attached nexuses (a per-session source only). */
    private final Map<Nexus, SessionDevice> sessionDevices = new HashMap<>();
    /** What {@link #tellRegistrants} last told the source. */
    private Reservations.Registrants registrantsTold = new Reservations.Registrants(0, java.util.Set.of());
    private boolean writeCacheEnabled = true;
    private boolean descriptorSense;
    private boolean softwareWriteProtect;

    /**
     * @param target the target this LU belongs to: name and its other LUs (REPORT LUNS, EXTENDED COPY)
     * @param naaId the low 60 bits of the NAA registered identifier, unique per device
     */
    public LogicalUnit(int lun, BlockDevice device, TargetInfo target, long naaId) {
        this(lun, LunSource.shared(device), target, naaId);
    }

    /**
     * @param source the LUN's identity ({@link LunSource#device()}) and its sessions' devices
     * @param target the target this LU belongs to: name and its other LUs (REPORT LUNS, EXTENDED COPY)
     * @param naaId the low 60 bits of the NAA registered identifier, unique per device
     */
    public LogicalUnit(int lun, LunSource source, TargetInfo target, long naaId) {
        BlockDevice device = source.device();
        if (device.logicalBlockSizeBytes() != 512 && device.logicalBlockSizeBytes() != 4096) {
            throw new IllegalArgumentException("logicalBlockSizeBytes: " + device.logicalBlockSizeBytes() + " (expected: 512 or 4096) device=" + device.name());
        }
        this.lun = lun;
        this.source = source;
        this.device = device;
        this.target = target;
        this.naaId = naaId & 0x0fffffffffffffffL;
        this.serial = String.format("%016x", this.naaId);
        this.sharedBlock = source instanceof LunSource.Shared ? new BlockCommands(this, device) : null;
        this.info = new InfoCommands(this);
        this.reservations = new Reservations(this);
        this.prStore = source.prStateStore();
    }

    public int lun() {
        return lun;
    }

    /** The LUN's identity and geometry ({@link LunSource#device()}); sessions' I/O may use other devices. */
    public BlockDevice device() {
        return device;
    }

    TargetInfo target() {
        return target;
    }

    String serial() {
        return serial;
    }

    long naaId() {
        return naaId;
    }

    Reservations reservations() {
        return reservations;
    }

    int blockSize() {
        return device.logicalBlockSizeBytes();
    }

    /** Executes one command; never completes exceptionally (failures become sense data). */
    public CompletableFuture<ScsiResult> execute(ScsiRequest r) {
        int op = r.opcode();
        boolean prCommand = op == Opcodes.PERSISTENT_RESERVE_IN || op == Opcodes.PERSISTENT_RESERVE_OUT;
        boolean reservationBlind = op == Opcodes.INQUIRY || op == Opcodes.REPORT_LUNS || op == Opcodes.REQUEST_SENSE;
        if (!prStore.shared() || prCommand || reservationBlind || !reservations.stale(System.nanoTime(), PR_STATE_UNREGISTERED_AGE_NANOS_MAX)) {
            return executeNow(r);
        }
        return readPrState().handle((x, e) -> e).thenCompose(e -> {
            if (e == null || !reservations.anyRegistered()) {
                // Unreadable (a meta outage) while nothing was registered: run on the copy, as the data path
                // rides the outage out; the vdisk's lock keeps other hosts' writes out meanwhile.
                return executeNow(r);
            }
            log.info("lun {}: persistent reservations in use and their shared state not readable now: BUSY ({})", lun, e.toString());
            return CompletableFuture.completedFuture(ScsiResult.status(ScsiResult.BUSY));
        });
    }

    /** Reads the shared PR state into the copy; the source hears of changed registrants. */
    private CompletableFuture<Void> readPrState() {
        return prStore.read().thenAccept(v -> {
            reservations.adopt(v, System.nanoTime());
            tellRegistrants();
        });
    }

    private CompletableFuture<ScsiResult> executeNow(ScsiRequest r) {
        ScsiResult early = admit(r);
        if (early != null) {
            return CompletableFuture.completedFuture(early);
        }
        CompletableFuture<ScsiResult> f;
        try {
            f = dispatch(r);
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        return f.exceptionally(LogicalUnit::failure);
    }

    /** Unit attentions and reservation conflicts, decided before a command runs. */
    private ScsiResult admit(ScsiRequest r) {
        int op = r.opcode();
        boolean reportsUa = op != Opcodes.INQUIRY && op != Opcodes.REPORT_LUNS && op != Opcodes.REQUEST_SENSE;
        synchronized (this) {
            noteCapacity(r.nexus());
            if (reportsUa) {
                Sense ua = pollUnitAttention(r.nexus());
                if (ua != null) {
                    return ScsiResult.check(ua);
                }
            }
        }
        return reservations.conflicts(r) ? ScsiResult.status(ScsiResult.RESERVATION_CONFLICT) : null;
    }

    private CompletableFuture<ScsiResult> dispatch(ScsiRequest r) {
        return switch (r.opcode()) {
            case Opcodes.TEST_UNIT_READY -> done(ScsiResult.good());
            case Opcodes.REQUEST_SENSE -> done(requestSense(r));
            case Opcodes.INQUIRY -> done(info.inquiry(r));
            case Opcodes.REPORT_LUNS -> done(info.reportLuns(r));
            case Opcodes.READ_CAPACITY_10 -> done(info.readCapacity10(r));
            case Opcodes.MODE_SENSE_6, Opcodes.MODE_SENSE_10 -> done(info.modeSense(r));
            case Opcodes.MODE_SELECT_6, Opcodes.MODE_SELECT_10 -> done(info.modeSelect(r));
            case Opcodes.MAINTENANCE_IN -> done(info.maintenanceIn(r));
            case Opcodes.START_STOP_UNIT -> done(startStop(r));
            case Opcodes.RESERVE_6, Opcodes.RELEASE_6, Opcodes.PERSISTENT_RESERVE_IN, Opcodes.PERSISTENT_RESERVE_OUT ->
                    reservation(r, 1);
            case Opcodes.SERVICE_ACTION_IN_16 -> serviceActionIn(r);
            case Opcodes.READ_DEFECT_DATA_10, Opcodes.READ_DEFECT_DATA_12 -> done(readDefectData(r));
            case Opcodes.EXTENDED_COPY, Opcodes.RECEIVE_COPY_RESULTS -> target.copyManager().execute(this, r);
            default -> onSessionBlock(r, b -> b.execute(r));
        };
    }

    private CompletableFuture<ScsiResult> serviceActionIn(ScsiRequest r) {
        return switch (r.u8(1) & 0x1f) {
            case Opcodes.SA_READ_CAPACITY_16 -> done(info.readCapacity16(r));
            case Opcodes.SA_GET_LBA_STATUS -> onSessionBlock(r, b -> b.getLbaStatus(r));
            default -> done(ScsiResult.check(Sense.invalidCdbField(1)));
        };
    }

    /**
     * Runs a reservation command on the current PR state; a changed state is stored at the version
     * it was read at, and the command runs again on a fresh read when another gateway stored first.
     * The source hears of changed registrants before the answer (a registrant's lock mode).
     */
    private CompletableFuture<ScsiResult> reservation(ScsiRequest r, int attempt) {
        return prStore.read().thenCompose(v -> {
            reservations.adopt(v, System.nanoTime());
            Reservations.Attempt a = reservations.execute(r);
            if (a.changed() == null) {
                return tellRegistrants().thenApply(x -> a.result());
            }
            return prStore.compareAndSet(a.baseVersion(), a.changed()).thenCompose(stored -> {
                if (stored) {
                    reservations.adopt(new PrStateStore.Versioned(a.baseVersion() + 1, a.changed()), System.nanoTime());
                    return tellRegistrants().thenApply(x -> a.result());
                }
                reservations.discard();
                if (attempt >= PR_STORE_ATTEMPTS_MAX) {
                    return CompletableFuture.failedFuture(new BlockDeviceException(BlockDeviceException.Kind.TRANSIENT,
                            "lun " + lun + ": persistent reservation state changed by others " + attempt + " times in a row"));
                }
                return reservation(r, attempt + 1);
            });
        });
    }

    /** Tells the source the hosts registered now, when they differ from what it was told last. */
    CompletableFuture<Void> tellRegistrants() {
        Reservations.Registrants now = reservations.registrants();
        synchronized (this) {
            if (now.hosts().equals(registrantsTold.hosts()) || now.version() <= registrantsTold.version()) {
                return done(null);
            }
            registrantsTold = now;
        }
        CompletableFuture<Void> told;
        try {
            told = source.registrantsChanged(now.version(), now.hosts());
        } catch (RuntimeException e) {
            told = CompletableFuture.failedFuture(e);
        }
        return told.exceptionally(e -> {
            // The registration stands either way; the source's lock change failing is its to report.
            log.warn("lun {}: telling the source registrants {} failed", lun, now.hosts(), e);
            return null;
        });
    }

    /** A virtual disk has no defects: an empty list in whatever format was asked for. */
    private static ScsiResult readDefectData(ScsiRequest r) {
        boolean ten = r.opcode() == Opcodes.READ_DEFECT_DATA_10;
        int format = (ten ? r.u8(2) : r.u8(1)) & 0x1f;
        long alloc = ten ? r.u16(7) : r.u32(6);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(ten ? 4 : 8);
        b.put(1, (byte) format);
        return ScsiResult.good(InfoCommands.truncate(b, (int) Math.min(alloc, Integer.MAX_VALUE)));
    }

    private ScsiResult startStop(ScsiRequest r) {
        // Not removable: LOEJ has no medium to eject; START/STOP leaves the LU ready.
        return ScsiResult.good();
    }

    private ScsiResult requestSense(ScsiRequest r) {
        if ((r.u8(1) & 0xfe) != 0) {
            return ScsiResult.check(Sense.invalidCdbField(1));
        }
        Sense ua;
        synchronized (this) {
            ua = pollUnitAttention(r.nexus());
        }
        var sense = (ua == null ? Sense.NONE : ua).encode((r.u8(1) & 1) != 0);
        return ScsiResult.good(InfoCommands.truncate(sense, r.u8(4)));
    }

    static <T> CompletableFuture<T> done(T value) {
        return CompletableFuture.completedFuture(value);
    }

    // ---- the sessions' devices ----

    /** What one attached nexus reads and writes through. Guarded by the LU. */
    private static final class SessionDevice {
        final Initiator who;
        /** Null until a command needs it, and again after a failed open. */
        CompletableFuture<BlockDevice> device;
        int inflightCount;
        boolean ended;

        SessionDevice(Initiator who) {
            this.who = who;
        }
    }

    private CompletableFuture<ScsiResult> onSessionBlock(ScsiRequest r, Function<BlockCommands, CompletableFuture<ScsiResult>> command) {
        if (sharedBlock != null) {
            return command.apply(sharedBlock);
        }
        return onSessionDevice(r.nexus(), d -> command.apply(new BlockCommands(this, d)));
    }

    /**
     * Runs {@code body} on the device {@code nexus}'s session uses for this LU, opening it first
     * if this is the session's first need of it; the device stays open at least until the
     * future {@code body} returns has completed.
     */
    <T> CompletableFuture<T> onSessionDevice(Nexus nexus, Function<BlockDevice, CompletableFuture<T>> body) {
        if (source instanceof LunSource.Shared shared) {
            return body.apply(shared.device());
        }
        SessionDevice session;
        CompletableFuture<BlockDevice> opening = null;
        CompletableFuture<BlockDevice> device;
        synchronized (this) {
            session = sessionDevices.get(nexus);
            if (session == null) {
                throw new IllegalStateException("nexus " + nexus + " (expected: attached to lun " + lun + " of " + target.name() + ")");
            }
            if (session.device == null) {
                session.device = opening = new CompletableFuture<>();
            }
            device = session.device;
            session.inflightCount++;
        }
        if (opening != null) {
            open(session, opening);
        }
        return device.thenCompose(body).whenComplete((v, e) -> release(session));
    }

    /** Opens the session's device into {@code opening}; a failed open is forgotten so the next command tries again. */
    private void open(SessionDevice session, CompletableFuture<BlockDevice> opening) {
        CompletableFuture<BlockDevice> opened;
        try {
            opened = source.open(session.who);
        } catch (RuntimeException e) {
            opened = CompletableFuture.failedFuture(e);
        }
        opened.whenComplete((d, e) -> {
            Throwable bad = e != null ? e : mismatch(d);
            if (bad == null) {
                opening.complete(d);
                return;
            }
            if (e == null && d != null) {
                closeQuietly(session.who, d);
            }
            synchronized (this) {
                if (session.device == opening) {
                    session.device = null;
                }
            }
            opening.completeExceptionally(bad);
        });
    }

    /** Null when {@code d} can serve this LUN's commands: they are checked against the LUN's geometry. */
    private IllegalStateException mismatch(BlockDevice d) {
        if (d == null) {
            return new IllegalStateException("opened device: null (expected: a device) lun=" + lun + " source=" + device.name());
        }
        if (d.logicalBlockSizeBytes() != device.logicalBlockSizeBytes()) {
            return new IllegalStateException("opened device " + d.name() + ": logicalBlockSizeBytes " + d.logicalBlockSizeBytes()
                    + " (expected: " + device.logicalBlockSizeBytes() + ", the LUN's) lun=" + lun);
        }
        return null;
    }

    private void release(SessionDevice session) {
        BlockDevice toClose;
        synchronized (this) {
            session.inflightCount--;
            toClose = session.ended && session.inflightCount == 0 ? takeOpened(session) : null;
        }
        if (toClose != null) {
            closeQuietly(session.who, toClose);
        }
    }

    /** The session's opened device, handed out once for closing; null when it has none. Caller holds the lock. */
    private static BlockDevice takeOpened(SessionDevice session) {
        CompletableFuture<BlockDevice> f = session.device;
        session.device = null;
        return f != null && f.isDone() && !f.isCompletedExceptionally() ? f.join() : null;
    }

    private void closeQuietly(Initiator who, BlockDevice d) {
        try {
            source.closed(who, d);
        } catch (RuntimeException e) {
            // The session is gone either way; the source's own failure is its to report.
            log.error("closing device {} of session {} failed", d.name(), who, e);
        }
    }

    /**
     * Maps a device failure to sense data; a bug (any other exception) becomes HARDWARE ERROR too.
     * A transient failure (a cluster LUN without a quorum or a leader for now) is status BUSY, no
     * sense: the one answer both Linux (requeued until the command's time is up) and QEMU's iSCSI
     * client (re-issued up to 7 times with growing delays) retry; docs/decisions/busy-for-transient-failures.md.
     */
    static ScsiResult failure(Throwable t) {
        FencedException fenced = fencedCause(t);
        if (fenced != null) {
            log.warn("write refused, the session's lock was taken over: {}", fenced.getMessage());
            return ScsiResult.check(FENCED);
        }
        Throwable cause = t;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException) && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof BlockDeviceException e) {
            return switch (e.kind()) {
                case CORRUPTION -> ScsiResult.check(Sense.UNRECOVERED_READ_ERROR);
                case READ_ONLY -> ScsiResult.check(Sense.WRITE_PROTECTED);
                case NO_SPACE -> ScsiResult.check(Sense.SPACE_ALLOCATION_FAILED);
                case UNAVAILABLE -> ScsiResult.check(Sense.NOT_READY_UNAVAILABLE);
                case TRANSIENT -> ScsiResult.status(ScsiResult.BUSY);
                case IO -> ScsiResult.check(Sense.INTERNAL_TARGET_FAILURE);
            };
        }
        if (cause instanceof IllegalArgumentException) {
            return ScsiResult.check(Sense.LBA_OUT_OF_RANGE);
        }
        log.error("command failed unexpectedly", cause);
        return ScsiResult.check(Sense.INTERNAL_TARGET_FAILURE);
    }

    /** The FencedException among the first few causes of {@code t}, or null. */
    private static FencedException fencedCause(Throwable t) {
        Throwable c = t;
        for (int depth = 0; c != null && depth < CAUSE_DEPTH_MAX; depth++, c = c.getCause()) {
            if (c instanceof FencedException f) {
                return f;
            }
        }
        return null;
    }

    // ---- state shared with the command classes; callers hold no other lock ----

    synchronized boolean writeCacheEnabled() {
        return writeCacheEnabled;
    }

    synchronized void setWriteCacheEnabled(boolean on) {
        writeCacheEnabled = on;
    }

    public synchronized boolean descriptorSense() {
        return descriptorSense;
    }

    synchronized void setDescriptorSense(boolean on) {
        descriptorSense = on;
    }

    synchronized boolean softwareWriteProtect() {
        return softwareWriteProtect;
    }

    synchronized void setSoftwareWriteProtect(boolean on) {
        softwareWriteProtect = on;
    }

    boolean writeProtected() {
        return device.readOnly() || softwareWriteProtect();
    }

    Sense writeProtectSense() {
        return device.readOnly() ? Sense.WRITE_PROTECTED : Sense.SOFTWARE_WRITE_PROTECTED;
    }

    // ---- nexus lifecycle, resets and unit attentions ----

    /**
     * Session {@code who} reached full-feature phase on this LU's target as {@code nexus}; its
     * device is opened from the source when a command first needs it.
     */
    public void attach(Nexus nexus, Initiator who) {
        reservations.attached(nexus);      // not under this LU's lock: Reservations takes it after its own
        attachSession(nexus, who);
    }

    private synchronized void attachSession(Nexus nexus, Initiator who) {
        nexuses.add(nexus);
        capacitySeen.put(nexus, device.blockCount());
        if (!(source instanceof LunSource.Shared)) {
            SessionDevice old = sessionDevices.putIfAbsent(nexus, new SessionDevice(who));
            if (old != null) {
                throw new IllegalStateException("nexus " + nexus + " of " + who + " (expected: detached before attaching again; attached for " + old.who + ")");
            }
        }
    }

    /**
     * A session ended: its RESERVE(6) reservation goes with it (persistent reservations stay),
     * and its device is closed once its last command on it has completed.
     */
    public void detach(Nexus nexus) {
        SessionDevice session;
        BlockDevice toClose = null;
        synchronized (this) {
            nexuses.remove(nexus);
            unitAttentions.remove(nexus);
            capacitySeen.remove(nexus);
            session = sessionDevices.remove(nexus);
            if (session != null) {
                session.ended = true;
                toClose = session.inflightCount == 0 ? takeOpened(session) : null;
            }
        }
        if (toClose != null) {
            closeQuietly(session.who, toClose);
        }
        reservations.nexusLost(nexus);
    }

    /** LOGICAL UNIT RESET (and target resets): clears RESERVE(6) and mode changes; tells the others. */
    public void reset(Nexus by, Sense attention) {
        reservations.reset();
        synchronized (this) {
            writeCacheEnabled = true;
            descriptorSense = false;
            softwareWriteProtect = false;
        }
        raiseUnitAttention(attention, by);
    }

    /** Queues {@code sense} for every attached nexus except {@code except} (may be null). */
    synchronized void raiseUnitAttention(Sense sense, Nexus except) {
        for (Nexus n : nexuses) {
            if (!n.equals(except)) {
                queueUnitAttention(n, sense);
            }
        }
    }

    synchronized void raiseUnitAttention(Nexus n, Sense sense) {
        queueUnitAttention(n, sense);
    }

    private void queueUnitAttention(Nexus n, Sense sense) {
        Deque<Sense> q = unitAttentions.computeIfAbsent(n, k -> new ArrayDeque<>());
        // Bounded: a nexus that never issues a command can hold at most a handful of distinct attentions.
        if (!q.contains(sense) && q.size() < 8) {
            q.add(sense);
        }
    }

    private Sense pollUnitAttention(Nexus n) {
        Deque<Sense> q = unitAttentions.get(n);
        return q == null ? null : q.poll();
    }

    private void noteCapacity(Nexus n) {
        long now = device.blockCount();
        Long seen = capacitySeen.put(n, now);
        if (seen != null && seen != now) {
            queueUnitAttention(n, Sense.CAPACITY_CHANGED);
        }
    }

    /** Target identity and the other LUs, as seen from one LU. */
    public interface TargetInfo {
        String name();

        /** LUN numbers in ascending order. */
        java.util.List<Integer> luns();

        LogicalUnit lun(int lun);

        CopyManager copyManager();
    }
}
