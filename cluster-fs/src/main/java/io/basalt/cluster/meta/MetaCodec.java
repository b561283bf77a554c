package io.basalt.cluster.meta;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import io.basalt.cluster.Wire;
import io.basalt.cluster.Wire.DecodeException;
import io.basalt.cluster.meta.VdiskRecord.ParentLink;
import io.basalt.cluster.meta.VdiskRecord.SnapshotRecord;
import io.basalt.lock.LockCommand;
import io.basalt.lock.Session;
import io.basalt.lock.VdiskLock;

/**
 * Binary encoding of meta commands, results and records (see {@link Wire}).
 *
 * <p>Format versions. A command (a meta log entry) starts with its version byte, as it always
 * has: {@value #VERSION} since the lock table (a {@link MetaCommand.Lock} is tag 16; tags 7..9 are
 * not used). Version 1 entries, still in logs and snapshots, read too: their session commands
 * (tags 7..9: open, renew, close) become the lock table's. A result starts with
 * {@link Wire#VERSION_MARKER} + {@value #RESULT_VERSION} (0x82: tag 3 is a {@link MetaResult.LockApplied});
 * one of version 1 (0x81) or written before results had a version (starting with its tag, 1..4,
 * version 0) reads too, except a version 0/1 session result (tag 3), which only a node before the
 * lock table sent. Records (vdisk, lock session, vdisk lock, node, space) have no version of their own: they travel
 * inside a versioned command, result or query answer, and are stored in a {@link MetaStore}
 * whose format version covers them. A change to any of these encodings (a new command kind
 * included) takes a new version, which nodes and clients of this version refuse by name.
 */
public final class MetaCodec {
    /**
     * The command (log entry) format this code writes; it reads this one and versions 1..3 (3
     * added tag 17, {@link MetaCommand.SetPrState}; 4 tag 18, {@link MetaCommand.PutConfig}).
     */
    static final int VERSION = 4;
    /** The result format this code writes; it reads this one, version 1 and version 0 (unversioned). */
    static final int RESULT_VERSION = 2;

    private MetaCodec() {}

    // ---- commands ----

    public static byte[] encode(MetaCommand command) {
        Wire.Out out = new Wire.Out(64).u8(VERSION);
        switch (command) {
            case MetaCommand.CreateVdisk c -> out.u8(1).str(c.name()).i64(c.sizeBytes()).i32(c.blockSizeBytes()).i32(c.grainSizeBytes()).i64(c.nowMs());
            case MetaCommand.RemoveVdisk c -> out.u8(2).str(c.name());
            case MetaCommand.ResizeVdisk c -> out.u8(3).str(c.name()).i64(c.newSizeBytes());
            case MetaCommand.CreateSnapshot c -> out.u8(4).str(c.vdiskName()).str(c.snapName()).i64(c.nowMs());
            case MetaCommand.RemoveSnapshot c -> out.u8(5).str(c.vdiskName()).str(c.snapName());
            case MetaCommand.CloneVdisk c -> out.u8(6).str(c.parentName()).str(c.snapName()).str(c.childName()).i64(c.nowMs());
            case MetaCommand.RegisterNode c -> out.u8(10).i32(c.id()).str(c.host()).i32(c.port());
            case MetaCommand.UnregisterNode c -> out.u8(11).i32(c.id());
            case MetaCommand.FlattenVdisk c -> out.u8(12).str(c.name());
            case MetaCommand.ReportSpace c -> out.u8(13).bytes(ByteBuffer.wrap(encode(c.space())));
            case MetaCommand.BeginRollback c -> out.u8(14).str(c.vdiskName()).str(c.snapName());
            case MetaCommand.EndRollback c -> out.u8(15).str(c.vdiskName()).str(c.snapName());
            case MetaCommand.Lock c -> MetaLockCodec.writeCommand(out.u8(16), c.command());
            case MetaCommand.SetPrState c -> out.u8(17).str(c.vdisk()).i64(c.expectedVersion()).bytes(c.state());
            case MetaCommand.PutConfig c -> {
                out.u8(18).str(c.key()).i64(c.expectedVersion()).u8(c.value().isPresent() ? 1 : 0);
                c.value().ifPresent(out::bytes);
            }
        }
        return out.toByteArray();
    }

