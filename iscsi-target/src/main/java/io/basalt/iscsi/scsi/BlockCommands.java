package io.basalt.iscsi.scsi;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.LbaStatus;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * SBC medium-access commands: the CDB → {@link BlockDevice} logic, for one LU through one
 * device (the one the requesting session uses: see {@link LunSource}).
 */
final class BlockCommands {

    /** Write-same payloads are written in chunks of at most this many bytes. */
    private static final int WRITE_SAME_CHUNK_BYTES = 1 << 20;
    private static final int ORWRITE_ATTEMPTS_MAX = 16;
    /**
     * GET LBA STATUS asks the device about at most this much of the LUN per command. SBC-4 lets
     * us describe less than the rest of the medium (the initiator asks again from where we
     * stopped), and a device may well cost time in proportion to the range.
     */
    private static final long LBA_STATUS_SCAN_BYTES_MAX = 32L << 20;

    private final LogicalUnit lu;
    private final BlockDevice device;

    BlockCommands(LogicalUnit lu, BlockDevice device) {
        this.lu = lu;
        this.device = device;
    }

    /** LBA, block count and the flags byte of a read/write-shaped CDB. */
    record Extent(long lba, long blocks, int flags) {
    }

    CompletableFuture<ScsiResult> execute(ScsiRequest r) {
        return switch (r.opcode()) {
            case Opcodes.READ_6, Opcodes.READ_10, Opcodes.READ_12, Opcodes.READ_16 -> read(r);
            case Opcodes.WRITE_6, Opcodes.WRITE_10, Opcodes.WRITE_12, Opcodes.WRITE_16 -> write(r, false);
            case Opcodes.WRITE_VERIFY_10, Opcodes.WRITE_VERIFY_12, Opcodes.WRITE_VERIFY_16 -> write(r, true);
            case Opcodes.WRITE_ATOMIC_16 -> writeAtomic(r);
            case Opcodes.VERIFY_10, Opcodes.VERIFY_12, Opcodes.VERIFY_16 -> verify(r);
            case Opcodes.PRE_FETCH_10, Opcodes.PRE_FETCH_16 -> LogicalUnit.done(prefetch(r));
            case Opcodes.SYNCHRONIZE_CACHE_10, Opcodes.SYNCHRONIZE_CACHE_16 -> synchronizeCache(r);
            case Opcodes.WRITE_SAME_10, Opcodes.WRITE_SAME_16 -> writeSame(r);
            case Opcodes.UNMAP -> unmap(r);
            case Opcodes.COMPARE_AND_WRITE -> compareAndWrite(r);
            case Opcodes.ORWRITE_16 -> orWrite(r);
            default -> LogicalUnit.done(ScsiResult.check(Sense.INVALID_OPCODE));
        };
    }

    static Extent extent(ScsiRequest r) {
        return switch (cdbLength(r.opcode())) {
            case 6 -> new Extent(r.u24(1) & 0x1fffff, r.u8(4) == 0 ? 256 : r.u8(4), 0);
            case 10 -> new Extent(r.u32(2), r.u16(7), r.u8(1));
            case 12 -> new Extent(r.u32(2), r.u32(6), r.u8(1));
            default -> new Extent(r.u64(2), r.u32(10), r.u8(1));
        };
    }

    static int cdbLength(int opcode) {
        return switch (opcode >> 5) {
            case 0 -> 6;
            case 1, 2 -> 10;
            case 4 -> 16;
            case 5 -> 12;
            default -> 10;
        };
    }

    /** LBA OUT OF RANGE when the extent leaves the medium; null when it fits. */
    private Sense range(long lba, long blocks) {
        long count = device.blockCount();
        return lba < 0 || lba > count || blocks > count - lba ? Sense.LBA_OUT_OF_RANGE : null;
    }

    private Sense transferLimit(long blocks) {
        return blocks * lu.blockSize() > LogicalUnit.TRANSFER_BYTES_MAX ? Sense.INVALID_FIELD_IN_CDB : null;
    }

