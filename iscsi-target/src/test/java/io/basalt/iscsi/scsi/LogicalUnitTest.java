package io.basalt.iscsi.scsi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.basalt.iscsi.MemoryBlockDevice;
import io.basalt.iscsi.pdu.Bytes;
import io.basalt.vdisk.BlockDeviceException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** SCSI semantics of one LU, without any transport. */
class LogicalUnitTest {

    private final MemoryBlockDevice device = new MemoryBlockDevice("mem", 512, 1 << 20, Runnable::run);
    private final TargetLuns target = new TargetLuns("iqn.2026-11.io.basalt:t", Map.of(0, device));
    private final LogicalUnit lu = target.lun(0);
    private final Nexus a = Nexus.of("iqn.2026-11.x:a", 1, target.name(), 1);
    private final Nexus b = Nexus.of("iqn.2026-11.x:b", 2, target.name(), 1);

    private static Bytes cdb(int... bytes) {
        byte[] c = new byte[Math.max(16, bytes.length)];
        for (int i = 0; i < bytes.length; i++) {
            c[i] = (byte) bytes[i];
        }
        return Bytes.wrapOwned(c);
    }

    private ScsiResult run(Nexus n, Bytes cdb, ByteBuffer data) {
        return lu.execute(new ScsiRequest(n, cdb, data, data.remaining())).join();
    }

    private static ByteBuffer filled(int bytes, int value) {
        byte[] b = new byte[bytes];
        Arrays.fill(b, (byte) value);
        return ByteBuffer.wrap(b);
    }

    private static Bytes write10(long lba, int blocks) {
        return cdb(0x2a, 0, 0, 0, (int) (lba >> 8), (int) lba, 0, blocks >> 8, blocks);
    }

    private static Bytes read10(long lba, int blocks) {
        return cdb(0x28, 0, 0, 0, (int) (lba >> 8), (int) lba, 0, blocks >> 8, blocks);
    }

    @Test
    void compareAndWriteMiscompareNamesTheOffsetAndWritesNothing() {
        run(a, write10(4, 2), filled(1024, 'A'));
        ByteBuffer both = ByteBuffer.allocate(2048);
        both.put(filled(1024, 'A'));
        both.put(700, (byte) 'X');
        both.put(1024, filled(1024, 'B'), 0, 1024).position(0);
        ScsiResult r = run(a, cdb(0x89, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 2), both);
        assertEquals(ScsiResult.CHECK_CONDITION, r.status());
        assertEquals(Sense.MISCOMPARE, r.sense().key());
        assertEquals(700, r.sense().information());
        assertEquals(filled(1024, 'A'), device.read(4, 2).join());
    }

    @Test
    void writeWithMoreDataThanTheCdbWritesOnlyTheCdbBlocks() {
        ScsiResult r = run(a, write10(0, 1), filled(1024, 'C'));
        assertEquals(ScsiResult.GOOD, r.status());
        assertEquals(512, r.dataOutBytesWanted());
        assertEquals(1, device.mappedBlockCount());
    }

    @Test
    void writeWithAPartialBlockIsRejectedAndWritesNothing() {
        ScsiResult r = run(a, write10(0, 1), filled(200, 'C'));
        assertEquals(Sense.INVALID_FIELD_IN_INFORMATION_UNIT, r.sense());
        assertEquals(0, device.mappedBlockCount());
    }

    @Test
    void readBeyondTheEndIsLbaOutOfRange() {
        ScsiResult r = run(a, read10(2047, 2), ByteBuffer.allocate(0));
        assertEquals(Sense.LBA_OUT_OF_RANGE, r.sense());
    }

