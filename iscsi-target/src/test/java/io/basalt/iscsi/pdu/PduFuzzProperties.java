package io.basalt.iscsi.pdu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * Random and mutated bytes into the decoder: nothing escapes as an exception, every buffer is
 * released, and a header that breaks a limit always closes the channel.
 */
class PduFuzzProperties {

    private static final PduLimits LIMITS = new PduLimits(8192, 256);

    /** Feeds {@code wire} in chunks of {@code chunk} bytes (the last may be shorter); returns the channel. */
    static EmbeddedChannel feed(byte[] wire, int chunk, boolean digests, TrackingAllocator alloc) {
        PduDecoder decoder = new PduDecoder(LIMITS, true);
        decoder.enableDigests(digests, digests);
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        ch.config().setAllocator(alloc);
        for (int at = 0; at < wire.length && ch.isOpen(); at += chunk) {
            ch.writeInbound(alloc.copyOf(wire, at, Math.min(wire.length, at + chunk)));
            for (Object o; (o = ch.readInbound()) != null; ) {
                ((Pdu) o).release();
            }
        }
        return ch;
    }

    @Property(tries = 300)
    void randomBytesNeitherThrowNorLeak(@ForAll @Size(max = 2048) byte[] wire, @ForAll @IntRange(min = 1, max = 300) int chunk,
                                        @ForAll boolean digests) {
        TrackingAllocator alloc = new TrackingAllocator();
        EmbeddedChannel ch = feed(wire, chunk, digests, alloc);
        ch.finishAndReleaseAll();
        assertEquals(0, alloc.unreleased());
    }

    @Property(tries = 400)
    void mutatedPdusNeitherThrowNorLeak(@ForAll("pduIndex") int which, @ForAll @Size(min = 1, max = 6) List<@IntRange(min = 0, max = 2000) Integer> positions,
                                        @ForAll byte flip, @ForAll @IntRange(min = 1, max = 100) int chunk, @ForAll boolean digests) {
        byte[] wire = encoded(which, digests);
        for (int p : positions) {
            wire[p % wire.length] ^= flip == 0 ? 1 : flip;
        }
        TrackingAllocator alloc = new TrackingAllocator();
        EmbeddedChannel ch = feed(wire, chunk, digests, alloc);
        ch.finishAndReleaseAll();
        assertEquals(0, alloc.unreleased());
    }

    @Property(tries = 200)
    void headerBreakingALimitClosesAtEverySplit(@ForAll("pduIndex") int which, @ForAll @IntRange(min = 1, max = 60) int chunk,
                                                @ForAll boolean oversize) {
        byte[] wire = encoded(which, false);
        if (oversize) {
            wire[5] = (byte) 0x7f;                           // DataSegmentLength >= 8 MiB
        } else {
            wire[0] = (byte) Opcode.SCSI_RESPONSE.code();    // a target opcode
        }
        TrackingAllocator alloc = new TrackingAllocator();
        EmbeddedChannel ch = feed(wire, chunk, false, alloc);
        assertFalse(ch.isOpen());
        ch.finishAndReleaseAll();
        assertEquals(0, alloc.unreleased());
    }

    @Provide
    Arbitrary<Integer> pduIndex() {
        return Arbitraries.integers().between(0, SamplePduAccess.count() - 1);
    }

    static byte[] encoded(int which, boolean digests) {
        List<Pdu> all = SamplePdus.initiatorPdus();
        ByteBuf wire = PduEncoder.encode(io.netty.buffer.ByteBufAllocator.DEFAULT, all.get(which), digests, digests);
        for (int i = 0; i < all.size(); i++) {
            if (i != which) {
                all.get(i).release();
            }
        }
        byte[] bytes = new byte[wire.readableBytes()];
        wire.readBytes(bytes);
        wire.release();
        return bytes;
    }
}