    private CompletableFuture<ScsiResult> read(ScsiRequest r) {
        Extent e = extent(r);
        Sense bad = (e.flags() >> 5) != 0 ? Sense.invalidCdbField(1) : firstOf(range(e.lba(), e.blocks()), transferLimit(e.blocks()));
        if (bad != null) {
            return LogicalUnit.done(ScsiResult.check(bad));
        }
        if (e.blocks() == 0) {
            return LogicalUnit.done(ScsiResult.good());
        }
        int bytes = (int) (e.blocks() * lu.blockSize());
        ByteBuffer dst = r.dataInBuffer();
        if (dst != null && dst.capacity() >= bytes) {
            // Straight into the transport's buffer: no heap buffer, no copy on the way to the socket.
            return device.read(e.lba(), (int) e.blocks(), dst.clear()).thenApply(v -> ScsiResult.good(dst.limit(bytes)));
        }
        return device.read(e.lba(), (int) e.blocks()).thenApply(ScsiResult::good);
    }

    /**
     * Checks shared by every command that writes {@code e.blocks()} blocks from the data-out
     * buffer. The initiator may send less or more than the CDB asks for (an iSCSI residual):
     * like FCP-4 §9.4.2 we process the command on the whole blocks both agree on, unless a
     * partial block arrived, which is INVALID FIELD IN INFORMATION UNIT.
     */
    private Sense writeChecks(ScsiRequest r, Extent e, long dataBytes) {
        if ((e.flags() >> 5) != 0) {
            return Sense.invalidCdbField(1);
        }
        Sense bad = firstOf(range(e.lba(), e.blocks()), transferLimit(e.blocks()));
        if (bad != null) {
            return bad;
        }
        int sent = r.dataOut().remaining();
        if (sent < dataBytes && sent % lu.blockSize() != 0) {
            return Sense.INVALID_FIELD_IN_INFORMATION_UNIT;
        }
        return lu.writeProtected() ? lu.writeProtectSense() : null;
    }

    /** The bytes to write: what the CDB asks for, cut to what the initiator sent. */
    private static ByteBuffer truncated(ScsiRequest r, long cdbBytes) {
        ByteBuffer d = r.dataOut();
        return d.slice(d.position(), (int) Math.min(cdbBytes, d.remaining()));
    }

    private CompletableFuture<ScsiResult> write(ScsiRequest r, boolean verify) {
        Extent e = extent(r);
        long bytes = e.blocks() * lu.blockSize();
        Sense bad = writeChecks(r, e, bytes);
        if (bad != null) {
            return LogicalUnit.done(ScsiResult.check(bad).withDataOutWanted(bytes));
        }
        ByteBuffer data = truncated(r, bytes);
        if (!data.hasRemaining()) {
            return LogicalUnit.done(ScsiResult.good().withDataOutWanted(bytes));
        }
        boolean fua = (e.flags() & 0x08) != 0 || verify || !lu.writeCacheEnabled();
        return device.write(e.lba(), data, fua).thenApply(v -> ScsiResult.good().withDataOutWanted(bytes));
    }

