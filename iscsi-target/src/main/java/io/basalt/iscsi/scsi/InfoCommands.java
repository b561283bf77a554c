package io.basalt.iscsi.scsi;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** SPC/SBC commands that describe the LU: INQUIRY and VPD pages, capacity, LUN list, mode pages, opcodes. */
final class InfoCommands {

    private static final String VENDOR = "BASALT  ";
    private static final String PRODUCT = "VDISK           ";
    private static final String REVISION = "0001";
    /** SAM-5, iSCSI, SPC-4, SBC-3 (SPC-5 §6.7.2 version descriptors). */
    private static final int[] VERSION_DESCRIPTORS = {0x00a0, 0x0960, 0x0460, 0x04c0};
    private static final int[] VPD_PAGES = {0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2};
    private static final int NAA_REGISTERED = 0x6;
    /** An IEEE company id for locally assigned NAA names (documentation value, not a real OUI). */
    private static final long COMPANY_ID = 0x0014_05L;

    private final LogicalUnit lu;
    private final ModePages modePages;

    InfoCommands(LogicalUnit lu) {
        this.lu = lu;
        this.modePages = new ModePages(lu);
    }

    static ByteBuffer truncate(ByteBuffer b, int allocationLength) {
        return b.slice(0, Math.min(b.remaining(), Math.max(allocationLength, 0)));
    }

    ScsiResult inquiry(ScsiRequest r) {
        int alloc = r.u16(3);
        boolean evpd = (r.u8(1) & 0x01) != 0;
        if ((r.u8(1) & 0xfe) != 0 || (!evpd && r.u8(2) != 0)) {
            return ScsiResult.check(Sense.invalidCdbField((r.u8(1) & 0xfe) != 0 ? 1 : 2));
        }
        ByteBuffer page = evpd ? vpd(r.u8(2), r.nexus()) : standardInquiry();
        return page == null ? ScsiResult.check(Sense.invalidCdbField(2)) : ScsiResult.good(truncate(page, alloc));
    }

    private ByteBuffer standardInquiry() {
        ByteBuffer b = ByteBuffer.allocate(96);
        b.put(2, (byte) 0x06);          // SPC-4
        b.put(3, (byte) 0x12);          // HISUP, response data format 2
        b.put(4, (byte) (96 - 5));
        b.put(5, (byte) 0x08);          // 3PC: EXTENDED COPY between LUs of this target
        b.put(7, (byte) 0x02);          // CMDQUE
        ascii(b, 8, VENDOR);
        ascii(b, 16, PRODUCT);
        ascii(b, 32, REVISION);
        for (int i = 0; i < VERSION_DESCRIPTORS.length; i++) {
            b.putShort(58 + 2 * i, (short) VERSION_DESCRIPTORS[i]);
        }
        return b;
    }

    private ByteBuffer vpd(int page, Nexus nexus) {
        return switch (page) {
            case 0x00 -> supportedPages();
            case 0x80 -> serialNumber();
            case 0x83 -> deviceIdentification(nexus);
            case 0xb0 -> blockLimits();
            case 0xb1 -> blockCharacteristics();
            case 0xb2 -> provisioning();
            default -> null;
        };
    }

    private static ByteBuffer vpdHeader(int page, int length) {
        ByteBuffer b = ByteBuffer.allocate(4 + length);
        b.put(1, (byte) page);
        b.putShort(2, (short) length);
        return b;
    }

    private ByteBuffer supportedPages() {
        ByteBuffer b = vpdHeader(0x00, VPD_PAGES.length);
        for (int i = 0; i < VPD_PAGES.length; i++) {
            b.put(4 + i, (byte) VPD_PAGES[i]);
        }
        return b;
    }

    private ByteBuffer serialNumber() {
        byte[] s = lu.serial().getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b = vpdHeader(0x80, s.length);
        b.put(4, s);
        return b;
    }

    /**
     * NAA (LU), T10 vendor id (LU), iSCSI name of the target device, and the relative target port
     * the command came through: its portal group tag, so two gateways of one LU are two ports.
     */
    private ByteBuffer deviceIdentification(Nexus nexus) {
        byte[] t10 = (VENDOR + lu.serial()).getBytes(StandardCharsets.US_ASCII);
        byte[] name = padded4(lu.target().name());
        int length = (4 + 16) + (4 + t10.length) + (4 + name.length) + (4 + 4);
        ByteBuffer b = vpdHeader(0x83, length);
        int at = 4;
        at = designator(b, at, 0x01, 0x03, 0x00, naa());
        at = designator(b, at, 0x02, 0x01, 0x00, t10);
        at = designator(b, at, 0x53, 0x08, 0x20, name);
        int port = nexus == null ? 1 : nexus.portalGroupTag();
        designator(b, at, 0x51, 0x04, 0x10, new byte[] {0, 0, (byte) (port >> 8), (byte) port});
        return b;
    }

    /** Writes one designation descriptor; returns the offset after it. */
    private static int designator(ByteBuffer b, int at, int codeSet, int type, int association, byte[] id) {
        b.put(at, (byte) codeSet);
        b.put(at + 1, (byte) (0x80 * (association != 0 ? 1 : 0) | association | type));
        b.put(at + 3, (byte) id.length);
        b.put(at + 4, id);
        return at + 4 + id.length;
    }

    private byte[] naa() {
        return naaDesignator(lu);
    }

