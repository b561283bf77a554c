package io.basalt.replication.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

class MirrorFrameCodecProperties {

    @Property(tries = 300)
    void everyFrameDecodesToWhatWasEncoded(@ForAll("frames") MirrorFrame frame) {
        assertEquals(frame, MirrorFrameCodec.decode(MirrorFrameCodec.encode(frame)));
    }

    @Property(tries = 500)
    void anySingleFlippedBitInAFrameIsRefused(@ForAll("frames") MirrorFrame frame, @ForAll @IntRange(min = 0, max = Integer.MAX_VALUE - 1) int where) {
        byte[] bytes = MirrorFrameCodec.encode(frame);
        int bit = where % (bytes.length * 8);
        bytes[bit / 8] ^= (byte) (1 << (bit % 8));
        MirrorException e = assertThrows(MirrorException.class, () -> MirrorFrameCodec.decode(bytes), "bit " + bit + " flipped");
        assertEquals(MirrorException.Reason.BAD_FRAME, e.reason());
    }

    @Property(tries = 100)
    void aStreamReadInPiecesOfAnySizeGivesBackItsFramesAndTotals(@ForAll("dataFrames") List<List<MirrorExtent>> frames,
                                                                 @ForAll @IntRange(min = 1, max = 97) int pieceBytes) {
        MirrorFrame.Header header = header(Optional.of("mirror-1"), 1L << 40);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        MirrorStreamWriter writer = new MirrorStreamWriter(out, header);
        List<MirrorExtent> ascending = new ArrayList<>();
        long at = 0;
        for (List<MirrorExtent> frame : frames) {
            List<MirrorExtent> placed = new ArrayList<>();
            for (MirrorExtent e : frame) {
                placed.add(new MirrorExtent(at, e.lengthBytes(), e.data()));
                at += e.lengthBytes() + 4096;
            }
            writer.data(placed);
            ascending.addAll(placed);
        }
        MirrorFrame.End end = writer.end();

        MirrorStreamReader reader = new MirrorStreamReader(trickle(out.toByteArray(), pieceBytes));
        assertEquals(header, reader.header());
        List<MirrorExtent> read = new ArrayList<>();
        for (MirrorFrame.Data d = reader.next(); d != null; d = reader.next()) {
            read.addAll(d.extents());
        }
        assertEquals(ascending, read);
        assertEquals(end, reader.end());
        assertEquals(out.size(), reader.streamBytes());
    }

    // ---- generators ----

    static MirrorFrame.Header header(Optional<String> from, long sizeBytes) {
        return new MirrorFrame.Header(MirrorFrameCodec.FORMAT_VERSION, "site-a", "web1", 7, new UUID(1, 2), 2, sizeBytes, 512, 4096,
                from, "mirror-2");
    }

    /** An InputStream that never returns more than {@code pieceBytes} per read, as a socket may. */
    static InputStream trickle(byte[] bytes, int pieceBytes) {
        ByteArrayInputStream all = new ByteArrayInputStream(bytes);
        return new InputStream() {
            @Override
            public int read() {
                return all.read();
            }

            @Override
            public int read(byte[] b, int off, int len) {
                return all.read(b, off, Math.min(len, pieceBytes));
            }
        };
    }

    @Provide
    Arbitrary<MirrorFrame> frames() {
        return Arbitraries.oneOf(headers(), dataFrames().map(f -> new MirrorFrame.Data(1, f.get(0))), ends());
    }

    private Arbitrary<MirrorFrame> headers() {
        Arbitrary<String> names = Arbitraries.strings().withChars("abcxyz019.-_").ofMinLength(1).ofMaxLength(40);
        return Combinators.combine(names, names, Arbitraries.longs(), Arbitraries.longs().between(1, Long.MAX_VALUE),
                Arbitraries.longs().between(1, 1L << 38).map(n -> n * 4096), Arbitraries.of(512, 4096), names.optional(), names)
                .as((site, vdisk, id, seq, size, block, from, to) -> (MirrorFrame) new MirrorFrame.Header(MirrorFrameCodec.FORMAT_VERSION,
                        site, vdisk, id, new UUID(id, seq), seq, size, block, 65536, from.filter(f -> !f.equals(to)), to));
    }

    private Arbitrary<MirrorFrame> ends() {
        return Combinators.combine(Arbitraries.longs(), Arbitraries.integers().greaterOrEqual(0), Arbitraries.longs().greaterOrEqual(0),
                Arbitraries.longs().greaterOrEqual(0), Arbitraries.integers())
                .as((id, frames, extents, bytes, crc) -> new MirrorFrame.End(new UUID(id, ~id), frames, extents, bytes, bytes / 2, crc));
    }

    @Provide
    Arbitrary<List<List<MirrorExtent>>> dataFrames() {
        Arbitrary<MirrorExtent> data = Arbitraries.integers().between(1, 16).flatMap(blocks ->
                Arbitraries.bytes().array(byte[].class).ofSize(blocks * 512)
                        // Half the data compresses (runs of one byte), half does not.
                        .map(b -> b[0] % 2 == 0 ? new byte[b.length] : b)
                        .map(b -> MirrorExtent.data(0, ByteBuffer.wrap(b))));
        Arbitrary<MirrorExtent> zeros = Arbitraries.integers().between(1, 1 << 20).map(blocks -> MirrorExtent.zeros(0, blocks * 512));
        return Arbitraries.oneOf(data, zeros).list().ofMinSize(1).ofMaxSize(6).list().ofMinSize(1).ofMaxSize(4);
    }
}