    /**
     * WRITE ATOMIC (16) (SBC-4): all of the blocks or none, after a crash and for concurrent
     * readers and writers; offered when the device offers {@link BlockDevice#writeAtomic}. The LBA
     * and length must be multiples of the device's atomic unit (the grain, reported as ATOMIC
     * ALIGNMENT and ATOMIC TRANSFER LENGTH GRANULARITY), the length at most its maximum, the
     * ATOMIC BOUNDARY field 0 (we report no boundary support), and the blocks inside one window of
     * the device's {@link BlockDevice#atomicWriteBoundaryBytes()} when it has one (a cluster vdisk:
     * INVALID FIELD IN CDB pointing at the LBA otherwise; SBC-4 has no field to report such a
     * window, so docs/decisions/atomic-writes.md records this as our departure).
     */
    private CompletableFuture<ScsiResult> writeAtomic(ScsiRequest r) {
        int bytesMax = device.atomicWriteBytesMax();
        if (bytesMax <= 0) {
            return LogicalUnit.done(ScsiResult.check(Sense.INVALID_OPCODE));
        }
        Extent e = new Extent(r.u64(2), r.u16(12), r.u8(1));
        long bytes = e.blocks() * lu.blockSize();
        int unitBlocks = Math.max(1, device.atomicWriteUnitBytes() / lu.blockSize());
        Sense bad = writeChecks(r, e, bytes);
        if (bad == null && r.u16(10) != 0) {
            bad = Sense.invalidCdbField(10);
        } else if (bad == null && e.lba() % unitBlocks != 0) {
            bad = Sense.invalidCdbField(2);
        } else if (bad == null && (e.blocks() % unitBlocks != 0 || bytes > bytesMax)) {
            bad = Sense.invalidCdbField(12);
        } else if (bad == null && crossesBoundary(e, device.atomicWriteBoundaryBytes())) {
            bad = Sense.invalidCdbField(2);   // the device can make it atomic only inside one window
        } else if (bad == null && r.dataOut().remaining() != bytes) {
            bad = Sense.INVALID_FIELD_IN_INFORMATION_UNIT;   // all or nothing: no partial atomic write
        }
        if (bad != null) {
            return LogicalUnit.done(ScsiResult.check(bad).withDataOutWanted(bytes));
        }
        if (e.blocks() == 0) {
            return LogicalUnit.done(ScsiResult.good().withDataOutWanted(bytes));
        }
        boolean fua = (e.flags() & 0x08) != 0 || !lu.writeCacheEnabled();
        return device.writeAtomic(e.lba(), r.dataOut().slice(), fua).thenApply(v -> ScsiResult.good().withDataOutWanted(bytes));
    }

    /** Whether {@code e} crosses a multiple of {@code boundaryBytes} (never when it is 0). */
    private boolean crossesBoundary(Extent e, int boundaryBytes) {
        if (boundaryBytes <= 0 || e.blocks() == 0) {
            return false;
        }
        long first = e.lba() * lu.blockSize();
        return first / boundaryBytes != (first + e.blocks() * lu.blockSize() - 1) / boundaryBytes;
    }

    private CompletableFuture<ScsiResult> verify(ScsiRequest r) {
        Extent e = extent(r);
        int bytchk = (e.flags() >> 1) & 3;
        long wanted = switch (bytchk) {
            case 1 -> e.blocks() * lu.blockSize();
            case 3 -> e.blocks() == 0 ? 0 : lu.blockSize();
            default -> 0;
        };
        Sense bad = (e.flags() >> 5) != 0 || bytchk == 2 ? Sense.invalidCdbField(1) : firstOf(range(e.lba(), e.blocks()), transferLimit(e.blocks()));
        if (bad == null && bytchk != 0 && r.dataOut().remaining() != wanted) {
            bad = Sense.INVALID_FIELD_IN_INFORMATION_UNIT;
        }
        if (bad != null) {
            return LogicalUnit.done(ScsiResult.check(bad).withDataOutWanted(bytchk == 0 ? -1 : wanted));
        }
        if (e.blocks() == 0) {
            return LogicalUnit.done(ScsiResult.good().withDataOutWanted(bytchk == 0 ? -1 : wanted));
        }
        return device.read(e.lba(), (int) e.blocks()).thenApply(medium -> {
            long at = bytchk == 0 ? -1 : mismatch(medium, r.dataOut(), bytchk == 3 ? lu.blockSize() : 0);
            ScsiResult res = at < 0 ? ScsiResult.good() : ScsiResult.check(Sense.miscompareAt(at));
            return res.withDataOutWanted(bytchk == 0 ? -1 : wanted);
        });
    }

    /** Offset of the first byte where {@code medium} differs from {@code expected} (repeated every {@code period} bytes if > 0), or -1. */
    static long mismatch(ByteBuffer medium, ByteBuffer expected, int period) {
        int n = medium.remaining();
        for (int i = 0; i < n; i++) {
            int j = period > 0 ? i % period : i;
            if (medium.get(medium.position() + i) != expected.get(expected.position() + j)) {
                return i;
            }
        }
        return -1;
    }

