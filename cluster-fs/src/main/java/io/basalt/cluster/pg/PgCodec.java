package io.basalt.cluster.pg;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import io.basalt.cluster.Wire;
import io.basalt.cluster.Wire.DecodeException;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.CompareResult;
import io.basalt.vdisk.LbaStatus;
import io.basalt.vdisk.store.Extent;

/**
 * Binary encoding of PG log entries (a batch of mutations), queries (a batch of reads) and
 * replies (one result per op, in order). See {@link Wire}.
 *
 * <p>Format versions. An entry or a query starts with its version byte, as it always has:
 * {@value #VERSION} (a batch without a client tag: queries, and untagged entries before fencing),
 * {@value #VERSION_TAGGED} (an entry with its {@link ClientTag} in front of the ops, before
 * fencing), {@value #VERSION_FENCED} and {@value #VERSION_FENCED_TAGGED} (the same two with a
 * fencing token after each {@link PgOp.FencedMutation}'s fields, and {@link PgOp.RaiseFence}, tag
 * 17). This code writes versions 1 (queries only), 3 and 4, and reads 1..4: an op of version 1 or
 * 2, still in logs and snapshots, carries token 0. A reply starts with {@link Wire#VERSION_MARKER}
 * + {@value #REPLY_VERSION} (0x82; version 2 added {@link PgResult.Fenced}, tag 8); a reply of
 * version 1, or written before replies had a version (starting with the high byte of its result
 * count, 0: version 0), reads too (nodes keep replies for client sessions, so such replies are
 * still in stores and snapshots).
 * A change to any of these encodings (a new op or result kind included) takes a new version,
 * which nodes and clients of this version refuse by name rather than misread.
 */
public final class PgCodec {
    /** A batch without a client tag: queries, and entries written before client sessions. */
    static final int VERSION = 1;
    /** An entry with its {@link ClientTag} in front of the ops, written before fencing tokens. */
    static final int VERSION_TAGGED = 2;
    /** An untagged batch holding a mutation: every fenced op carries its token. */
    static final int VERSION_FENCED = 3;
    /** A tagged entry whose fenced ops carry their tokens. */
    static final int VERSION_FENCED_TAGGED = 4;
    /** The reply format this code writes; it reads this one, version 1 and version 0 (unversioned). */
    static final int REPLY_VERSION = 2;
    /** Ops in one entry or query; the group committer stays below this. */
    public static final int BATCH_OPS_MAX = 4096;

    private PgCodec() {}

    public static byte[] encodeBatch(List<? extends PgOp> ops) {
        return encode(null, ops);
    }

    /** An entry tagged with its client session and sequence number (see {@link ClientTag}). */
    public static byte[] encodeEntry(ClientTag tag, List<? extends PgOp> ops) {
        return encode(tag, ops);
    }

    /** Version 1 for a query, 3 for untagged mutations, 4 with a tag in front of the ops. */
    private static byte[] encode(ClientTag tag, List<? extends PgOp> ops) {
        int dataBytes = 0;
        for (PgOp op : ops) {
            dataBytes += op instanceof PgOp.Write w ? w.data().remaining() : 0;
        }
        Wire.Out out = new Wire.Out(48 + dataBytes + 40 * ops.size());
        boolean tokens = tag != null || ops.stream().anyMatch(op -> op instanceof PgOp.Mutation);
        if (tag == null) {
            out.u8(tokens ? VERSION_FENCED : VERSION);
        } else {
            out.u8(VERSION_FENCED_TAGGED).i64(tag.session().getMostSignificantBits()).i64(tag.session().getLeastSignificantBits())
                    .i64(tag.seq()).i64(tag.acked());
        }
        out.i32(ops.size());
        for (PgOp op : ops) {
            write(out, op);
            if (tokens && op instanceof PgOp.FencedMutation f) {
                out.i64(f.token());
            }
        }
        return out.toByteArray();
    }