    @Test
    void deviceFailuresBecomeTheirSense() {
        // A full cluster disk (its reserve reached) must read as thin provisioning's "space
        // allocation failed", not as a hardware error the initiator retries or offlines on.
        assertEquals(Sense.SPACE_ALLOCATION_FAILED, LogicalUnit.failure(new java.util.concurrent.CompletionException(
                new BlockDeviceException(BlockDeviceException.Kind.NO_SPACE, "pg-0: 82 MiB free"))).sense());
        assertEquals(Sense.NOT_READY_UNAVAILABLE, LogicalUnit.failure(new BlockDeviceException(BlockDeviceException.Kind.UNAVAILABLE, "closed")).sense());
        // A cluster LUN between leaders must answer BUSY, which Linux and QEMU retry, not NOT READY:
        // "manual intervention required" (04h/03h) Linux fails at once, and "becoming ready"
        // (04h/01h) QEMU's iSCSI client fails at once (EINPROGRESS): a guest would see EIO.
        ScsiResult busy = LogicalUnit.failure(new BlockDeviceException(BlockDeviceException.Kind.TRANSIENT, "no quorum"));
        assertEquals(ScsiResult.BUSY, busy.status());
        assertEquals(Sense.NONE, busy.sense());
        assertEquals(Sense.WRITE_PROTECTED, LogicalUnit.failure(new BlockDeviceException(BlockDeviceException.Kind.READ_ONLY, "snapshot")).sense());
        assertEquals(Sense.UNRECOVERED_READ_ERROR, LogicalUnit.failure(new BlockDeviceException(BlockDeviceException.Kind.CORRUPTION, "crc")).sense());
        assertEquals(Sense.INTERNAL_TARGET_FAILURE, LogicalUnit.failure(new BlockDeviceException(BlockDeviceException.Kind.IO, "eio")).sense());
    }

    @Test
    void unknownOpcodeIsInvalidCommandOperationCode() {
        assertEquals(Sense.INVALID_OPCODE, run(a, cdb(0xc5), ByteBuffer.allocate(0)).sense());
    }

    private static ByteBuffer proutParams(long key, long saKey) {
        return ByteBuffer.allocate(24).putLong(0, key).putLong(8, saKey);
    }

    private static Bytes prout(int action, int type) {
        return cdb(0x5f, action, type, 0, 0, 0, 0, 0, 24);
    }

    @Test
    void exclusiveAccessReservationBlocksOtherNexusesUntilReleased() {
        assertEquals(ScsiResult.GOOD, run(a, prout(0, 0), proutParams(0, 0xaa)).status());
        assertEquals(ScsiResult.GOOD, run(a, prout(1, Reservations.EXCLUSIVE_ACCESS), proutParams(0xaa, 0)).status());
        assertEquals(ScsiResult.RESERVATION_CONFLICT, run(b, read10(0, 1), ByteBuffer.allocate(0)).status());
        assertEquals(ScsiResult.GOOD, run(a, read10(0, 1), ByteBuffer.allocate(0)).status());
        assertEquals(ScsiResult.GOOD, run(a, prout(2, Reservations.EXCLUSIVE_ACCESS), proutParams(0xaa, 0)).status());
        assertEquals(ScsiResult.GOOD, run(b, read10(0, 1), ByteBuffer.allocate(0)).status());
    }

    @Test
    void registeringWithAWrongKeyIsAConflict() {
        run(a, prout(0, 0), proutParams(0, 0xaa));
        assertEquals(ScsiResult.RESERVATION_CONFLICT, run(a, prout(0, 0), proutParams(0xbb, 0xcc)).status());
    }

    @Test
    void lunResetTellsTheOtherNexusesByUnitAttentionOnce() {
        lu.attach(a, new Initiator("iqn.2026-11.x:a", 1, 1, null));
        lu.attach(b, new Initiator("iqn.2026-11.x:b", 2, 2, null));
        lu.reset(a, Sense.LUN_RESET);
        Bytes tur = cdb(0);
        assertEquals(ScsiResult.GOOD, run(a, tur, ByteBuffer.allocate(0)).status());
        assertEquals(Sense.LUN_RESET, run(b, tur, ByteBuffer.allocate(0)).sense());
        assertEquals(ScsiResult.GOOD, run(b, tur, ByteBuffer.allocate(0)).status());
    }

    @Test
    void capacityChangeRaisesAUnitAttention() {
        lu.attach(a, new Initiator("iqn.2026-11.x:a", 1, 1, null));
        device.resize(2 << 20).join();
        assertEquals(Sense.CAPACITY_CHANGED, run(a, cdb(0), ByteBuffer.allocate(0)).sense());
    }

