package io.basalt.cluster.meta;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import io.basalt.cluster.Wire;
import io.basalt.cluster.Wire.DecodeException;

/** Read-only questions to the meta group, and their encoding. */
public sealed interface MetaQuery {

    /** The vdisk with this name: answered as {@link MetaResult.VdiskChanged} or {@link MetaResult.Rejected}. */
    record VdiskByName(String name) implements MetaQuery {}

    /** Every vdisk, by name. */
    record ListVdisks() implements MetaQuery {}

    /** The node registry, by id. */
    record ListNodes() implements MetaQuery {}

    /** Every node's last space report, by node id. */
    record ListSpaces() implements MetaQuery {}

    static byte[] encode(MetaQuery q) {
        return switch (q) {
            case VdiskByName v -> new Wire.Out(32).u8(1).str(v.name()).toByteArray();
            case ListVdisks l -> new Wire.Out(1).u8(2).toByteArray();
            case ListNodes l -> new Wire.Out(1).u8(3).toByteArray();
            case ListSpaces l -> new Wire.Out(1).u8(4).toByteArray();
        };
    }

    static MetaQuery decode(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        int tag = in.u8();
        Wire.checkTag(tag, 4, "meta query");
        MetaQuery q = switch (tag) {
            case 1 -> new VdiskByName(in.str());
            case 2 -> new ListVdisks();
            case 3 -> new ListNodes();
            default -> new ListSpaces();
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
        };
    }

    static List<NodeRecord> decodeNodes(ByteBuffer bytes) {
        return decodeList(bytes, MetaCodec::decodeNode, "node");
    }

    static List<NodeSpace> decodeSpaces(ByteBuffer bytes) {
        return decodeList(bytes, MetaCodec::decodeSpace, "node space");
    }

    static List<VdiskRecord> decodeList(ByteBuffer bytes) {
        return decodeList(bytes, MetaCodec::decodeVdisk, "vdisk");
    }

    /** A count, then each record as length-prefixed bytes. */
    private static <T> byte[] encodeList(List<T> records, java.util.function.Function<T, byte[]> encode) {
        List<byte[]> encoded = records.stream().map(encode).toList();
        Wire.Out out = new Wire.Out(4 + encoded.stream().mapToInt(b -> b.length + 4).sum()).i32(encoded.size());
        encoded.forEach(b -> out.bytes(ByteBuffer.wrap(b)));
        return out.toByteArray();
    }

    private static <T> List<T> decodeList(ByteBuffer bytes, java.util.function.Function<ByteBuffer, T> decode, String what) {
        Wire.In in = new Wire.In(bytes);
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
}
