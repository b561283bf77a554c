package io.basalt.iscsi.scsi;

import io.basalt.vdisk.BlockDevice;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (SPC-4 §6.4, §6.18) between LUs of one target:
 * identification CSCD descriptors (E4h) naming LUs by their NAA designator, and block-to-block
 * segment descriptors (02h). The copy runs in bounded chunks, read then write, one at a time.
 * Results of the last few copies per I_T nexus are held for COPY STATUS.
 */
public final class CopyManager {

    static final int CSCD_DESCRIPTORS_MAX = 2;
    static final int SEGMENT_DESCRIPTORS_MAX = 8;
    static final int DESCRIPTOR_LIST_BYTES_MAX = 1024;
    static final int SEGMENT_BYTES_MAX = 64 << 20;
    private static final int CHUNK_BYTES = 1 << 20;
    private static final int HEADER_BYTES = 16;
    private static final int CSCD_BYTES = 32;
    private static final int SEGMENT_BYTES = 28;
    private static final int TYPE_IDENTIFICATION = 0xe4;
    private static final int TYPE_BLOCK_TO_BLOCK = 0x02;
    private static final int HELD_RESULTS_MAX = 16;
    private static final Sense COPY_TARGET_UNREACHABLE = Sense.of(0x0a, 0x0d, 0x02);
    private static final Sense COPY_ABORTED = Sense.of(0x0a, 0x00, 0x00);

    private record Segment(int source, int destination, long blocks, long sourceLba, long destinationLba) {
    }

    private record Held(Nexus nexus, int listId) {
    }

    /** Completed copies, oldest first; bounded. Guarded by {@code this}. */
    private final Map<Held, long[]> results = new LinkedHashMap<>();

    CompletableFuture<ScsiResult> execute(LogicalUnit lu, ScsiRequest r) {
        if (r.opcode() == Opcodes.EXTENDED_COPY) {
            return (r.u8(1) & 0x1f) == Opcodes.SA_XCOPY_LID1 ? extendedCopy(lu, r)
                    : LogicalUnit.done(ScsiResult.check(Sense.invalidCdbField(1)));
        }
        return LogicalUnit.done(switch (r.u8(1) & 0x1f) {
            case Opcodes.SA_COPY_STATUS -> copyStatus(r);
            case Opcodes.SA_OPERATING_PARAMETERS -> operatingParameters(r);
            default -> ScsiResult.check(Sense.invalidCdbField(1));
        });
    }

    private CompletableFuture<ScsiResult> extendedCopy(LogicalUnit lu, ScsiRequest r) {
        ByteBuffer p = r.dataOut().slice();
        int length = (int) Math.min(r.u32(10), p.remaining());
        if (length == 0) {
            return LogicalUnit.done(ScsiResult.good());
        }
        if (length < HEADER_BYTES) {
            return LogicalUnit.done(ScsiResult.check(Sense.PARAMETER_LIST_LENGTH_ERROR));
        }
        int cscdBytes = p.getShort(2) & 0xffff;
        long segmentBytes = p.getInt(8) & 0xffffffffL;
        long inlineBytes = p.getInt(12) & 0xffffffffL;
        Sense bad = checkLengths(length, cscdBytes, segmentBytes, inlineBytes);
        if (bad != null) {
            return LogicalUnit.done(ScsiResult.check(bad));
        }
        List<LogicalUnit> cscds = new ArrayList<>();
        bad = parseCscds(lu, p, cscdBytes, cscds);
        List<Segment> segments = new ArrayList<>();
        if (bad == null) {
            bad = parseSegments(p, HEADER_BYTES + cscdBytes, (int) segmentBytes, segments);
        }
        if (bad == null) {
            bad = checkSegments(cscds, segments);
        }
        if (bad != null) {
            return LogicalUnit.done(ScsiResult.check(bad));
        }
        int listId = p.get(0) & 0xff;
        boolean hold = ((p.get(1) >> 3) & 3) == 0;
        return copyAll(r.nexus(), cscds, segments).thenApply(bytes -> {
            if (hold) {
                remember(new Held(r.nexus(), listId), segments.size(), bytes);
            }
            return ScsiResult.good();
        });
    }

