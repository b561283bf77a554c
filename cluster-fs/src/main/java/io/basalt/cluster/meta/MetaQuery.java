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

    static byte[] encode(MetaQuery q) {
        return switch (q) {
            case VdiskByName v -> new Wire.Out(32).u8(1).str(v.name()).toByteArray();
            case ListVdisks l -> new Wire.Out(1).u8(2).toByteArray();
            case ListNodes l -> new Wire.Out(1).u8(3).toByteArray();
        };
    }

    static MetaQuery decode(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        int tag = in.u8();
        Wire.checkTag(tag, 3, "meta query");
        MetaQuery q = switch (tag) {
            case 1 -> new VdiskByName(in.str());
            case 2 -> new ListVdisks();
            default -> new ListNodes();
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
            case ListVdisks l -> {
                List<VdiskRecord> all = state.vdisks();
                Wire.Out out = new Wire.Out(64 * all.size() + 4).i32(all.size());
                for (VdiskRecord r : all) {
                    out.bytes(ByteBuffer.wrap(MetaCodec.encode(r)));
                }
                yield out.toByteArray();
            }
            case ListNodes l -> {
                List<NodeRecord> all = state.nodes();
                Wire.Out out = new Wire.Out(32 * all.size() + 4).i32(all.size());
                for (NodeRecord n : all) {
                    out.bytes(ByteBuffer.wrap(MetaCodec.encode(n)));
                }
                yield out.toByteArray();
            }
        };
    }

    static List<NodeRecord> decodeNodes(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        int n = in.i32();
        if (n < 0 || n > in.remaining()) {
            throw new DecodeException("node count: " + n + " (expected: 0.." + in.remaining() + ")");
        }
        List<NodeRecord> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(MetaCodec.decodeNode(in.bytes()));
        }
        in.end("node list");
        return out;
    }

    static List<VdiskRecord> decodeList(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        int n = in.i32();
        if (n < 0 || n > in.remaining()) {
            throw new DecodeException("vdisk count: " + n + " (expected: 0.." + in.remaining() + ")");
        }
        List<VdiskRecord> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(MetaCodec.decodeVdisk(in.bytes()));
        }
        in.end("vdisk list");
        return out;
    }
}