    public static MetaCommand decodeCommand(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        int version = in.u8();
        if (version < 1 || version > VERSION) {
            throw Wire.unknownVersion("meta command", version, "1.." + VERSION);
        }
        int tag = in.u8();
        Wire.checkTag(tag, version == 1 ? 15 : version == 2 ? 16 : version == 3 ? 17 : 18, "meta command");
        if (version > 1 && tag >= 7 && tag <= 9) {
            throw new DecodeException("meta command tag: " + tag + " (expected: not 7..9 in version " + version + ")");
        }
        MetaCommand c = switch (tag) {
            case 1 -> new MetaCommand.CreateVdisk(in.str(), in.i64(), in.i32(), in.i32(), in.i64());
            case 2 -> new MetaCommand.RemoveVdisk(in.str());
            case 3 -> new MetaCommand.ResizeVdisk(in.str(), in.i64());
            case 4 -> new MetaCommand.CreateSnapshot(in.str(), in.str(), in.i64());
            case 5 -> new MetaCommand.RemoveSnapshot(in.str(), in.str());
            case 6 -> new MetaCommand.CloneVdisk(in.str(), in.str(), in.str(), in.i64());
            case 7 -> new MetaCommand.Lock(new LockCommand.OpenSession(in.str(), in.i64(), in.i64()));
            case 8 -> new MetaCommand.Lock(new LockCommand.RenewSession(in.i64(), in.i64()));
            case 9 -> new MetaCommand.Lock(new LockCommand.CloseSession(in.i64()));
            case 10 -> new MetaCommand.RegisterNode(in.i32(), in.str(), in.i32());
            case 11 -> new MetaCommand.UnregisterNode(in.i32());
            case 12 -> new MetaCommand.FlattenVdisk(in.str());
            case 14 -> new MetaCommand.BeginRollback(in.str(), in.str());
            case 15 -> new MetaCommand.EndRollback(in.str(), in.str());
            case 16 -> new MetaCommand.Lock(MetaLockCodec.readCommand(in));
            case 17 -> new MetaCommand.SetPrState(in.str(), in.i64(), in.bytes());
            case 18 -> putConfig(in);
            default -> new MetaCommand.ReportSpace(decodeSpace(in.bytes()));
        };
        in.end("meta command");
        return c;
    }

    private static MetaCommand.PutConfig putConfig(Wire.In in) {
        String key = in.str();
        long expected = in.i64();
        int present = in.u8();
        if (present > 1) {
            throw new DecodeException("config value flag: " + present + " (expected: 0 or 1) key=" + key);
        }
        java.util.Optional<ByteBuffer> value = present == 1 ? java.util.Optional.of(in.bytes()) : java.util.Optional.empty();
        try {
            return new MetaCommand.PutConfig(key, expected, value);
        } catch (IllegalArgumentException e) {
            throw new DecodeException(e.getMessage());
        }
    }

    // ---- results ----

    public static byte[] encode(MetaResult result) {
        Wire.Out out = new Wire.Out(128).version(RESULT_VERSION);
        switch (result) {
            case MetaResult.Done d -> out.u8(1);
            case MetaResult.VdiskChanged v -> writeVdisk(out.u8(2), v.vdisk());
            case MetaResult.LockApplied l -> MetaLockCodec.writeResult(out.u8(3), l.result());
            case MetaResult.Rejected r -> out.u8(4).str(r.message());
        }
        return out.toByteArray();
    }

    /** Decodes a result of version {@value #RESULT_VERSION} or 1, or one written before results had a version. */
    public static MetaResult decodeResult(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        int version = in.version();
        if (version > RESULT_VERSION) {
            throw Wire.unknownVersion("meta result", version, "0.." + RESULT_VERSION);
        }
        int tag = in.u8();
        Wire.checkTag(tag, 4, "meta result");
        if (tag == 3 && version < 2) {
            throw new DecodeException("meta result: a host session of format version " + version
                    + " (this node reads lock results of version " + RESULT_VERSION + "; the answering node predates the lock table)");
        }
        MetaResult r = switch (tag) {
            case 1 -> new MetaResult.Done();
            case 2 -> new MetaResult.VdiskChanged(readVdisk(in));
            case 3 -> new MetaResult.LockApplied(MetaLockCodec.readResult(in));
            default -> new MetaResult.Rejected(in.str());
        };
        in.end("meta result");
        return r;
    }

    // ---- records ----