    @Test
    void writeSameWithUnmapDeallocatesAndReadsZeros() {
        run(a, write10(0, 8), filled(4096, 7));
        ScsiResult r = run(a, cdb(0x41, 0x08, 0, 0, 0, 0, 0, 0, 8), filled(512, 7));
        assertEquals(ScsiResult.GOOD, r.status());
        assertEquals(0, device.mappedBlockCount());
        ByteBuffer status = run(a, cdb(0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 24), ByteBuffer.allocate(0)).dataIn();
        assertEquals(1, status.get(20), "first descriptor: deallocated");
    }

    @Test
    void modeSelectTurnsTheWriteCacheOff() {
        ByteBuffer page = ByteBuffer.allocate(4 + 20);
        page.put(4, (byte) 0x08).put(5, (byte) 0x12);      // caching page, WCE clear
        assertEquals(ScsiResult.GOOD, run(a, cdb(0x15, 0x10, 0, 0, 24), page).status());
        assertTrue(!lu.writeCacheEnabled());
    }

    private static Bytes writeAtomic16(long lba, int blocks, int flags, int boundary) {
        return cdb(0x9c, flags, 0, 0, 0, 0, (int) (lba >> 24), (int) (lba >> 16), (int) (lba >> 8), (int) lba,
                boundary >> 8, boundary, blocks >> 8, blocks, 0, 0);
    }

    private static Bytes inquiryVpd(int page) {
        return cdb(0x12, 1, page, 0, 255, 0);
    }

    @Test
    void deviceIdentificationNamesTheRelativeTargetPortTheCommandCameThrough() {
        ByteBuffer viaOne = run(a, inquiryVpd(0x83), ByteBuffer.allocate(0)).dataIn();
        ByteBuffer viaTwo = run(Nexus.of("iqn.2026-11.x:a", 1, target.name(), 2), inquiryVpd(0x83), ByteBuffer.allocate(0)).dataIn();
        assertEquals(1, relativeTargetPort(viaOne));
        assertEquals(2, relativeTargetPort(viaTwo));
        assertEquals(viaOne.slice(4, 20), viaTwo.slice(4, 20), "the same LU (NAA designator) through both ports");
    }

    /** The identifier of the relative target port designator (type 4) of a Device Identification page. */
    private static int relativeTargetPort(ByteBuffer page) {
        int at = 4;
        while (at < 4 + (page.getShort(2) & 0xffff)) {
            int length = page.get(at + 3) & 0xff;
            if ((page.get(at + 1) & 0x0f) == 0x04) {
                return page.getShort(at + 6) & 0xffff;
            }
            at += 4 + length;
        }
        throw new AssertionError("no relative target port designator");
    }

    @Test
    void writeAtomicIsInvalidOpcodeWhenTheDeviceOffersNoAtomicWrites() {
        assertEquals(Sense.INVALID_OPCODE, run(a, writeAtomic16(0, 8, 0, 0), filled(4096, 'A')).sense());
        ByteBuffer limits = run(a, inquiryVpd(0xb0), ByteBuffer.allocate(0)).dataIn();
        assertEquals(0, limits.getInt(44));
        assertEquals(0, limits.getInt(48));
        assertEquals(0, limits.getInt(52));
        ByteBuffer one = run(a, cdb(0xa3, 0x0c, 0x01, 0x9c, 0, 0, 0, 0, 0, 255, 0, 0), ByteBuffer.allocate(0)).dataIn();
        assertEquals(0x01, one.get(1) & 0x07, "REPORT SUPPORTED OPERATION CODES must say: not supported");
    }

