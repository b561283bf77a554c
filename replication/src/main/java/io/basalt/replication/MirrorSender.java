package io.basalt.replication;

import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

import io.basalt.replication.stream.MirrorFrame;
import io.basalt.replication.stream.MirrorExtent;
import io.basalt.replication.stream.MirrorFrameCodec;
import io.basalt.replication.stream.MirrorStreamWriter;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.Extent;
import io.basalt.vdisk.store.SnapshotInfo;
import io.basalt.vdisk.store.VdiskStore;

/**
 * The primary side: writes the mirror stream that brings a replica of a vdisk from one of its
 * snapshots to a newer one. What changed comes from the store's change index
 * ({@link MirrorStore#diff}, O(changed grains) on the engine and on a cluster); the bytes are
 * read from the newer snapshot through a read-only handle, so the vdisk's head keeps taking
 * writes meanwhile.
 *
 * <p>Data extents go out in pieces of at most {@link #DATA_PIECE_BYTES_MAX}, zero extents (no
 * bytes) of at most {@link #ZEROS_PIECE_BYTES_MAX}; a data frame holds pieces up to
 * {@link MirrorFrameCodec#SECTION_BYTES_MAX}, and the pieces of one frame are read in parallel.
 */
public final class MirrorSender {
    /** One read, and one write on the replica: large enough to stream, small enough to read a frame's worth in parallel. */
    static final int DATA_PIECE_BYTES_MAX = 256 << 10;
    /** A zero extent costs 13 bytes whatever its length; the bound only keeps lengths in a u32 (and block-aligned). */
    static final int ZEROS_PIECE_BYTES_MAX = 1 << 30;

    /** What one stream carried. */
    public record Result(MirrorFrame.Header header, MirrorFrame.End end, long streamBytes) {}

    private final MirrorStore store;
    private final String siteId;
    private final Supplier<UUID> streamIds;

    public MirrorSender(VdiskStore store, String siteId) {
        this(MirrorStore.of(store), siteId, UUID::randomUUID);
    }

    public MirrorSender(MirrorStore store, String siteId) {
        this(store, siteId, UUID::randomUUID);
    }

    /** @param streamIds a new id per stream attempt (a seam for tests) */
    public MirrorSender(VdiskStore store, String siteId, Supplier<UUID> streamIds) {
        this(MirrorStore.of(store), siteId, streamIds);
    }

    /** @param streamIds a new id per stream attempt (a seam for tests) */
    public MirrorSender(MirrorStore store, String siteId, Supplier<UUID> streamIds) {
        if (siteId == null || siteId.isEmpty()) {
            throw new IllegalArgumentException("site id: '" + siteId + "' (expected: a name)");
        }
        this.store = store;
        this.siteId = siteId;
        this.streamIds = streamIds;
    }

    /**
     * Writes to {@code out} the stream from {@code fromSnap} (null: from nothing, a full sync) to
     * {@code toSnap} of {@code vdisk}, as round {@code sequence} of its mirror.
     */
    public Result send(String vdisk, String fromSnap, String toSnap, long sequence, OutputStream out) {
        return send(header(vdisk, fromSnap, toSnap, sequence), out);
    }

    /**
     * The header of the stream from {@code fromSnap} (null: a full sync) to {@code toSnap} of
     * {@code vdisk} as round {@code sequence}, with a new stream id; nothing is sent.
     */
    public MirrorFrame.Header header(String vdisk, String fromSnap, String toSnap, long sequence) {
        MirrorStore.Shape info = store.info(vdisk);
        SnapshotInfo to = store.snapshot(vdisk, toSnap);
        return new MirrorFrame.Header(MirrorFrameCodec.FORMAT_VERSION, siteId, vdisk, info.id(), streamIds.get(),
                sequence, to.sizeBytes(), info.blockSizeBytes(), info.grainSizeBytes(), Optional.ofNullable(fromSnap), toSnap);
    }

    /**
     * Writes the stream {@code header} describes to {@code out}. The bytes depend only on the
     * header and the two snapshots, so sending the same header again writes the same bytes (the
     * network link resumes a cut stream by skipping what the peer already holds).
     */
    public Result send(MirrorFrame.Header header, OutputStream out) {
        if (!header.sourceSite().equals(siteId)) {
            throw new IllegalArgumentException("stream " + header.streamId() + " source site: " + header.sourceSite() + " (expected: " + siteId + ")");
        }
        String vdisk = header.vdiskName();
        long id = store.info(vdisk).id();
        if (id != header.sourceVdiskId()) {
            // Removed and created again since the header was made: another vdisk under the same name.
            throw new IllegalStateException("stream " + header.streamId() + " of vdisk " + vdisk + " id: " + header.sourceVdiskId()
                    + " (expected: " + id + ", the vdisk of that name now)");
        }
        try (BlockDevice snap = store.openSnapshot(vdisk, header.toSnapshot())) {
            List<Extent> changed = store.diff(vdisk, header.fromSnapshot().orElse(null), header.toSnapshot());
            MirrorStreamWriter writer = new MirrorStreamWriter(out, header);
            List<Extent> frame = new ArrayList<>();
            long frameBytes = 0;
            for (Extent e : changed) {
                for (Extent piece : pieces(e)) {
                    long pieceBytes = MirrorFrameCodec.EXTENT_OVERHEAD_BYTES + (piece.data() ? piece.lengthBytes() : 0);
                    if (frameBytes + pieceBytes > MirrorFrameCodec.SECTION_BYTES_MAX || frame.size() == 0xffff) {
                        writer.data(read(snap, frame));
                        frame.clear();
                        frameBytes = 0;
                    }
                    frame.add(piece);
                    frameBytes += pieceBytes;
                }
            }
            if (!frame.isEmpty()) {
                writer.data(read(snap, frame));
            }
            MirrorFrame.End end = writer.end();
            return new Result(header, end, writer.streamBytes());
        }
    }

    /** {@code e} cut into pieces of at most {@link #DATA_PIECE_BYTES_MAX} (data) or {@link #ZEROS_PIECE_BYTES_MAX} (zeros). */
    static List<Extent> pieces(Extent e) {
        long max = e.data() ? DATA_PIECE_BYTES_MAX : ZEROS_PIECE_BYTES_MAX;
        List<Extent> out = new ArrayList<>();
        for (long at = e.offsetBytes(); at < e.offsetBytes() + e.lengthBytes(); at += max) {
            out.add(new Extent(at, Math.min(max, e.offsetBytes() + e.lengthBytes() - at), e.data()));
        }
        return out;
    }

    /** The frame's extents with their bytes, read from the snapshot all at once. */
    private static List<MirrorExtent> read(BlockDevice snap, List<Extent> frame) {
        int block = snap.logicalBlockSizeBytes();
        List<CompletableFuture<ByteBuffer>> reads = new ArrayList<>(frame.size());
        for (Extent e : frame) {
            reads.add(e.data() ? snap.read(e.offsetBytes() / block, Math.toIntExact(e.lengthBytes() / block)) : null);
        }
        List<MirrorExtent> out = new ArrayList<>(frame.size());
        for (int i = 0; i < frame.size(); i++) {
            Extent e = frame.get(i);
            out.add(e.data() ? MirrorExtent.data(e.offsetBytes(), reads.get(i).join())
                    : MirrorExtent.zeros(e.offsetBytes(), Math.toIntExact(e.lengthBytes())));
        }
        return out;
    }
}