    private ScsiResult prefetch(ScsiRequest r) {
        Extent e = extent(r);
        Sense bad = range(e.lba(), e.blocks());
        return bad != null ? ScsiResult.check(bad) : ScsiResult.good();
    }

    private CompletableFuture<ScsiResult> synchronizeCache(ScsiRequest r) {
        Extent e = extent(r);
        Sense bad = range(e.lba(), e.blocks());
        if (bad != null) {
            return LogicalUnit.done(ScsiResult.check(bad));
        }
        return device.flush().thenApply(v -> ScsiResult.good());
    }

    private CompletableFuture<ScsiResult> writeSame(ScsiRequest r) {
        Extent e = extent(r);
        boolean ndob = r.opcode() == Opcodes.WRITE_SAME_16 && (e.flags() & 0x01) != 0;
        boolean unmap = (e.flags() & 0x08) != 0;
        long wanted = ndob ? 0 : lu.blockSize();
        long blocks = e.blocks() == 0 ? device.blockCount() - e.lba() : e.blocks();
        Sense bad = writeSameChecks(r, e, blocks, wanted);
        if (bad != null) {
            return LogicalUnit.done(ScsiResult.check(bad).withDataOutWanted(wanted));
        }
        if (blocks <= 0) {
            return LogicalUnit.done(ScsiResult.good().withDataOutWanted(wanted));
        }
        // With UNMAP set we deallocate whatever the payload (as LIO and tgt do): thin LUs report
        // LBPRZ, so the blocks then read as zeros, which is what initiators setting UNMAP expect.
        if (unmap || ndob || isZero(r.dataOut())) {
            return device.writeZeroes(e.lba(), blocks, unmap).thenApply(v -> ScsiResult.good().withDataOutWanted(wanted));
        }
        return writePattern(e.lba(), blocks, r.dataOut()).thenApply(v -> ScsiResult.good().withDataOutWanted(wanted));
    }

    private Sense writeSameChecks(ScsiRequest r, Extent e, long blocks, long wanted) {
        if ((e.flags() >> 5) != 0 || (e.flags() & 0x10) != 0) {
            return Sense.invalidCdbField(1);
        }
        Sense bad = range(e.lba(), Math.max(blocks, 0));
        if (bad != null) {
            return bad;
        }
        if (r.dataOut().remaining() != wanted) {
            return Sense.INVALID_FIELD_IN_INFORMATION_UNIT;
        }
        return lu.writeProtected() ? lu.writeProtectSense() : null;
    }

    /** Writes {@code block} repeated over the extent, one bounded chunk after another. */
    private CompletableFuture<Void> writePattern(long lba, long blocks, ByteBuffer block) {
        int bs = lu.blockSize();
        int chunkBlocks = (int) Math.min(blocks, WRITE_SAME_CHUNK_BYTES / bs);
        ByteBuffer chunk = ByteBuffer.allocate(chunkBlocks * bs);
        for (int i = 0; i < chunkBlocks; i++) {
            chunk.put(i * bs, block, block.position(), bs);
        }
        CompletableFuture<Void> f = CompletableFuture.completedFuture(null);
        for (long at = 0; at < blocks; at += chunkBlocks) {
            long start = lba + at;
            int n = (int) Math.min(chunkBlocks, blocks - at);
            f = f.thenCompose(v -> device.write(start, chunk.slice(0, n * bs), !lu.writeCacheEnabled()));
        }
        return f;
    }

    static boolean isZero(ByteBuffer b) {
        for (int i = b.position(); i < b.limit(); i++) {
            if (b.get(i) != 0) {
                return false;
            }
        }
        return true;
    }