    @Test
    void writeAtomicWritesWholeAlignedGrainsAndRefusesTheRest() {
        MemoryBlockDevice atomic = new MemoryBlockDevice("atomic", 512, 1 << 20, Runnable::run).offerAtomicWrites(4096, 64 << 10);
        LogicalUnit alu = new TargetLuns("iqn.2026-11.io.basalt:a", Map.of(0, atomic)).lun(0);
        java.util.function.BiFunction<Bytes, ByteBuffer, ScsiResult> exec =
                (c, d) -> alu.execute(new ScsiRequest(a, c, d, d.remaining())).join();
        ByteBuffer limits = exec.apply(inquiryVpd(0xb0), ByteBuffer.allocate(0)).dataIn();
        assertEquals(128, limits.getInt(44), "MAXIMUM ATOMIC TRANSFER LENGTH");
        assertEquals(8, limits.getInt(48), "ATOMIC ALIGNMENT");
        assertEquals(8, limits.getInt(52), "ATOMIC TRANSFER LENGTH GRANULARITY");
        assertEquals(0, limits.getInt(56));
        assertEquals(0, limits.getInt(60));

        assertEquals(ScsiResult.GOOD, exec.apply(writeAtomic16(16, 16, 0x08, 0), filled(8192, 'Z')).status());
        assertEquals(filled(8192, 'Z'), atomic.read(16, 16).join());
        assertEquals(Sense.invalidCdbField(2), exec.apply(writeAtomic16(1, 8, 0, 0), filled(4096, 'A')).sense(), "misaligned");
        assertEquals(Sense.invalidCdbField(12), exec.apply(writeAtomic16(0, 1, 0, 0), filled(512, 'A')).sense(), "not whole units");
        assertEquals(Sense.invalidCdbField(12), exec.apply(writeAtomic16(0, 136, 0, 0), filled(136 * 512, 'A')).sense(), "too long");
        assertEquals(Sense.invalidCdbField(10), exec.apply(writeAtomic16(0, 8, 0, 8), filled(4096, 'A')).sense(), "atomic boundary");
        assertEquals(Sense.invalidCdbField(1), exec.apply(writeAtomic16(0, 8, 0x20, 0), filled(4096, 'A')).sense(), "WRPROTECT");
        assertEquals(Sense.LBA_OUT_OF_RANGE, exec.apply(writeAtomic16(2048 - 8, 16, 0, 0), filled(8192, 'A')).sense());
        assertEquals(Sense.INVALID_FIELD_IN_INFORMATION_UNIT, exec.apply(writeAtomic16(0, 16, 0, 0), filled(4096, 'A')).sense(),
                "less data than the CDB: no partial atomic write");
        assertEquals(filled(4096, 0), atomic.read(0, 8).join(), "refused atomic writes wrote nothing");
        ByteBuffer one = exec.apply(cdb(0xa3, 0x0c, 0x01, 0x9c, 0, 0, 0, 0, 0, 255, 0, 0), ByteBuffer.allocate(0)).dataIn();
        assertEquals(0x03, one.get(1) & 0x07, "supported, per standard");
        assertEquals(0x18, one.get(5) & 0x18, "DPO and FUA usable");
    }

    @Test
    void writeAtomicCrossingTheDevicesWindowIsRefusedAtTheLba() {
        MemoryBlockDevice windowed = new MemoryBlockDevice("windowed", 512, 1 << 20, Runnable::run).offerAtomicWrites(4096, 64 << 10, 64 << 10);
        LogicalUnit wlu = new TargetLuns("iqn.2026-11.io.basalt:w", Map.of(0, windowed)).lun(0);
        java.util.function.BiFunction<Bytes, ByteBuffer, ScsiResult> exec =
                (c, d) -> wlu.execute(new ScsiRequest(a, c, d, d.remaining())).join();
        assertEquals(ScsiResult.GOOD, exec.apply(writeAtomic16(128, 128, 0, 0), filled(64 << 10, 'W')).status(), "one whole window");
        assertEquals(ScsiResult.GOOD, exec.apply(writeAtomic16(248, 8, 0, 0), filled(4096, 'X')).status(), "the window's last grain");
        assertEquals(Sense.invalidCdbField(2), exec.apply(writeAtomic16(120, 16, 0, 0), filled(8192, 'Y')).sense(), "crosses lba 128");
        assertEquals(filled(4096, 0), windowed.read(120, 8).join(), "the refused write wrote nothing");
        assertEquals(filled(4096, 'W'), windowed.read(128, 8).join());
    }

    @Test
    void readIntoTheTransportsBufferReturnsThatBuffer() {
        run(a, write10(10, 2), filled(1024, 'R'));
        ByteBuffer dst = ByteBuffer.allocateDirect(1024);
        ScsiResult r = lu.execute(new ScsiRequest(a, read10(10, 2), ByteBuffer.allocate(0), 1024, dst)).join();
        assertTrue(r.dataIn() == dst, "the result must carry the transport's buffer itself");
        assertEquals(filled(1024, 'R'), r.dataIn());
    }
}