    /** A decoded log entry: its tag (null for an untagged batch) and its ops. */
    public record Entry(ClientTag tag, List<PgOp> ops) {}

    /** Decodes a log entry, tagged or not; data buffers are views into {@code bytes}. */
    public static Entry decodeEntry(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        int version = in.u8();
        ClientTag tag = null;
        if (version == VERSION_TAGGED || version == VERSION_FENCED_TAGGED) {
            java.util.UUID session = new java.util.UUID(in.i64(), in.i64());
            try {
                tag = new ClientTag(session, in.i64(), in.i64());
            } catch (IllegalArgumentException e) {
                throw new DecodeException(e.getMessage());
            }
        } else if (version != VERSION && version != VERSION_FENCED) {
            throw Wire.unknownVersion("pg entry", version, VERSION + ".." + VERSION_FENCED_TAGGED);
        }
        return new Entry(tag, readOps(in, version >= VERSION_FENCED));
    }

    private static void write(Wire.Out out, PgOp op) {
        switch (op) {
            case PgOp.CreateVdisk c -> out.u8(1).i64(c.vdiskId()).i64(c.sizeBytes()).i32(c.blockSizeBytes())
                    .i32(c.grainSizeBytes()).i64(c.parentId()).str(c.parentSnap());
            case PgOp.Write w -> out.u8(2).i64(w.vdiskId()).i64(w.lba()).bytes(w.data());
            case PgOp.Unmap u -> out.u8(3).i64(u.vdiskId()).i64(u.lba()).i64(u.blockCount());
            case PgOp.WriteZeroes z -> out.u8(4).i64(z.vdiskId()).i64(z.lba()).i64(z.blockCount()).bool(z.unmap());
            case PgOp.CompareAndWrite c -> out.u8(5).i64(c.vdiskId()).i64(c.lba()).bytes(c.expected()).bytes(c.data());
            case PgOp.Resize r -> out.u8(6).i64(r.vdiskId()).i64(r.newSizeBytes());
            case PgOp.Snapshot s -> out.u8(7).i64(s.vdiskId()).str(s.snapName());
            case PgOp.Read r -> out.u8(8).i64(r.vdiskId()).i64(r.lba()).i32(r.blockCount());
            case PgOp.LbaStatus s -> out.u8(9).i64(s.vdiskId()).i64(s.lba()).i64(s.blockCountMax());
            case PgOp.RemoveVdisk r -> out.u8(10).i64(r.vdiskId());
            case PgOp.RemoveSnapshot r -> out.u8(11).i64(r.vdiskId()).str(r.snapName());
            case PgOp.Rollback r -> out.u8(12).i64(r.vdiskId()).str(r.snapName());
            case PgOp.Space q -> out.u8(13).i64(q.vdiskId());
            case PgOp.Diff d -> out.u8(14).i64(d.vdiskId()).str(d.fromSnap()).str(d.toSnap());
            case PgOp.Flatten f -> out.u8(16).i64(f.vdiskId());
            case PgOp.ReadSnapshot r -> out.u8(15).i64(r.vdiskId()).str(r.snapName()).i64(r.lba()).i32(r.blockCount());
            case PgOp.RaiseFence f -> out.u8(17).i64(f.vdiskId()).i64(f.fence());
        }
    }

    /** Decodes a batch; data buffers are views into {@code bytes} (no copy). */
    public static List<PgOp> decodeBatch(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        int version = in.u8();
        if (version != VERSION && version != VERSION_FENCED) {
            throw Wire.unknownVersion("pg query", version, VERSION + " or " + VERSION_FENCED);
        }
        return readOps(in, version == VERSION_FENCED);
    }

