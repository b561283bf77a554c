package io.basalt.replication.link;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;

import org.junit.jupiter.api.Test;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** The mirror link's wire format through Netty's pipeline: round trips at every split, and bad envelopes refused naming why. */
class LinkCodecProperties {

    @Property(tries = 100)
    void everyMessageDecodesToItselfWhateverOffsetTheBytesAreSplitAt(@ForAll("messages") LinkMessage m) {
        ByteBuf encoded = Unpooled.buffer();
        LinkCodec.encode(m, encoded);
        try {
            for (int split = 0; split <= encoded.readableBytes(); split++) {
                EmbeddedChannel ch = channel();
                ch.writeInbound(encoded.retainedSlice(0, split));
                ch.writeInbound(encoded.retainedSlice(split, encoded.readableBytes() - split));
                assertEquals(m, ch.readInbound(), "split at " + split);
                assertFalse(ch.finish(), "nothing left over after a split at " + split);
            }
        } finally {
            encoded.release();
        }
    }

    @Test
    void aBodyLengthAboveTheLimitIsRefusedBeforeTheBodyArrives() {
        EmbeddedChannel ch = channel();
        ByteBuf prefix = Unpooled.buffer().writeByte(5).writeInt(LinkCodec.BODY_BYTES_MAX + 1);
        assertThrows(DecoderException.class, () -> ch.writeInbound(prefix));
        ch.finishAndReleaseAll();
    }

    @Test
    void anUnknownMessageTypeIsRefusedNamingIt() {
        DecoderException e = refused(Unpooled.buffer().writeByte(10).writeInt(0));
        assertTrue(e.getMessage().contains("message type: 10 (expected: 1..9)"), e.getMessage());
    }

    @Test
    void bytesAfterAMessagesLastFieldAreRefused() {
        ByteBuf b = Unpooled.buffer();
        LinkCodec.encode(new LinkMessage.StartAt(5, 6), b);
        b.setInt(1, b.getInt(1) + 1);
        b.writeByte(0);
        DecoderException e = refused(b);
        assertTrue(e.getMessage().contains("1 bytes after its last field"), e.getMessage());
    }

    @Test
    void aShortHelloAndANegativeStartAreRefused() {
        ByteBuf hello = Unpooled.buffer().writeByte(1).writeInt(2 + 2 + 3).writeShort(1).writeShort(1).writeByte('a').writeShort(0);
        assertTrue(refused(hello).getMessage().contains("hello nonce: 2 bytes (expected: 32)"));
        ByteBuf start = Unpooled.buffer();
        LinkCodec.encode(new LinkMessage.StartAt(-1, 0), start);
        assertTrue(refused(start).getMessage().contains("start-at offset: -1 (expected: >= 0)"));
    }

    private static DecoderException refused(ByteBuf bytes) {
        EmbeddedChannel ch = channel();
        DecoderException e = assertThrows(DecoderException.class, () -> ch.writeInbound(bytes));
        ch.finishAndReleaseAll();
        return e;
    }

    private static EmbeddedChannel channel() {
        return new EmbeddedChannel(LinkCodec.frameDecoder(), new LinkCodec.Decoder());
    }

    // ---- generators ----

    @Provide
    Arbitrary<LinkMessage> messages() {
        // Whole characters only: a lone surrogate has no UTF-8 form (the encoder writes '?' for it).
        Arbitrary<String> text = Arbitraries.strings().withCharRange('a', 'z').withChars(" -é中").ofMaxLength(40);
        Arbitrary<ByteBuffer> nonce = bytes(LinkProof.NONCE_BYTES, LinkProof.NONCE_BYTES);
        Arbitrary<ByteBuffer> any = bytes(0, 300);
        Arbitrary<Long> nonNegative = Arbitraries.longs().greaterOrEqual(0);
        return Arbitraries.oneOf(
                Combinators.combine(Arbitraries.integers().between(0, 0xffff), text, nonce).as(LinkMessage.Hello::new),
                bytes(LinkProof.PROOF_BYTES, LinkProof.PROOF_BYTES).map(LinkMessage.Proof::new),
                any.map(LinkMessage.ShipRequest::new),
                Combinators.combine(nonNegative, Arbitraries.integers()).as(LinkMessage.StartAt::new),
                any.map(LinkMessage.StreamFrame::new),
                Combinators.combine(Arbitraries.longs(), Arbitraries.longs(), Arbitraries.longs(), text).as(LinkMessage.Applied::new),
                Combinators.combine(text, text).as(LinkMessage.Refused::new),
                Combinators.combine(text, text).as(LinkMessage.Call::new),
                text.map(LinkMessage.Reply::new));
    }

    private static Arbitrary<ByteBuffer> bytes(int min, int max) {
        return Arbitraries.bytes().array(byte[].class).ofMinSize(min).ofMaxSize(max).map(ByteBuffer::wrap);
    }
}
