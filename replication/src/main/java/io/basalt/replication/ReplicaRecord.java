package io.basalt.replication;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.UUID;

import io.basalt.replication.stream.MirrorFrame;

/**
 * What a replica vdisk mirrors and how far it got, stored in the engine as the replica's record
 * ({@code VdiskStore#createReplica}) and replaced in the same batch as each mirror snapshot it
 * completes ({@code ReplicaWriter#commitSnapshot}), so the two never disagree after a crash.
 *
 * @param sourceSite     the site whose vdisk this mirrors
 * @param sourceVdiskId  that vdisk's id in its site's store (a vdisk removed and created again there is another vdisk)
 * @param lastSnapshot   the last complete mirror snapshot; empty until the first full sync completed
 * @param lastSequence   its round number; 0 before the first
 * @param lastStreamId   the stream attempt that completed it; empty before the first
 */
public record ReplicaRecord(String sourceSite, long sourceVdiskId, Optional<String> lastSnapshot, long lastSequence,
                            Optional<UUID> lastStreamId) {
    /** The format of {@link #encode()}; one this code does not know is refused, never misread. */
    static final byte VERSION = 1;

    public ReplicaRecord {
        if (lastSequence < 0 || lastSnapshot.isPresent() != (lastSequence > 0) || lastSnapshot.isPresent() != lastStreamId.isPresent()) {
            throw new IllegalArgumentException("replica record: snapshot " + lastSnapshot + ", sequence " + lastSequence + ", stream "
                    + lastStreamId + " (expected: all three set, sequence >= 1, or none, sequence 0)");
        }
    }

    /** A replica created for a first full sync: nothing complete yet. */
    static ReplicaRecord fresh(String sourceSite, long sourceVdiskId) {
        return new ReplicaRecord(sourceSite, sourceVdiskId, Optional.empty(), 0, Optional.empty());
    }

    /** This replica once {@code header}'s stream is applied and its snapshot taken. */
    ReplicaRecord completed(MirrorFrame.Header header) {
        return new ReplicaRecord(sourceSite, sourceVdiskId, Optional.of(header.toSnapshot()), header.sequence(), Optional.of(header.streamId()));
    }

    byte[] encode() {
        byte[] site = sourceSite.getBytes(StandardCharsets.UTF_8);
        byte[] snap = lastSnapshot.orElse("").getBytes(StandardCharsets.UTF_8);
        UUID stream = lastStreamId.orElse(new UUID(0, 0));
        return ByteBuffer.allocate(1 + 2 + site.length + 8 + 2 + snap.length + 8 + 16)
                .put(VERSION).putShort((short) site.length).put(site).putLong(sourceVdiskId)
                .putShort((short) snap.length).put(snap).putLong(lastSequence)
                .putLong(stream.getMostSignificantBits()).putLong(stream.getLeastSignificantBits()).array();
    }

    static ReplicaRecord decode(String vdisk, byte[] bytes) {
        try {
            ByteBuffer in = ByteBuffer.wrap(bytes);
            byte version = in.get();
            if (version != VERSION) {
                throw new IllegalStateException("replica record of vdisk " + vdisk + " format version " + version
                        + " (this Basalt reads: " + VERSION + ")");
            }
            String site = string(in);
            long vdiskId = in.getLong();
            String snap = string(in);
            long sequence = in.getLong();
            UUID stream = new UUID(in.getLong(), in.getLong());
            if (in.hasRemaining()) {
                throw new IllegalStateException("replica record of vdisk " + vdisk + ": " + in.remaining() + " bytes after its end");
            }
            return sequence == 0 ? fresh(site, vdiskId)
                    : new ReplicaRecord(site, vdiskId, Optional.of(snap), sequence, Optional.of(stream));
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw new IllegalStateException("replica record of vdisk " + vdisk + " does not decode (" + bytes.length + " bytes): " + e, e);
        }
    }

    private static String string(ByteBuffer in) {
        byte[] b = new byte[Short.toUnsignedInt(in.getShort())];
        in.get(b);
        return new String(b, StandardCharsets.UTF_8);
    }
}