    /** {@code tokens}: the batch's version has a token after each fenced op (else they carry 0). */
    private static List<PgOp> readOps(Wire.In in, boolean tokens) {
        int n = in.i32();
        if (n < 0 || n > BATCH_OPS_MAX) {
            throw new DecodeException("pg batch op count: " + n + " (expected: 0.." + BATCH_OPS_MAX + ")");
        }
        List<PgOp> ops = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            ops.add(read(in, tokens));
        }
        in.end("pg batch");
        return ops;
    }

    private static PgOp read(Wire.In in, boolean tokens) {
        int tag = in.u8();
        Wire.checkTag(tag, tokens ? 17 : 16, "pg op");
        return switch (tag) {
            case 1 -> new PgOp.CreateVdisk(in.i64(), in.i64(), in.i32(), in.i32(), in.i64(), in.str());
            case 2 -> new PgOp.Write(in.i64(), in.i64(), in.bytes(), token(in, tokens));
            case 3 -> new PgOp.Unmap(in.i64(), in.i64(), in.i64(), token(in, tokens));
            case 4 -> new PgOp.WriteZeroes(in.i64(), in.i64(), in.i64(), in.bool(), token(in, tokens));
            case 5 -> new PgOp.CompareAndWrite(in.i64(), in.i64(), in.bytes(), in.bytes(), token(in, tokens));
            case 6 -> new PgOp.Resize(in.i64(), in.i64());
            case 7 -> new PgOp.Snapshot(in.i64(), in.str(), token(in, tokens));
            case 8 -> new PgOp.Read(in.i64(), in.i64(), in.i32());
            case 9 -> new PgOp.LbaStatus(in.i64(), in.i64(), in.i64());
            case 10 -> new PgOp.RemoveVdisk(in.i64());
            case 11 -> new PgOp.RemoveSnapshot(in.i64(), in.str());
            case 12 -> new PgOp.Rollback(in.i64(), in.str());
            case 13 -> new PgOp.Space(in.i64());
            case 14 -> new PgOp.Diff(in.i64(), in.str(), in.str());
            case 15 -> new PgOp.ReadSnapshot(in.i64(), in.str(), in.i64(), in.i32());
            case 16 -> new PgOp.Flatten(in.i64());
            default -> raiseFence(in.i64(), in.i64());
        };
    }

    private static long token(Wire.In in, boolean tokens) {
        if (!tokens) {
            return 0;
        }
        long token = in.i64();
        if (token < 0) {
            throw new DecodeException("fencing token: " + token + " (expected: >= 0)");
        }
        return token;
    }

    private static PgOp raiseFence(long vdiskId, long fence) {
        try {
            return new PgOp.RaiseFence(vdiskId, fence);
        } catch (IllegalArgumentException e) {
            throw new DecodeException(e.getMessage());
        }
    }

    // ---- results ----

    public static byte[] encodeResults(List<PgResult> results) {
        ByteBuffer b = encodeResultsBuffer(results);
        return java.util.Arrays.copyOf(b.array(), b.remaining());
    }

    /** As {@link #encodeResults}, without copying the encoding out of its (larger) buffer. */
    public static ByteBuffer encodeResultsBuffer(List<PgResult> results) {
        int dataBytes = 0;
        for (PgResult r : results) {
            dataBytes += r instanceof PgResult.Data d ? d.data().remaining() : 0;
        }
        Wire.Out out = new Wire.Out(8 + dataBytes + 16 * results.size()).version(REPLY_VERSION).i32(results.size());
        for (PgResult r : results) {
            switch (r) {
                case PgResult.Done d -> out.u8(1);
                case PgResult.Compared c -> out.u8(2).bool(c.result().matched()).i64(c.result().miscompareOffsetBytes());
                case PgResult.Data d -> out.u8(3).bytes(d.data());
                case PgResult.Status s -> {
                    out.u8(4).i32(s.runs().size());
                    for (LbaStatus run : s.runs()) {
                        out.i64(run.lba()).i64(run.blockCount()).u8(run.provisioning().ordinal());
                    }
                }
                case PgResult.Space q -> out.u8(6).i64(q.usedBytes()).i64(q.storedBytes()).i64(q.versionCount());
                case PgResult.Extents x -> {
                    out.u8(7).i32(x.extents().size());
                    for (Extent e : x.extents()) {
                        out.i64(e.offsetBytes()).i64(e.lengthBytes()).bool(e.data());
                    }
                }
                case PgResult.Failed f -> out.u8(5).u8(f.kind() == null ? 0 : f.kind().ordinal() + 1).str(truncate(f.message()));
                case PgResult.Fenced f -> out.u8(8).i64(f.vdiskId()).i64(f.token()).i64(f.fence());
            }
        }
        return ByteBuffer.wrap(out.array(), 0, out.sizeBytes());
    }

    /** Decodes a reply of version {@value #REPLY_VERSION} or 1, or one written before replies had a version. */
    public static List<PgResult> decodeResults(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        int version = in.version();
        if (version > REPLY_VERSION) {
            throw Wire.unknownVersion("pg reply", version, "0.." + REPLY_VERSION);
        }
        int n = in.i32();
        if (n < 0 || n > BATCH_OPS_MAX) {
            throw new DecodeException("pg result count: " + n + " (expected: 0.." + BATCH_OPS_MAX + ")");
        }
        List<PgResult> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int tag = in.u8();
            Wire.checkTag(tag, version >= 2 ? 8 : 7, "pg result");
            out.add(switch (tag) {
                case 1 -> new PgResult.Done();
                case 2 -> new PgResult.Compared(in.bool() ? nextMatched(in) : CompareResult.miscompareAt(in.i64()));
                case 3 -> new PgResult.Data(in.bytes());
                case 4 -> new PgResult.Status(readRuns(in));
                case 5 -> new PgResult.Failed(kind(in.u8()), in.str());
                case 6 -> new PgResult.Space(in.i64(), in.i64(), in.i64());
                case 7 -> new PgResult.Extents(readExtents(in));
                default -> new PgResult.Fenced(in.i64(), in.i64(), in.i64());
            });
        }
        in.end("pg results");
        return out;
    }

    private static CompareResult nextMatched(Wire.In in) {
        in.i64();
        return CompareResult.MATCHED;
    }

    private static List<LbaStatus> readRuns(Wire.In in) {
        int n = in.i32();
        if (n < 0 || n > in.remaining() / 17) {
            throw new DecodeException("lba status run count: " + n + " (expected: 0.." + in.remaining() / 17 + ")");
        }
        List<LbaStatus> runs = new ArrayList<>(n);
        LbaStatus.Provisioning[] kinds = LbaStatus.Provisioning.values();
        for (int i = 0; i < n; i++) {
            long lba = in.i64();
            long count = in.i64();
            int k = in.u8();
            if (k >= kinds.length) {
                throw new DecodeException("provisioning: " + k + " (expected: < " + kinds.length + ")");
            }
            runs.add(new LbaStatus(lba, count, kinds[k]));
        }
        return runs;
    }

    private static List<Extent> readExtents(Wire.In in) {
        int n = in.i32();
        if (n < 0 || n > in.remaining() / 17) {
            throw new DecodeException("extent count: " + n + " (expected: 0.." + in.remaining() / 17 + ")");
        }
        List<Extent> extents = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            long offset = in.i64();
            long length = in.i64();
            if (offset < 0 || length <= 0) {
                throw new DecodeException("extent: offset " + offset + " length " + length + " (expected: offset >= 0, length > 0)");
            }
            extents.add(new Extent(offset, length, in.bool()));
        }
        return extents;
    }

    private static BlockDeviceException.Kind kind(int code) {
        BlockDeviceException.Kind[] kinds = BlockDeviceException.Kind.values();
        if (code > kinds.length) {
            throw new DecodeException("failure kind: " + code + " (expected: 0.." + kinds.length + ")");
        }
        return code == 0 ? null : kinds[code - 1];
    }

    private static String truncate(String s) {
        String m = s == null ? "" : s;
        return m.length() > 1000 ? m.substring(0, 1000) + "..." : m;
    }
}
