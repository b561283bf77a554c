package io.basalt.vdisk.store;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Optional;

/**
 * Binary encoding of the metadata records that describe vdisks: descriptors ({@link VdiskInfo},
 * meta key 'V') and snapshots ({@link SnapshotInfo}, 'S'). Each record starts with its format
 * version; one this code does not know is refused naming both versions, never misread.
 * (Not cluster-fs's {@code MetaCodec}, which encodes the cluster's meta commands and records.)
 */
final class DescriptorCodec {
    /** The record format this code writes and reads. */
    static final byte VERSION = 1;

    private DescriptorCodec() {}

    static byte[] encode(VdiskInfo v) {
        return write(out -> {
            out.writeLong(v.id());
            out.writeUTF(v.name());
            out.writeLong(v.sizeBytes());
            out.writeInt(v.blockSizeBytes());
            out.writeInt(v.grainSizeBytes());
            out.writeLong(v.headEpoch());
            out.writeBoolean(v.parent().isPresent());
            if (v.parent().isPresent()) {
                out.writeLong(v.parent().get().vdiskId());
                out.writeLong(v.parent().get().epoch());
                out.writeUTF(v.parent().get().description());
            }
            out.writeInt(v.chainDepth());
            out.writeLong(v.createdEpochMs());
        });
    }

    static VdiskInfo decodeVdisk(byte[] bytes) {
        return read(bytes, in -> {
            long id = in.readLong();
            String name = in.readUTF();
            long size = in.readLong();
            int block = in.readInt();
            int grain = in.readInt();
            long head = in.readLong();
            Optional<VdiskInfo.ParentLink> parent = Optional.empty();
            if (in.readBoolean()) {
                parent = Optional.of(new VdiskInfo.ParentLink(in.readLong(), in.readLong(), in.readUTF()));
            }
            int depth = in.readInt();
            long created = in.readLong();
            return new VdiskInfo(id, name, size, block, grain, head, parent, depth, created);
        });
    }

    static byte[] encode(SnapshotInfo s) {
        return write(out -> {
            out.writeLong(s.vdiskId());
            out.writeUTF(s.name());
            out.writeLong(s.epoch());
            out.writeLong(s.sizeBytes());
            out.writeLong(s.createdEpochMs());
        });
    }

    static SnapshotInfo decodeSnapshot(byte[] bytes) {
        return read(bytes, in -> new SnapshotInfo(in.readLong(), in.readUTF(), in.readLong(), in.readLong(), in.readLong()));
    }

    private interface Writer {
        void write(DataOutputStream out) throws IOException;
    }

    private interface Reader<T> {
        T read(DataInputStream in) throws IOException;
    }

    private static byte[] write(Writer writer) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(VERSION);
            writer.write(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    private static <T> T read(byte[] bytes, Reader<T> reader) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            byte version = in.readByte();
            if (version != VERSION) {
                throw new IllegalStateException("vdisk metadata record format version " + version + " (this Basalt reads: "
                        + VERSION + "); the store was written by another version of Basalt");
            }
            return reader.read(in);
        } catch (IOException e) {
            throw new IllegalStateException("metadata record does not decode: " + e.getMessage(), e);
        }
    }
}