    private static Sense checkLengths(int length, int cscdBytes, long segmentBytes, long inlineBytes) {
        if (cscdBytes + segmentBytes > DESCRIPTOR_LIST_BYTES_MAX) {
            return Sense.PARAMETER_LIST_LENGTH_ERROR;
        }
        if (HEADER_BYTES + cscdBytes + segmentBytes + inlineBytes > length) {
            return Sense.PARAMETER_LIST_LENGTH_ERROR;
        }
        if (inlineBytes != 0) {
            return Sense.invalidParameterField(12);
        }
        if (cscdBytes % CSCD_BYTES != 0) {
            return Sense.PARAMETER_LIST_LENGTH_ERROR;
        }
        if (cscdBytes / CSCD_BYTES > CSCD_DESCRIPTORS_MAX) {
            return Sense.TOO_MANY_TARGET_DESCRIPTORS;
        }
        return null;
    }

    /** Resolves each identification descriptor to an LU of this target (null when none matches). */
    private static Sense parseCscds(LogicalUnit lu, ByteBuffer p, int cscdBytes, List<LogicalUnit> out) {
        for (int at = HEADER_BYTES; at < HEADER_BYTES + cscdBytes; at += CSCD_BYTES) {
            int type = p.get(at) & 0xff;
            if (type != TYPE_IDENTIFICATION) {
                return Sense.UNSUPPORTED_TARGET_DESCRIPTOR;
            }
            if ((p.get(at + 1) & 0x1f) != 0) {
                return Sense.invalidParameterField(at + 1);     // only block devices
            }
            out.add(findByDesignator(lu.target(), p, at + 4));
        }
        return null;
    }

    private static LogicalUnit findByDesignator(LogicalUnit.TargetInfo target, ByteBuffer p, int at) {
        int type = p.get(at + 1) & 0x0f;
        int length = p.get(at + 3) & 0xff;
        if (type != 0x03 || length != 16) {
            return null;
        }
        byte[] id = new byte[16];
        p.get(at + 4, id);
        for (int n : target.luns()) {
            LogicalUnit candidate = target.lun(n);
            if (Arrays.equals(id, InfoCommands.naaDesignator(candidate))) {
                return candidate;
            }
        }
        return null;
    }

    private static Sense parseSegments(ByteBuffer p, int start, int bytes, List<Segment> out) {
        int at = start;
        while (at < start + bytes) {
            int type = p.get(at) & 0xff;
            if (type != TYPE_BLOCK_TO_BLOCK) {
                return Sense.UNSUPPORTED_SEGMENT_DESCRIPTOR;
            }
            if (out.size() == SEGMENT_DESCRIPTORS_MAX) {
                return Sense.TOO_MANY_SEGMENT_DESCRIPTORS;
            }
            if (at + SEGMENT_BYTES > start + bytes || (p.getShort(at + 2) & 0xffff) != SEGMENT_BYTES - 4) {
                return Sense.PARAMETER_LIST_LENGTH_ERROR;
            }
            out.add(new Segment(p.getShort(at + 4) & 0xffff, p.getShort(at + 6) & 0xffff, p.getShort(at + 10) & 0xffff,
                    p.getLong(at + 12), p.getLong(at + 20)));
            at += SEGMENT_BYTES;
        }
        return null;
    }

    private static Sense checkSegments(List<LogicalUnit> cscds, List<Segment> segments) {
        for (Segment s : segments) {
            if (s.source >= cscds.size() || s.destination >= cscds.size() || cscds.get(s.source) == null
                    || cscds.get(s.destination) == null) {
                return COPY_TARGET_UNREACHABLE;
            }
            LogicalUnit src = cscds.get(s.source);
            LogicalUnit dst = cscds.get(s.destination);
            if (src.blockSize() != dst.blockSize() || s.blocks * src.blockSize() > SEGMENT_BYTES_MAX
                    || outOfRange(src, s.sourceLba, s.blocks) || outOfRange(dst, s.destinationLba, s.blocks)) {
                return COPY_ABORTED;
            }
            if (dst.writeProtected()) {
                return dst.writeProtectSense();
            }
        }
        return null;
    }

