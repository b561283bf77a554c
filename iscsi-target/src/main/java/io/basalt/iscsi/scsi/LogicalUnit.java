package io.basalt.iscsi.scsi;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.BlockDeviceException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * One LUN: a {@link BlockDevice} plus the SCSI state kept around it (mode page settings, unit
 * attentions per I_T nexus, reservations). Shared by every session of its target, so its state
 * is guarded by {@code this}; I/O itself runs on the device's futures, never under the lock.
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

    private final int lun;
    private final BlockDevice device;
    private final String serial;
    private final long naaId;
    private final TargetInfo target;
    private final BlockCommands block;
    private final InfoCommands info;
    private final Reservations reservations;
    private final Map<Nexus, Deque<Sense>> unitAttentions = new HashMap<>();
    private final Map<Nexus, Long> capacitySeen = new HashMap<>();
    private final Set<Nexus> nexuses = new HashSet<>();
    private boolean writeCacheEnabled = true;
    private boolean descriptorSense;
    private boolean softwareWriteProtect;

    /**
     * @param target the target this LU belongs to: name and its other LUs (REPORT LUNS, EXTENDED COPY)
     * @param naaId the low 60 bits of the NAA registered identifier, unique per device
     */
    public LogicalUnit(int lun, BlockDevice device, TargetInfo target, long naaId) {
        if (device.logicalBlockSizeBytes() != 512 && device.logicalBlockSizeBytes() != 4096) {
            throw new IllegalArgumentException("logicalBlockSizeBytes: " + device.logicalBlockSizeBytes() + " (expected: 512 or 4096) device=" + device.name());
        }
        this.lun = lun;
        this.device = device;
        this.target = target;
        this.naaId = naaId & 0x0fffffffffffffffL;
        this.serial = String.format("%016x", this.naaId);
        this.block = new BlockCommands(this);
        this.info = new InfoCommands(this);
        this.reservations = new Reservations(this);
    }

    public int lun() {
        return lun;
    }

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
                    done(reservations.execute(r));
            case Opcodes.SERVICE_ACTION_IN_16 -> serviceActionIn(r);
            case Opcodes.READ_DEFECT_DATA_10, Opcodes.READ_DEFECT_DATA_12 -> done(readDefectData(r));
            case Opcodes.EXTENDED_COPY, Opcodes.RECEIVE_COPY_RESULTS -> target.copyManager().execute(this, r);
            default -> block.execute(r);
        };
    }

    private CompletableFuture<ScsiResult> serviceActionIn(ScsiRequest r) {
        return switch (r.u8(1) & 0x1f) {
            case Opcodes.SA_READ_CAPACITY_16 -> done(info.readCapacity16(r));
            case Opcodes.SA_GET_LBA_STATUS -> block.getLbaStatus(r);
            default -> done(ScsiResult.check(Sense.invalidCdbField(1)));
        };
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

    /**
     * Maps a device failure to sense data; a bug (any other exception) becomes HARDWARE ERROR too.
     * A transient failure (a cluster LUN without a quorum or a leader for now) is status BUSY, no
     * sense: the one answer both Linux (requeued until the command's time is up) and QEMU's iSCSI
     * client (re-issued up to 7 times with growing delays) retry; docs/decisions/busy-for-transient-failures.md.
     */
    static ScsiResult failure(Throwable t) {
        Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
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

    /** A session reached full-feature phase on this LU's target. */
    public synchronized void attach(Nexus nexus) {
        nexuses.add(nexus);
        capacitySeen.put(nexus, device.blockCount());
    }

    /** A session ended: its RESERVE(6) reservation goes with it (persistent reservations stay). */
    public void detach(Nexus nexus) {
        synchronized (this) {
            nexuses.remove(nexus);
            unitAttentions.remove(nexus);
            capacitySeen.remove(nexus);
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
