package io.basalt.iscsi.pdu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PduCodecTest {

    private static final PduLimits LIMITS = new PduLimits(65536, 256);

    private static ByteBuf encode(Pdu pdu, boolean digests) {
        return PduEncoder.encode(ByteBufAllocator.DEFAULT, pdu, digests, digests);
    }

    /** Feeds {@code wire} in two pieces split at {@code split}; returns the decoded PDUs (caller releases). */
    private static List<Pdu> decodeSplit(ByteBuf wire, int split, boolean digests, EmbeddedChannel[] out) {
        PduDecoder decoder = new PduDecoder(LIMITS, true);
        decoder.enableDigests(digests, digests);
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        ch.writeInbound(wire.retainedSlice(0, split));
        ch.writeInbound(wire.retainedSlice(split, wire.readableBytes() - split));
        List<Pdu> pdus = new ArrayList<>();
        for (Object o; (o = ch.readInbound()) != null; ) {
            pdus.add((Pdu) o);
        }
        out[0] = ch;
        return pdus;
    }

    @Test
    void decodesEveryInitiatorPduSplitAtEveryOffset() {
        for (boolean digests : new boolean[] {false, true}) {
            for (Pdu original : SamplePdus.initiatorPdus()) {
                ByteBuf wire = encode(copyOf(original), digests);
                try {
                    for (int split = 0; split <= wire.readableBytes(); split++) {
                        EmbeddedChannel[] ch = new EmbeddedChannel[1];
                        List<Pdu> pdus = decodeSplit(wire, split, digests, ch);
                        assertEquals(1, pdus.size(), () -> original.opcode() + " split at " + ch.length);
                        assertEquals(original, pdus.get(0), original.opcode() + " digests=" + digests);
                        pdus.get(0).release();
                        assertFalse(ch[0].finish());
                    }
                } finally {
                    wire.release();
                    original.release();
                }
            }
        }
    }

    @Test
    void decodesEveryTargetPduSplitAtEveryOffset() {
        for (Pdu original : SamplePdus.targetPdus()) {
            ByteBuf wire = encode(copyOf(original), true);
            try {
                for (int split = 0; split <= wire.readableBytes(); split++) {
                    PduDecoder decoder = new PduDecoder(LIMITS, false);
                    decoder.enableDigests(true, true);
                    EmbeddedChannel ch = new EmbeddedChannel(decoder);
                    ch.writeInbound(wire.retainedSlice(0, split));
                    ch.writeInbound(wire.retainedSlice(split, wire.readableBytes() - split));
                    Pdu got = ch.readInbound();
                    assertEquals(original, got, original.opcode() + " split at " + split);
                    got.release();
                    assertFalse(ch.finish());
                }
            } finally {
                wire.release();
                original.release();
            }
        }
    }

    @Test
    void dataInSendsStatSnStatusAndResidualOnlyWithTheStatusBit() {
        SequenceNumbers sn = new SequenceNumbers(100, 200, 215);
        ByteBuf withStatus = encode(new DataIn(true, false, 0, 5, Pdu.RESERVED_TAG, sn, 3, 4096,
                DataIn.Status.of(0x02, new Residual(false, true, 512)), Unpooled.EMPTY_BUFFER), false);
        assertEquals(0x80 | 0x02 | 0x01, withStatus.getUnsignedByte(1), "F, U and S bits");
        assertEquals(0x02, withStatus.getUnsignedByte(3));
        assertEquals(100, withStatus.getInt(24));
        assertEquals(512, withStatus.getInt(44));
        withStatus.release();
        ByteBuf without = encode(new DataIn(false, false, 0, 5, Pdu.RESERVED_TAG, sn, 2, 2048, DataIn.Status.NONE,
                Unpooled.EMPTY_BUFFER), false);
        assertEquals(0, without.getUnsignedByte(1));
        assertEquals(0, without.getInt(24), "StatSN is reserved without the S bit");
        assertEquals(200, without.getInt(28));
        assertEquals(215, without.getInt(32));
        without.release();
    }

    @Test
    void decodesBackToBackPdusFromOneBuffer() {
        List<Pdu> originals = SamplePdus.initiatorPdus();
        ByteBuf all = Unpooled.buffer();
        for (Pdu p : originals) {
            ByteBuf w = encode(copyOf(p), false);
            all.writeBytes(w);
            w.release();
        }
        EmbeddedChannel ch = new EmbeddedChannel(new PduDecoder(LIMITS, true));
        ch.writeInbound(all);
        for (Pdu p : originals) {
            Pdu got = ch.readInbound();
            assertEquals(p, got);
            got.release();
            p.release();
        }
        assertFalse(ch.finish());
    }

    @Test
    void closesOnOversizedDataSegmentWithoutBufferingIt() {
        ByteBuf header = Unpooled.buffer(48).writeZero(48);
        header.setByte(0, Opcode.DATA_OUT.code());
        header.setMedium(5, 65537);
        EmbeddedChannel ch = new EmbeddedChannel(new PduDecoder(LIMITS, true));
        ch.writeInbound(header);
        assertFalse(ch.isOpen());
        assertNull(ch.readInbound());
        assertFalse(ch.finish());
    }

    @Test
    void closesOnTargetOpcodeFromInitiator() {
        ByteBuf wire = encode(new NopIn(0, 1, Pdu.RESERVED_TAG, new SequenceNumbers(1, 1, 1), Unpooled.EMPTY_BUFFER), false);
        EmbeddedChannel ch = new EmbeddedChannel(new PduDecoder(LIMITS, true));
        ch.writeInbound(wire);
        assertFalse(ch.isOpen());
        assertFalse(ch.finish());
    }

    @Test
    void closesOnHeaderDigestMismatchAndDropsTheRest() {
        ByteBuf wire = encode(new LogoutRequest(true, 0, 1, 0, 1, 1), true);
        wire.setByte(48, wire.getByte(48) ^ 1);
        PduDecoder decoder = new PduDecoder(LIMITS, true);
        decoder.enableDigests(true, false);
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        ch.writeInbound(wire);
        assertFalse(ch.isOpen());
        assertEquals(PduDecoder.State.DISCARD, decoder.state());
        assertFalse(ch.finish());
    }

    @Test
    void closesOnDataDigestMismatch() {
        ByteBuf wire = encode(new DataOut(true, 0, 1, 2, 3, 0, 0, SamplePdus.bytes(100, 1)), true);
        wire.setByte(48 + 4 + 3, wire.getByte(48 + 4 + 3) ^ 0x40);
        PduDecoder decoder = new PduDecoder(LIMITS, true);
        decoder.enableDigests(true, true);
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        ch.writeInbound(wire);
        assertFalse(ch.isOpen());
        assertFalse(ch.finish());
    }

    @Test
    void headerDigestIsLittleEndianCrc32cOfTheHeader() {
        ByteBuf wire = encode(new NopOut(true, 0, 1, Pdu.RESERVED_TAG, 1, 1, Unpooled.EMPTY_BUFFER), true);
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        byte[] header = new byte[48];
        wire.getBytes(0, header);
        crc.update(header);
        assertEquals((int) crc.getValue(), wire.getIntLE(48));
        assertEquals(52, wire.readableBytes());
        wire.release();
    }

    @Test
    void padsDataSegmentsToFourBytes() {
        ByteBuf wire = encode(new NopOut(true, 0, 1, Pdu.RESERVED_TAG, 1, 1, SamplePdus.bytes(5, 0)), false);
        assertEquals(48 + 8, wire.readableBytes());
        assertEquals(5, wire.getUnsignedMedium(5));
        wire.release();
    }

    @Test
    void textKeysRoundTripAndRejectMalformedPairs() {
        ByteBuf text = TextKeys.format(ByteBufAllocator.DEFAULT, List.of(new TextKeys.Pair("A", "1"), new TextKeys.Pair("B", "x,y")));
        assertEquals(List.of(new TextKeys.Pair("A", "1"), new TextKeys.Pair("B", "x,y")), TextKeys.parse(text));
        text.release();
        ByteBuf bad = Unpooled.copiedBuffer("novalue\0", java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(org.junit.jupiter.api.Assertions.assertThrows(ProtocolException.class, () -> TextKeys.parse(bad))
                .getMessage().contains("novalue"));
        bad.release();
    }

    /** A copy whose data is a fresh buffer, so the original can be compared after the copy is consumed. */
    static Pdu copyOf(Pdu p) {
        ByteBuf wire = PduEncoder.encode(ByteBufAllocator.DEFAULT, new Retained(p).pdu(), false, false);
        EmbeddedChannel ch = new EmbeddedChannel(new PduDecoder(new PduLimits(1 << 20, 1020), p.opcode().fromInitiator()));
        ch.writeInbound(wire);
        Pdu copy = ch.readInbound();
        ch.finishAndReleaseAll();
        return copy;
    }

    /** Retains the data so encoding (which releases it) leaves the caller's reference intact. */
    private record Retained(Pdu original) {
        Pdu pdu() {
            original.data().retain();
            return original;
        }
    }
}
