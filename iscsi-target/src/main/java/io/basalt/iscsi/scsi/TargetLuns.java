package io.basalt.iscsi.scsi;

import io.basalt.vdisk.BlockDevice;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;

/**
 * The SCSI side of one target: its name and its LUs. Commands to a LUN that does not exist are
 * answered here (INQUIRY with peripheral qualifier 011b, REPORT LUNS, REQUEST SENSE; anything
 * else LOGICAL UNIT NOT SUPPORTED). Immutable after construction.
 */
public final class TargetLuns implements LogicalUnit.TargetInfo {

    /** SAM allows 16384 LUNs with flat addressing; we address that many. */
    public static final int LUN_MAX = 16383;

    private final String name;
    private final NavigableMap<Integer, LogicalUnit> luns = new TreeMap<>();
    private final CopyManager copyManager = new CopyManager();

    /** A target whose every session shares each LUN's device. */
    public TargetLuns(String name, Map<Integer, BlockDevice> devices) {
        this(name);
        addAll(devices.entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> LunSource.shared(e.getValue()))));
    }

    private TargetLuns(String name) {
        this.name = name;
    }

    /** A target whose sessions each read and write a LUN through the device its source opens for them. */
    public static TargetLuns ofSources(String name, Map<Integer, ? extends LunSource> sources) {
        TargetLuns t = new TargetLuns(name);
        t.addAll(sources);
        return t;
    }

    private void addAll(Map<Integer, ? extends LunSource> sources) {
        for (Map.Entry<Integer, ? extends LunSource> e : new TreeMap<>(sources).entrySet()) {
            int lun = e.getKey();
            if (lun < 0 || lun > LUN_MAX) {
                throw new IllegalArgumentException("lun: " + lun + " (expected: 0.." + LUN_MAX + ") target=" + name);
            }
            String deviceName = e.getValue().device().name();
            long naa = UUID.nameUUIDFromBytes((name + "/" + lun + "/" + deviceName).getBytes(StandardCharsets.UTF_8)).getMostSignificantBits();
            luns.put(lun, new LogicalUnit(lun, e.getValue(), this, naa));
        }
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public List<Integer> luns() {
        return List.copyOf(luns.keySet());
    }

    @Override
    public LogicalUnit lun(int lun) {
        return luns.get(lun);
    }

    public java.util.Collection<LogicalUnit> logicalUnits() {
        return luns.values();
    }

    @Override
    public CopyManager copyManager() {
        return copyManager;
    }

    /** Runs {@code r} on LUN {@code lun}, or answers for a LUN that does not exist. */
    public CompletableFuture<ScsiResult> execute(int lun, ScsiRequest r) {
        LogicalUnit lu = luns.get(lun);
        if (lu != null) {
            return lu.execute(r);
        }
        return CompletableFuture.completedFuture(switch (r.opcode()) {
            case Opcodes.INQUIRY -> missingLunInquiry(r);
            case Opcodes.REPORT_LUNS -> luns.isEmpty() ? ScsiResult.check(Sense.LUN_NOT_SUPPORTED)
                    : luns.firstEntry().getValue().execute(r).join();
            case Opcodes.REQUEST_SENSE -> ScsiResult.good(InfoCommands.truncate(Sense.LUN_NOT_SUPPORTED.encode(false), r.u8(4)));
            default -> ScsiResult.check(Sense.LUN_NOT_SUPPORTED);
        });
    }

    private static ScsiResult missingLunInquiry(ScsiRequest r) {
        if ((r.u8(1) & 0x01) != 0) {
            return ScsiResult.check(Sense.LUN_NOT_SUPPORTED);
        }
        ByteBuffer b = ByteBuffer.allocate(36);
        b.put(0, (byte) 0x7f);           // qualifier 011b: no LU here; type 1Fh
        b.put(2, (byte) 0x06).put(3, (byte) 0x02).put(4, (byte) 31);
        return ScsiResult.good(InfoCommands.truncate(b, r.u16(3)));
    }

    /** The LUN number in an iSCSI LUN field (SAM-5 §4.7): peripheral or flat space addressing. */
    public static int decodeLun(long lunField) {
        int first = (int) (lunField >>> 48);
        int method = first >>> 14;
        if ((lunField & 0x0000_ffff_ffff_ffffL) != 0 || method > 1 || (method == 0 && (first >>> 8) != 0)) {
            return -1;
        }
        return first & 0x3fff;
    }

    public static long encodeLun(int lun) {
        return InfoCommands.encodeLun(lun);
    }
}
