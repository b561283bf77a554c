package io.basalt.replication.link;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

import io.basalt.replication.stream.MirrorFrameCodec;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.DefaultMessageSizeEstimator;
import io.netty.channel.MessageSizeEstimator;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.MessageToByteEncoder;
import io.netty.handler.codec.MessageToMessageDecoder;
import io.netty.handler.codec.TooLongFrameException;

/**
 * The mirror link's wire format. Every message is an envelope: {@code type} (u8),
 * {@code bodyLength} (u32, at most {@link #BODY_BYTES_MAX}), the body. Integers are big-endian,
 * strings a u16 length and UTF-8. No checksum: TLS protects the bytes on the wire, and a stream
 * frame carries its own CRC32C to the replica. The {@link #frameDecoder()} checks the length
 * before it gathers a body; {@link Decoder} checks the type and each field, and a bad message
 * fails the decode naming the bad value, which closes the connection.
 */
final class LinkCodec {
    static final int PROTOCOL_VERSION = 1;
    static final int PREFIX_BYTES = 5;
    /** A stream frame at its largest is the largest body. */
    static final int BODY_BYTES_MAX = MirrorFrameCodec.PREFIX_BYTES + MirrorFrameCodec.BODY_BYTES_MAX + MirrorFrameCodec.CRC_BYTES;
    static final int STRING_BYTES_MAX = 0xffff;
    /**
     * What a server takes per message before the peer proved the secret: a hello with a site id
     * of up to 988 bytes, or a proof. A stranger cannot make it buffer a stream frame's worth.
     */
    static final int HANDSHAKE_BODY_BYTES_MAX = 1024;

    static final String AUTHENTICATION = "AUTHENTICATION";
    static final String PROTOCOL = "PROTOCOL";
    static final String BUSY = "BUSY";
    static final String FAILED = "FAILED";

    private static final byte HELLO = 1;
    private static final byte PROOF = 2;
    private static final byte SHIP_REQUEST = 3;
    private static final byte START_AT = 4;
    private static final byte STREAM_FRAME = 5;
    private static final byte APPLIED = 6;
    private static final byte REFUSED = 7;
    private static final byte CALL = 8;
    private static final byte REPLY = 9;

    private LinkCodec() {}

    /** Cuts the byte stream into whole envelopes, refusing a body length above {@link #BODY_BYTES_MAX} before it buffers it. */
    static LengthFieldBasedFrameDecoder frameDecoder() {
        return new LengthFieldBasedFrameDecoder(PREFIX_BYTES + BODY_BYTES_MAX, 1, 4, 0, 0, true);
    }

    static void encode(LinkMessage m, ByteBuf out) {
        int start = out.writerIndex();
        out.writeByte(type(m));
        out.writeInt(0); // the body length, set below
        switch (m) {
            case LinkMessage.Hello h -> {
                out.writeShort(h.protocolVersion());
                writeString(out, h.siteId());
                out.writeBytes(h.nonce().duplicate());
            }
            case LinkMessage.Proof p -> out.writeBytes(p.mac().duplicate());
            case LinkMessage.ShipRequest r -> out.writeBytes(r.headerFrame().duplicate());
            case LinkMessage.StartAt s -> out.writeLong(s.offsetBytes()).writeInt(s.chainCrc());
            case LinkMessage.StreamFrame f -> out.writeBytes(f.frame().duplicate());
            case LinkMessage.Applied a -> {
                out.writeLong(a.streamBytes()).writeLong(a.extentCount()).writeLong(a.dataBytes());
                writeString(out, a.snapshot());
            }
            case LinkMessage.Refused r -> {
                writeString(out, r.reason());
                writeString(out, r.message());
            }
            case LinkMessage.Call c -> {
                writeWholeString(out, c.op());
                writeWholeString(out, c.body());
            }
            case LinkMessage.Reply r -> writeWholeString(out, r.body());
        }
        int bodyLength = out.writerIndex() - start - PREFIX_BYTES;
        if (bodyLength > BODY_BYTES_MAX) {
            throw new IllegalArgumentException("link message body: " + bodyLength + " bytes (expected: <= " + BODY_BYTES_MAX + ")");
        }
        out.setInt(start + 1, bodyLength);
    }

    /** Decodes one whole envelope (as {@link #frameDecoder()} cut it). */
    static LinkMessage decode(ByteBuf in) {
        byte type = in.readByte();
        int bodyLength = in.readInt();
        if (bodyLength != in.readableBytes()) {
            throw bad("message type " + type + " body: " + in.readableBytes() + " bytes (expected: " + bodyLength + ")");
        }
        LinkMessage m = switch (type) {
            case HELLO -> new LinkMessage.Hello(in.readUnsignedShort(), readString(in), bytes(in, LinkProof.NONCE_BYTES, "hello nonce"));
            case PROOF -> new LinkMessage.Proof(bytes(in, LinkProof.PROOF_BYTES, "proof"));
            case SHIP_REQUEST -> new LinkMessage.ShipRequest(bytes(in, in.readableBytes(), "ship request"));
            case START_AT -> new LinkMessage.StartAt(in.readLong(), in.readInt());
            case STREAM_FRAME -> new LinkMessage.StreamFrame(bytes(in, in.readableBytes(), "stream frame"));
            case APPLIED -> new LinkMessage.Applied(in.readLong(), in.readLong(), in.readLong(), readString(in));
            case REFUSED -> new LinkMessage.Refused(readString(in), readString(in));
            case CALL -> new LinkMessage.Call(readString(in), readString(in));
            case REPLY -> new LinkMessage.Reply(readString(in));
            default -> throw bad("message type: " + type + " (expected: 1.." + REPLY + ")");
        };
        if (in.isReadable()) {
            throw bad("message type " + type + ": " + in.readableBytes() + " bytes after its last field");
        }
        if (m instanceof LinkMessage.StartAt s && s.offsetBytes() < 0) {
            throw bad("start-at offset: " + s.offsetBytes() + " (expected: >= 0)");
        }
        return m;
    }