    private CompletableFuture<ScsiResult> unmap(ScsiRequest r) {
        if ((r.u8(1) & 0x01) != 0) {
            return LogicalUnit.done(ScsiResult.check(Sense.invalidCdbField(1)));
        }
        ByteBuffer p = r.dataOut();
        int len = Math.min(r.u16(7), p.remaining());
        if (len == 0) {
            return LogicalUnit.done(ScsiResult.good());
        }
        if (len < 8) {
            return LogicalUnit.done(ScsiResult.check(Sense.PARAMETER_LIST_LENGTH_ERROR));
        }
        int descBytes = Math.min(p.getShort(p.position() + 2) & 0xffff, len - 8) & ~15;
        if (descBytes / 16 > LogicalUnit.UNMAP_DESCRIPTORS_MAX) {
            return LogicalUnit.done(ScsiResult.check(Sense.invalidParameterField(2)));
        }
        if (lu.writeProtected()) {
            return LogicalUnit.done(ScsiResult.check(lu.writeProtectSense()));
        }
        return unmapDescriptors(p, descBytes);
    }

    private CompletableFuture<ScsiResult> unmapDescriptors(ByteBuffer p, int descBytes) {
        int base = p.position() + 8;
        for (int at = 0; at < descBytes; at += 16) {
            long lba = p.getLong(base + at);
            long n = p.getInt(base + at + 8) & 0xffffffffL;
            if (range(lba, n) != null) {
                return LogicalUnit.done(ScsiResult.check(Sense.LBA_OUT_OF_RANGE));
            }
            if (n > LogicalUnit.UNMAP_BLOCKS_MAX) {
                return LogicalUnit.done(ScsiResult.check(Sense.invalidParameterField(8 + at + 8)));
            }
        }
        List<UnmapRange> extents = new ArrayList<>();
        for (int at = 0; at < descBytes; at += 16) {
            long n = p.getInt(base + at + 8) & 0xffffffffL;
            if (n > 0) {
                extents.add(new UnmapRange(p.getLong(base + at), n));
            }
        }
        List<UnmapRange> merged = UnmapRange.merge(extents);
        CompletableFuture<?>[] parts = new CompletableFuture<?>[merged.size()];
        for (int i = 0; i < parts.length; i++) {
            parts[i] = device.unmap(merged.get(i).lba(), merged.get(i).blocks());
        }
        return CompletableFuture.allOf(parts).thenApply(v -> ScsiResult.good());
    }

    /**
     * One UNMAP descriptor's range. Unmapping commutes, so a command's descriptors are merged
     * where they overlap or touch and the merged ranges go to the device all at once: a
     * clustered device batches them, where one after another cost a round trip each
     * (docs/decisions/unmap-descriptors-merged.md).
     */
    record UnmapRange(long lba, long blocks) {
        long end() {
            return lba + blocks;
        }

        static List<UnmapRange> merge(List<UnmapRange> extents) {
            List<UnmapRange> sorted = new ArrayList<>(extents);
            sorted.sort(Comparator.comparingLong(UnmapRange::lba));
            List<UnmapRange> out = new ArrayList<>();
            for (UnmapRange e : sorted) {
                UnmapRange last = out.isEmpty() ? null : out.getLast();
                if (last != null && e.lba() <= last.end()) {
                    out.set(out.size() - 1, new UnmapRange(last.lba(), Math.max(last.end(), e.end()) - last.lba()));
                } else {
                    out.add(e);
                }
            }
            return out;
        }
    }

    CompletableFuture<ScsiResult> getLbaStatus(ScsiRequest r) {
        long lba = r.u64(2);
        long alloc = r.u32(10);
        if (lba < 0 || lba >= device.blockCount()) {
            return LogicalUnit.done(ScsiResult.check(Sense.LBA_OUT_OF_RANGE));
        }
        if (alloc < 24) {
            return LogicalUnit.done(ScsiResult.good(InfoCommands.truncate(ByteBuffer.allocate(24), (int) alloc)));
        }
        long maxDescriptors = Math.min((alloc - 8) / 16, 4096);
        return device.getLbaStatus(lba, Math.min(device.blockCount() - lba, LBA_STATUS_SCAN_BYTES_MAX / lu.blockSize()))
                .thenApply(list -> ScsiResult.good(InfoCommands.truncate(lbaStatusData(list, maxDescriptors), (int) alloc)));
    }