    private static boolean outOfRange(LogicalUnit lu, long lba, long blocks) {
        long count = lu.device().blockCount();
        return lba < 0 || lba > count || blocks > count - lba;
    }

    /**
     * Copies every segment in order, chunk by chunk, through the devices the requesting session
     * uses for the two LUs (so a per-session device's fencing applies to copies too); completes
     * with the bytes copied.
     */
    private static CompletableFuture<Long> copyAll(Nexus nexus, List<LogicalUnit> cscds, List<Segment> segments) {
        CompletableFuture<Long> f = CompletableFuture.completedFuture(0L);
        for (Segment s : segments) {
            LogicalUnit src = cscds.get(s.source);
            LogicalUnit dst = cscds.get(s.destination);
            f = f.thenCompose(total -> src.onSessionDevice(nexus, from -> dst.onSessionDevice(nexus, to -> copySegment(s, src, dst, from, to)))
                    .thenApply(bytes -> total + bytes));
        }
        return f;
    }

    private static CompletableFuture<Long> copySegment(Segment s, LogicalUnit src, LogicalUnit dst, BlockDevice from, BlockDevice to) {
        CompletableFuture<Long> f = CompletableFuture.completedFuture(0L);
        int chunkBlocks = CHUNK_BYTES / src.blockSize();
        for (long done = 0; done < s.blocks; done += chunkBlocks) {
            long offset = done;
            int n = (int) Math.min(chunkBlocks, s.blocks - done);
            f = f.thenCompose(total -> from.read(s.sourceLba + offset, n)
                    .thenCompose(data -> to.write(s.destinationLba + offset, data, !dst.writeCacheEnabled()))
                    .thenApply(v -> total + (long) n * src.blockSize()));
        }
        return f;
    }

    private synchronized void remember(Held key, int segments, long bytes) {
        results.remove(key);
        results.put(key, new long[] {segments, bytes});
        if (results.size() > HELD_RESULTS_MAX) {
            results.remove(results.keySet().iterator().next());
        }
    }

    private ScsiResult copyStatus(ScsiRequest r) {
        long[] done;
        synchronized (this) {
            done = results.get(new Held(r.nexus(), r.u8(2)));
        }
        if (done == null) {
            return ScsiResult.check(Sense.invalidCdbField(2));
        }
        ByteBuffer b = ByteBuffer.allocate(12);
        b.putInt(0, 8);
        b.put(4, (byte) 0x01);                              // completed, good
        b.putShort(5, (short) done[0]);
        b.put(7, (byte) 0x01);                              // transfer count in KiB
        b.putInt(8, (int) Math.min(done[1] >> 10, 0xffffffffL));
        return ScsiResult.good(InfoCommands.truncate(b, (int) Math.min(r.u32(10), Integer.MAX_VALUE)));
    }

    private static ScsiResult operatingParameters(ScsiRequest r) {
        ByteBuffer b = ByteBuffer.allocate(46);
        b.putInt(0, 42);
        b.put(4, (byte) 0x01);                              // SNLID
        b.putShort(8, (short) CSCD_DESCRIPTORS_MAX);
        b.putShort(10, (short) SEGMENT_DESCRIPTORS_MAX);
        b.putInt(12, DESCRIPTOR_LIST_BYTES_MAX);
        b.putInt(16, SEGMENT_BYTES_MAX);
        b.putShort(34, (short) 1);
        b.put(36, (byte) 1);
        b.put(37, (byte) 9);                                // data segment granularity: 512 bytes
        b.put(43, (byte) 2);
        b.put(44, (byte) TYPE_BLOCK_TO_BLOCK);
        b.put(45, (byte) TYPE_IDENTIFICATION);
        return ScsiResult.good(InfoCommands.truncate(b, (int) Math.min(r.u32(10), Integer.MAX_VALUE)));
    }
}