    /** The 16-byte NAA IEEE Registered Extended designator of {@code lu}. */
    static byte[] naaDesignator(LogicalUnit lu) {
        ByteBuffer id = ByteBuffer.allocate(16);
        id.putLong(0, ((long) NAA_REGISTERED << 60) | (COMPANY_ID << 36) | (lu.naaId() >>> 28));
        id.putLong(8, lu.naaId() << 36 | lu.lun());
        return id.array();
    }

    private static byte[] padded4(String s) {
        byte[] raw = s.getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[(raw.length + 1 + 3) & ~3];
        System.arraycopy(raw, 0, out, 0, raw.length);
        return out;
    }

    private ByteBuffer blockLimits() {
        ByteBuffer b = vpdHeader(0xb0, 0x3c);
        int bs = lu.blockSize();
        b.put(5, (byte) LogicalUnit.COMPARE_AND_WRITE_BLOCKS_MAX);
        b.putShort(6, (short) Math.max(1, 4096 / bs));
        b.putInt(8, LogicalUnit.TRANSFER_BYTES_MAX / bs);
        b.putInt(12, LogicalUnit.OPTIMAL_TRANSFER_BYTES / bs);
        b.putInt(16, LogicalUnit.TRANSFER_BYTES_MAX / bs);
        b.putInt(20, (int) LogicalUnit.UNMAP_BLOCKS_MAX);
        b.putInt(24, LogicalUnit.UNMAP_DESCRIPTORS_MAX);
        b.putInt(28, Math.max(1, 4096 / bs));
        int atomicBytesMax = lu.device().atomicWriteBytesMax();
        if (atomicBytesMax > 0) {
            int unitBlocks = Math.max(1, lu.device().atomicWriteUnitBytes() / bs);
            b.putInt(44, atomicBytesMax / bs);   // MAXIMUM ATOMIC TRANSFER LENGTH
            b.putInt(48, unitBlocks);            // ATOMIC ALIGNMENT
            b.putInt(52, unitBlocks);            // ATOMIC TRANSFER LENGTH GRANULARITY
            // Bytes 56-63 (atomic boundary sizes) stay 0: WRITE ATOMIC with an ATOMIC BOUNDARY is refused.
        }
        return b;
    }

    private static ByteBuffer blockCharacteristics() {
        ByteBuffer b = vpdHeader(0xb1, 0x3c);
        b.putShort(4, (short) 1);       // non-rotating medium
        return b;
    }

    private static ByteBuffer provisioning() {
        ByteBuffer b = vpdHeader(0xb2, 4);
        b.put(5, (byte) (0x80 | 0x40 | 0x20 | 0x04));    // LBPU, LBPWS, LBPWS10, LBPRZ=1
        b.put(6, (byte) 0x02);                           // thin provisioned
        return b;
    }

    ScsiResult readCapacity10(ScsiRequest r) {
        ByteBuffer b = ByteBuffer.allocate(8);
        long last = lu.device().blockCount() - 1;
        b.putInt(0, (int) Math.min(last, 0xffffffffL));
        b.putInt(4, lu.blockSize());
        return ScsiResult.good(b);
    }

    ScsiResult readCapacity16(ScsiRequest r) {
        ByteBuffer b = ByteBuffer.allocate(32);
        b.putLong(0, lu.device().blockCount() - 1);
        b.putInt(8, lu.blockSize());
        b.put(13, (byte) (lu.blockSize() == 512 ? 3 : 0));   // 4 KiB physical blocks
        b.put(14, (byte) 0xc0);                               // LBPME, LBPRZ
        return ScsiResult.good(truncate(b, (int) Math.min(r.u32(10), Integer.MAX_VALUE)));
    }

    ScsiResult reportLuns(ScsiRequest r) {
        long alloc = r.u32(6);
        if (alloc < 16) {
            return ScsiResult.check(Sense.invalidCdbField(6));
        }
        if (r.u8(2) > 2 && r.u8(2) != 0x10 && r.u8(2) != 0x11 && r.u8(2) != 0x12) {
            return ScsiResult.check(Sense.invalidCdbField(2));
        }
        List<Integer> luns = lu.target().luns();
        ByteBuffer b = ByteBuffer.allocate(8 + 8 * luns.size());
        b.putInt(0, 8 * luns.size());
        for (int i = 0; i < luns.size(); i++) {
            b.putLong(8 + 8 * i, encodeLun(luns.get(i)));
        }
        return ScsiResult.good(truncate(b, (int) Math.min(alloc, Integer.MAX_VALUE)));
    }

    /** SAM LUN encoding: peripheral addressing below 256, flat space addressing up to 16383. */
    public static long encodeLun(int lun) {
        long first = lun < 256 ? lun : 0x4000 | lun;
        return first << 48;
    }

    ScsiResult modeSense(ScsiRequest r) {
        return modePages.sense(r);
    }

    ScsiResult modeSelect(ScsiRequest r) {
        return modePages.select(r);
    }

    ScsiResult maintenanceIn(ScsiRequest r) {
        if ((r.u8(1) & 0x1f) != Opcodes.SA_REPORT_SUPPORTED_OPCODES) {
            return ScsiResult.check(Sense.invalidCdbField(1));
        }
        return SupportedOpcodes.report(r, lu.device().atomicWriteBytesMax() > 0);
    }

    private static void ascii(ByteBuffer b, int at, String s) {
        b.put(at, s.getBytes(StandardCharsets.US_ASCII));
    }
}
