package io.basalt.cluster.meta;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import io.basalt.cluster.Wire;
import io.basalt.cluster.Wire.DecodeException;

/**
 * Read-only questions to the meta group, and their encoding. A query and a list answer start
 * with {@link Wire#VERSION_MARKER} + {@value #VERSION} (0x82; version 2 added the lock table's
 * queries, tags 5..7; version 3 the PR state's, tag 8; version 4 the config records', tag 9; reads versions 0..4); ones written before they had a version start with
 * the query's tag (1..4) or the high byte of the list's count (0), and read as version 0. A single vdisk is answered as a {@link MetaResult}, versioned by {@link MetaCodec}.
 */
public sealed interface MetaQuery {
    /** The query and list-answer format this code writes; it reads this one and version 0. */
    int VERSION = 4;

    /** The vdisk with this name: answered as {@link MetaResult.VdiskChanged} or {@link MetaResult.Rejected}. */
    record VdiskByName(String name) implements MetaQuery {}

    /** Every vdisk, by name. */
    record ListVdisks() implements MetaQuery {}

    /** The node registry, by id. */
    record ListNodes() implements MetaQuery {}

    /** Every node's last space report, by node id. */
    record ListSpaces() implements MetaQuery {}

    /** The lock table's open host sessions, by id. */
    record ListSessions() implements MetaQuery {}

    /** Every vdisk's lock record, by vdisk name. */
    record ListLocks() implements MetaQuery {}

    /** The lock record of one vdisk: a list of none or one. */
    record LockOf(String vdisk) implements MetaQuery {}

    /** The persistent-reservation state of a vdisk's LUN: a list of none (never set) or one {@link PrRecord}. */
    record PrStateOf(String vdisk) implements MetaQuery {}

    /** The config records whose key is {@code prefix} or starts with {@code prefix + "/"} (every one for ""), by key. */
    record ConfigsUnder(String prefix) implements MetaQuery {}

    static byte[] encode(MetaQuery q) {
        return switch (q) {
            case VdiskByName v -> new Wire.Out(32).version(VERSION).u8(1).str(v.name()).toByteArray();
            case ListVdisks l -> new Wire.Out(2).version(VERSION).u8(2).toByteArray();
            case ListNodes l -> new Wire.Out(2).version(VERSION).u8(3).toByteArray();
            case ListSpaces l -> new Wire.Out(2).version(VERSION).u8(4).toByteArray();
            case ListSessions l -> new Wire.Out(2).version(VERSION).u8(5).toByteArray();
            case ListLocks l -> new Wire.Out(2).version(VERSION).u8(6).toByteArray();
            case LockOf l -> new Wire.Out(32).version(VERSION).u8(7).str(l.vdisk()).toByteArray();
            case PrStateOf p -> new Wire.Out(32).version(VERSION).u8(8).str(p.vdisk()).toByteArray();
            case ConfigsUnder c -> new Wire.Out(32).version(VERSION).u8(9).str(c.prefix()).toByteArray();
        };
    }

    static MetaQuery decode(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        checkVersion(in.version(), "meta query");
        int tag = in.u8();
        Wire.checkTag(tag, 9, "meta query");
        MetaQuery q = switch (tag) {
            case 1 -> new VdiskByName(in.str());
            case 2 -> new ListVdisks();
            case 3 -> new ListNodes();
            case 4 -> new ListSpaces();
            case 5 -> new ListSessions();
            case 6 -> new ListLocks();
            case 7 -> new LockOf(in.str());
            case 8 -> new PrStateOf(in.str());
            default -> new ConfigsUnder(in.str());
        };
        in.end("meta query");
        return q;
    }

    /** Answers {@code q} against {@code state}. */
    static byte[] answer(MetaState state, MetaQuery q) {
        return switch (q) {
            case VdiskByName v -> MetaCodec.encode(state.vdisk(v.name())
                    .<MetaResult>map(MetaResult.VdiskChanged::new)
                    .orElseGet(() -> new MetaResult.Rejected("no vdisk named " + v.name())));
            case ListVdisks l -> encodeList(state.vdisks(), MetaCodec::encode);
            case ListNodes l -> encodeList(state.nodes(), MetaCodec::encode);
            case ListSpaces l -> encodeList(state.spaces(), MetaCodec::encode);
            case ListSessions l -> encodeList(List.copyOf(state.sessions()), MetaCodec::encode);
            case ListLocks l -> encodeList(List.copyOf(state.locks()), MetaCodec::encode);
            case LockOf l -> encodeList(state.lock(l.vdisk()).stream().toList(), MetaCodec::encode);
            case PrStateOf p -> encodeList(state.prState(p.vdisk()).stream().toList(), MetaCodec::encode);
            case ConfigsUnder c -> encodeList(state.configsUnder(c.prefix()), MetaCodec::encode);
        };
    }

    static List<NodeRecord> decodeNodes(ByteBuffer bytes) {
        return decodeList(bytes, MetaCodec::decodeNode, "node");
    }

    static List<NodeSpace> decodeSpaces(ByteBuffer bytes) {
        return decodeList(bytes, MetaCodec::decodeSpace, "node space");
    }

    static List<io.basalt.lock.Session> decodeSessions(ByteBuffer bytes) {
        return decodeList(bytes, MetaCodec::decodeSession, "host session");
    }

    static List<io.basalt.lock.VdiskLock> decodeLocks(ByteBuffer bytes) {
        return decodeList(bytes, MetaCodec::decodeLock, "vdisk lock");
    }

    static List<PrRecord> decodePrStates(ByteBuffer bytes) {
        return decodeList(bytes, MetaCodec::decodePr, "pr state");
    }

    static List<ConfigRecord> decodeConfigs(ByteBuffer bytes) {
        return decodeList(bytes, MetaCodec::decodeConfig, "config record");
    }

    static List<VdiskRecord> decodeList(ByteBuffer bytes) {
        return decodeList(bytes, MetaCodec::decodeVdisk, "vdisk");
    }

    /** A count, then each record as length-prefixed bytes. */
    private static <T> byte[] encodeList(List<T> records, java.util.function.Function<T, byte[]> encode) {
        List<byte[]> encoded = records.stream().map(encode).toList();
        Wire.Out out = new Wire.Out(5 + encoded.stream().mapToInt(b -> b.length + 4).sum()).version(VERSION).i32(encoded.size());
        encoded.forEach(b -> out.bytes(ByteBuffer.wrap(b)));
        return out.toByteArray();
    }

    private static <T> List<T> decodeList(ByteBuffer bytes, java.util.function.Function<ByteBuffer, T> decode, String what) {
        Wire.In in = new Wire.In(bytes);
        checkVersion(in.version(), what + " list");
        int n = in.i32();
        if (n < 0 || n > in.remaining()) {
            throw new DecodeException(what + " count: " + n + " (expected: 0.." + in.remaining() + ")");
        }
        List<T> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(decode.apply(in.bytes()));
        }
        in.end(what + " list");
        return out;
    }

    private static void checkVersion(int version, String what) {
        if (version > VERSION) {
            throw Wire.unknownVersion(what, version, "0.." + VERSION);
        }
    }
}