    private static ByteBuffer lbaStatusData(List<LbaStatus> list, long maxDescriptors) {
        int n = (int) Math.min(list.size(), maxDescriptors);
        ByteBuffer b = ByteBuffer.allocate(8 + 16 * n);
        b.putInt(0, 4 + 16 * n);
        for (int i = 0; i < n; i++) {
            LbaStatus s = list.get(i);
            b.putLong(8 + 16 * i, s.lba());
            b.putInt(16 + 16 * i, (int) Math.min(s.blockCount(), 0xffffffffL));
            b.put(20 + 16 * i, (byte) (s.provisioning() == LbaStatus.Provisioning.MAPPED ? 0 : 1));
        }
        return b;
    }

    private CompletableFuture<ScsiResult> compareAndWrite(ScsiRequest r) {
        Extent e = new Extent(r.u64(2), r.u8(13), r.u8(1));
        long bytes = 2 * e.blocks() * lu.blockSize();
        if (e.blocks() > LogicalUnit.COMPARE_AND_WRITE_BLOCKS_MAX) {
            return LogicalUnit.done(ScsiResult.check(Sense.invalidCdbField(13)).withDataOutWanted(bytes));
        }
        Sense bad = writeChecks(r, e, bytes);
        if (bad == null && r.dataOut().remaining() != bytes) {
            bad = Sense.INVALID_FIELD_IN_CDB;     // NUMBER OF LOGICAL BLOCKS disagrees with the data sent
        }
        if (bad != null) {
            return LogicalUnit.done(ScsiResult.check(bad).withDataOutWanted(bytes));
        }
        if (e.blocks() == 0) {
            return LogicalUnit.done(ScsiResult.good().withDataOutWanted(0));
        }
        int half = (int) (bytes / 2);
        ByteBuffer all = r.dataOut().slice();
        return device.compareAndWrite(e.lba(), all.slice(0, half), all.slice(half, half)).thenApply(res -> (res.matched()
                ? ScsiResult.good() : ScsiResult.check(Sense.miscompareAt(res.miscompareOffsetBytes()))).withDataOutWanted(bytes));
    }

    private CompletableFuture<ScsiResult> orWrite(ScsiRequest r) {
        Extent e = extent(r);
        long bytes = e.blocks() * lu.blockSize();
        Sense bad = writeChecks(r, e, bytes);
        if (bad != null) {
            return LogicalUnit.done(ScsiResult.check(bad).withDataOutWanted(bytes));
        }
        ByteBuffer mask = truncated(r, bytes);
        if (!mask.hasRemaining()) {
            return LogicalUnit.done(ScsiResult.good().withDataOutWanted(bytes));
        }
        Extent cut = new Extent(e.lba(), mask.remaining() / lu.blockSize(), e.flags());
        return orWriteAttempt(cut, mask, 0).thenApply(v -> ScsiResult.good().withDataOutWanted(bytes));
    }

    /** OR is a read-modify-write; compare-and-write makes it atomic, retried if another write raced. */
    private CompletableFuture<Void> orWriteAttempt(Extent e, ByteBuffer mask, int attempt) {
        return device.read(e.lba(), (int) e.blocks()).thenCompose(old -> {
            ByteBuffer merged = ByteBuffer.allocate(old.remaining());
            for (int i = 0; i < merged.capacity(); i++) {
                merged.put(i, (byte) (old.get(old.position() + i) | mask.get(i)));
            }
            return device.compareAndWrite(e.lba(), old, merged);
        }).thenCompose(res -> {
            if (res.matched()) {
                return CompletableFuture.<Void>completedFuture(null);
            }
            if (attempt + 1 >= ORWRITE_ATTEMPTS_MAX) {
                throw new io.basalt.vdisk.BlockDeviceException(io.basalt.vdisk.BlockDeviceException.Kind.IO,
                        "ORWRITE: lost the race " + ORWRITE_ATTEMPTS_MAX + " times lba=" + e.lba() + " device=" + device.name());
            }
            return orWriteAttempt(e, mask, attempt + 1);
        });
    }

    static Sense firstOf(Sense a, Sense b) {
        return a != null ? a : b;
    }
}