    private static byte type(LinkMessage m) {
        return switch (m) {
            case LinkMessage.Hello h -> HELLO;
            case LinkMessage.Proof p -> PROOF;
            case LinkMessage.ShipRequest r -> SHIP_REQUEST;
            case LinkMessage.StartAt s -> START_AT;
            case LinkMessage.StreamFrame f -> STREAM_FRAME;
            case LinkMessage.Applied a -> APPLIED;
            case LinkMessage.Refused r -> REFUSED;
            case LinkMessage.Call c -> CALL;
            case LinkMessage.Reply r -> REPLY;
        };
    }

    private static ByteBuffer bytes(ByteBuf in, int count, String what) {
        if (in.readableBytes() < count) {
            throw bad(what + ": " + in.readableBytes() + " bytes (expected: " + count + ")");
        }
        byte[] b = new byte[count];
        in.readBytes(b);
        return ByteBuffer.wrap(b);
    }

    private static void writeString(ByteBuf out, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > STRING_BYTES_MAX) {
            // Only a refusal's message can be this long; its start says enough.
            b = s.substring(0, STRING_BYTES_MAX / 4).getBytes(StandardCharsets.UTF_8);
        }
        out.writeShort(b.length).writeBytes(b);
    }

    /** A string that must arrive whole (a call's argument): refused when too long, never cut. */
    private static void writeWholeString(ByteBuf out, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > STRING_BYTES_MAX) {
            throw new IllegalArgumentException("link call string: " + b.length + " bytes (expected: <= " + STRING_BYTES_MAX + ")");
        }
        out.writeShort(b.length).writeBytes(b);
    }

    private static String readString(ByteBuf in) {
        int length = in.readUnsignedShort();
        if (length > in.readableBytes()) {
            throw bad("string: " + length + " bytes (expected: <= " + in.readableBytes() + ", what is left of the message)");
        }
        return in.readCharSequence(length, StandardCharsets.UTF_8).toString();
    }

    private static DecoderException bad(String message) {
        return new DecoderException("mirror link: " + message);
    }

    /**
     * Counts a message queued for the event loop at its encoded size, so a connection's write
     * buffer limit (its high water mark) bounds frames waiting to be encoded too: Netty's default
     * knows only byte buffers and counts any other message as a few bytes.
     */
    static final MessageSizeEstimator SIZE_ESTIMATOR = () -> m -> switch (m) {
        case LinkMessage.StreamFrame f -> PREFIX_BYTES + f.frame().remaining();
        case LinkMessage.ShipRequest r -> PREFIX_BYTES + r.headerFrame().remaining();
        default -> DefaultMessageSizeEstimator.DEFAULT.newHandle().size(m);
    };

    /**
     * The server's {@link #frameDecoder()}: bodies of at most {@link #HANDSHAKE_BODY_BYTES_MAX}
     * until {@link #authenticated()}, refused from the length prefix alone (which closes the connection).
     */
    static final class HandshakeLimitedFrameDecoder extends LengthFieldBasedFrameDecoder {
        private int bodyBytesMax = HANDSHAKE_BODY_BYTES_MAX;

        HandshakeLimitedFrameDecoder() {
            super(PREFIX_BYTES + BODY_BYTES_MAX, 1, 4, 0, 0, true);
        }

        /** The peer proved the secret: stream frames may come. Called on the channel's event loop, as decoding is. */
        void authenticated() {
            bodyBytesMax = BODY_BYTES_MAX;
        }

        @Override
        protected long getUnadjustedFrameLength(ByteBuf buf, int offset, int length, ByteOrder order) {
            long body = super.getUnadjustedFrameLength(buf, offset, length, order);
            if (body > bodyBytesMax) {
                throw new TooLongFrameException("mirror link: message body " + body + " bytes (expected: <= " + bodyBytesMax
                        + (bodyBytesMax == HANDSHAKE_BODY_BYTES_MAX ? ", before the peer authenticated)" : ")"));
            }
            return body;
        }
    }

    /** Whole envelopes to messages. */
    static final class Decoder extends MessageToMessageDecoder<ByteBuf> {
        Decoder() {
            super(ByteBuf.class);
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf frame, List<Object> out) {
            try {
                out.add(LinkCodec.decode(frame));
            } catch (IndexOutOfBoundsException e) {
                throw bad("message shorter than its fields: " + e.getMessage());
            }
        }
    }

    /** Messages to envelopes. */
    static final class Encoder extends MessageToByteEncoder<LinkMessage> {
        Encoder() {
            super(LinkMessage.class);
        }

        @Override
        protected void encode(ChannelHandlerContext ctx, LinkMessage m, ByteBuf out) {
            LinkCodec.encode(m, out);
        }
    }
}
