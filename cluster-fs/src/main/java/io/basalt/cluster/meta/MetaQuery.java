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

    static byte[] encode(MetaQuery q) {
        return switch (q) {
            case VdiskByName v -> new Wire.Out(32).u8(1).str(v.name()).toByteArray();
            case ListVdisks l -> new Wire.Out(1).u8(2).toByteArray();
        };
    }

    static MetaQuery decode(ByteBuffer bytes) {
        Wire.In in = new Wire.In(bytes);
        int tag = in.u8();
        Wire.checkTag(tag, 2, "meta query");
        MetaQuery q = tag == 1 ? new VdiskByName(in.str()) : new ListVdisks();
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
        };
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