    public static byte[] encode(PrRecord r) {
        return new Wire.Out(32 + r.state().remaining()).str(r.vdisk()).i64(r.version()).bytes(r.state()).toByteArray();
    }

    public static PrRecord decodePr(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        PrRecord r = new PrRecord(in.str(), in.i64(), in.bytes());
        in.end("pr record");
        return r;
    }

    public static byte[] encode(ConfigRecord r) {
        return new Wire.Out(32 + r.value().remaining()).str(r.key()).i64(r.version()).bytes(r.value()).toByteArray();
    }

    public static ConfigRecord decodeConfig(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        ConfigRecord r = new ConfigRecord(in.str(), in.i64(), in.bytes());
        in.end("config record");
        return r;
    }

    public static byte[] encode(VdiskRecord v) {
        return writeVdisk(new Wire.Out(128), v).toByteArray();
    }

    public static VdiskRecord decodeVdisk(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        VdiskRecord v = readVdisk(in);
        in.end("vdisk record");
        return v;
    }

    public static byte[] encode(NodeRecord n) {
        return new Wire.Out(32).i32(n.id()).str(n.host()).i32(n.port()).toByteArray();
    }

    public static byte[] encode(NodeSpace s) {
        return new Wire.Out(40).i32(s.nodeId()).i64(s.freeBytes()).i64(s.reserveBytes()).i64(s.totalBytes()).i64(s.reportedMs()).toByteArray();
    }

    public static NodeSpace decodeSpace(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        NodeSpace s = new NodeSpace(in.i32(), in.i64(), in.i64(), in.i64(), in.i64());
        in.end("node space");
        return s; // values are checked where a report is applied (MetaState), as for RegisterNode
    }

    public static NodeRecord decodeNode(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        int id = in.i32();
        String host = in.str();
        int port = in.i32();
        in.end("node record");
        String bad = NodeRecord.check(id, host, port);
        if (bad != null) {
            throw new DecodeException(bad);
        }
        return new NodeRecord(id, host, port);
    }

    public static byte[] encode(Session s) {
        return MetaLockCodec.writeSession(new Wire.Out(64), s).toByteArray();
    }

    public static Session decodeSession(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        Session s = MetaLockCodec.readSession(in);
        in.end("host session");
        return s;
    }

    public static byte[] encode(VdiskLock l) {
        return MetaLockCodec.writeLock(new Wire.Out(64), l).toByteArray();
    }

    public static VdiskLock decodeLock(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        VdiskLock l = MetaLockCodec.readLock(in);
        in.end("vdisk lock");
        return l;
    }

    private static Wire.Out writeVdisk(Wire.Out out, VdiskRecord v) {
        out.i64(v.id()).str(v.name()).i64(v.sizeBytes()).i32(v.blockSizeBytes()).i32(v.grainSizeBytes()).i64(v.rootId());
        out.bool(v.parent().isPresent());
        v.parent().ifPresent(p -> out.i64(p.vdiskId()).str(p.snapName()));
        out.i32(v.snapshots().size());
        for (SnapshotRecord s : v.snapshots()) {
            out.str(s.name()).i64(s.sizeBytes()).i64(s.createdMs());
        }
        out.i64(v.createdMs());
        // Last, so that records written before it existed (ending here) still read: no rollback.
        out.bool(v.rollingBackTo().isPresent());
        v.rollingBackTo().ifPresent(out::str);
        return out;
    }

    private static VdiskRecord readVdisk(Wire.In in) {
        long id = in.i64();
        String name = in.str();
        long size = in.i64();
        int block = in.i32();
        int grain = in.i32();
        long root = in.i64();
        Optional<ParentLink> parent = in.bool() ? Optional.of(new ParentLink(in.i64(), in.str())) : Optional.empty();
        int n = in.i32();
        if (n < 0 || n > MetaState.SNAPSHOTS_PER_VDISK_MAX) {
            throw new DecodeException("snapshot count: " + n + " (expected: 0.." + MetaState.SNAPSHOTS_PER_VDISK_MAX + ") vdisk=" + name);
        }
        List<SnapshotRecord> snaps = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            snaps.add(new SnapshotRecord(in.str(), in.i64(), in.i64()));
        }
        long created = in.i64();
        Optional<String> rollingBackTo = in.remaining() > 0 && in.bool() ? Optional.of(in.str()) : Optional.empty();
        return new VdiskRecord(id, name, size, block, grain, root, parent, snaps, created, rollingBackTo);
    }
}
