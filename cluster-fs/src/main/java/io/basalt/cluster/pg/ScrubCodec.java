package io.basalt.cluster.pg;

import java.nio.ByteBuffer;

import io.basalt.cluster.Wire;
import io.basalt.cluster.Wire.DecodeException;

/**
 * The scrub's messages to one replica of a placement group, sent as Ratis stale reads to that
 * replica (docs/decisions/scrub-and-repair.md): a grain version's stored frame, for a repair; and
 * the replica's scrub counters, optionally starting a pass. They start with {@link #MAGIC}, a
 * byte no {@link PgCodec} batch starts with, so a node of a version before the scrub refuses one
 * by name ("pg query version 83") rather than misreading it; the replies have a version of their
 * own ({@link #VERSION}).
 */
public final class ScrubCodec {
    /** 'S': not a {@link PgCodec} batch version (1..4). */
    static final int MAGIC = 0x53;
    static final int VERSION = 1;

    private ScrubCodec() {}

    /** A scrub request to one replica. */
    public sealed interface Request {}

    /** The stored frame of cluster vdisk {@code vdiskId}'s grain {@code grain} at epoch {@code epoch}. */
    public record ReadFrame(long vdiskId, long grain, long epoch) implements Request {}

    /** The replica's scrub counters; with {@code start}, a pass of vdisk {@code onlyVdiskId} (-1: all) is asked for first. */
    public record Control(boolean start, long onlyVdiskId) implements Request {}

    /**
     * Test only, refused unless the node runs with {@link BitRotForTest#PROPERTY}: flip a bit in
     * the stored frame of the newest version of cluster vdisk {@code vdiskId}'s grain {@code grain}
     * on this replica, as a disk rotting under RocksDB's checksums would (the chaos runs' bit-rot
     * nemesis, docs/chaos.md).
     */
    public record RotForTest(long vdiskId, long grain) implements Request {}

    /** What a {@link RotForTest} did: the version rotted ({@code epoch}, -1 and no frame when the grain has no stored version) and its rotten bytes. */
    public record Rotted(long appliedIndex, long epoch, ByteBuffer frame) {
        public boolean present() {
            return epoch >= 0;
        }
    }

    /**
     * A replica's frame of one version as of its applied index {@code appliedIndex} (read under
     * its apply lock, so the two belong together); {@code frame} is empty when it holds no such
     * version.
     */
    public record FrameReply(long appliedIndex, boolean present, ByteBuffer frame) {}

    public static boolean isScrub(ByteBuffer request) {
        return request.remaining() > 0 && (request.get(request.position()) & 0xff) == MAGIC;
    }

    public static byte[] encode(Request r) {
        Wire.Out out = new Wire.Out(32).u8(MAGIC).u8(VERSION);
        switch (r) {
            case ReadFrame f -> out.u8(1).i64(f.vdiskId()).i64(f.grain()).i64(f.epoch());
            case Control c -> out.u8(2).bool(c.start()).i64(c.onlyVdiskId());
            case RotForTest t -> out.u8(3).i64(t.vdiskId()).i64(t.grain());
        }
        return out.toByteArray();
    }

    public static Request decode(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        if (in.u8() != MAGIC) {
            throw new DecodeException("scrub request: no magic byte " + MAGIC);
        }
        int version = in.u8();
        if (version != VERSION) {
            throw Wire.unknownVersion("scrub request", version, String.valueOf(VERSION));
        }
        int tag = in.u8();
        Wire.checkTag(tag, 3, "scrub request");
        Request r = switch (tag) {
            case 1 -> new ReadFrame(in.i64(), in.i64(), in.i64());
            case 2 -> new Control(in.bool(), in.i64());
            default -> new RotForTest(in.i64(), in.i64());
        };
        in.end("scrub request");
        return r;
    }

    public static ByteBuffer encodeFrame(FrameReply f) {
        Wire.Out out = new Wire.Out(32 + f.frame().remaining()).u8(VERSION).i64(f.appliedIndex()).bool(f.present()).bytes(f.frame());
        return ByteBuffer.wrap(out.toByteArray());
    }

    public static FrameReply decodeFrame(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        checkVersion(in.u8(), "scrub frame reply");
        FrameReply f = new FrameReply(in.i64(), in.bool(), in.bytes());
        in.end("scrub frame reply");
        return f;
    }

    public static ByteBuffer encodeRotted(Rotted r) {
        Wire.Out out = new Wire.Out(32 + r.frame().remaining()).u8(VERSION).i64(r.appliedIndex()).i64(r.epoch()).bytes(r.frame());
        return ByteBuffer.wrap(out.toByteArray());
    }

    public static Rotted decodeRotted(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        checkVersion(in.u8(), "scrub rot reply");
        Rotted r = new Rotted(in.i64(), in.i64(), in.bytes());
        in.end("scrub rot reply");
        return r;
    }

    public static ByteBuffer encodeStats(PgScrubState.Stats s) {
        Wire.Out out = new Wire.Out(96).u8(VERSION).i32(s.pg()).i64(s.passCount()).i64(s.lastPassEndMillis()).i64(s.grainsChecked())
                .i64(s.bytesChecked()).i64(s.badFound()).i64(s.repaired()).i64(s.unrepairable()).bool(s.running());
        return ByteBuffer.wrap(out.toByteArray());
    }

    public static PgScrubState.Stats decodeStats(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        checkVersion(in.u8(), "scrub stats reply");
        PgScrubState.Stats s = new PgScrubState.Stats(in.i32(), in.i64(), in.i64(), in.i64(), in.i64(), in.i64(), in.i64(), in.i64(), in.bool());
        in.end("scrub stats reply");
        return s;
    }

    private static void checkVersion(int version, String what) {
        if (version != VERSION) {
            throw Wire.unknownVersion(what, version, String.valueOf(VERSION));
        }
    }
}
