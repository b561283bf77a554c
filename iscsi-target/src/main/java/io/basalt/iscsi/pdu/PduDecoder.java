package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Frames bytes into {@link Pdu}s: BHS, AHS, optional header digest, padded data segment, optional
 * data digest (RFC 7143 §11.2). A PDU that breaks a limit, fails a digest or does not parse moves
 * the decoder to {@link State#DISCARD}: the rest of the stream is dropped and the channel closed,
 * with the reason (naming the bad value) logged once.
 *
 * <p>Digests are switched on by the session, from the event loop, once login has completed.
 */
public final class PduDecoder extends ByteToMessageDecoder {

    private static final Logger log = LoggerFactory.getLogger(PduDecoder.class);
    private static final int DIGEST_BYTES = 4;

    enum State { READ_HEADER, READ_BODY, DISCARD }

    private final PduLimits limits;
    private final boolean fromInitiator;
    private boolean headerDigest;
    private boolean dataDigest;
    private State state = State.READ_HEADER;
    private Opcode opcode;
    private int ahsBytes;
    private int dataBytes;

    /**
     * @param limits bounds checked on every header before anything is buffered
     * @param fromInitiator true on a target (accepts initiator opcodes only), false on an initiator
     */
    public PduDecoder(PduLimits limits, boolean fromInitiator) {
        this.limits = limits;
        this.fromInitiator = fromInitiator;
    }

    public void enableDigests(boolean header, boolean data) {
        this.headerDigest = header;
        this.dataDigest = data;
    }

    State state() {
        return state;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        try {
            switch (state) {
                case READ_HEADER -> {
                    if (readHeader(in)) {
                        readBody(in, out);
                    }
                }
                case READ_BODY -> readBody(in, out);
                case DISCARD -> in.skipBytes(in.readableBytes());
            }
        } catch (ProtocolException e) {
            discardAndClose(ctx, in, e.getMessage());
        }
    }

    private boolean readHeader(ByteBuf in) {
        if (in.readableBytes() < Bhs.BYTES) {
            return false;
        }
        int start = in.readerIndex();
        int code = in.getUnsignedByte(start) & 0x3f;
        Opcode op = Opcode.fromCode(code);
        if (op == null || op.fromInitiator() != fromInitiator) {
            throw new ProtocolException("opcode: 0x" + Integer.toHexString(code) + " (expected: an "
                    + (fromInitiator ? "initiator" : "target") + " opcode)");
        }
        int ahs = in.getUnsignedByte(start + 4) * 4;
        if (ahs > limits.ahsBytesMax()) {
            throw new ProtocolException("TotalAHSLength: " + ahs + " bytes (expected: <= " + limits.ahsBytesMax() + ")");
        }
        int data = in.getUnsignedMedium(start + 5);
        if (data > limits.dataSegmentBytesMax()) {
            throw new ProtocolException("DataSegmentLength: " + data + " (expected: <= " + limits.dataSegmentBytesMax() + ")");
        }
        opcode = op;
        ahsBytes = ahs;
        dataBytes = data;
        state = State.READ_BODY;
        return true;
    }

    private void readBody(ByteBuf in, List<Object> out) {
        int headerBytes = Bhs.BYTES + ahsBytes;
        int dataStart = headerBytes + (headerDigest ? DIGEST_BYTES : 0);
        int paddedData = pad4(dataBytes);
        int total = dataStart + paddedData + (dataDigest && dataBytes > 0 ? DIGEST_BYTES : 0);
        if (in.readableBytes() < total) {
            return;
        }
        int start = in.readerIndex();
        if (headerDigest) {
            checkDigest("HeaderDigest", in, start, headerBytes);
        }
        if (dataDigest && dataBytes > 0) {
            checkDigest("DataDigest", in, start + dataStart, paddedData);
        }
        ByteBuf data = dataBytes == 0 ? Unpooled.EMPTY_BUFFER : in.retainedSlice(start + dataStart, dataBytes);
        Pdu pdu;
        try {
            pdu = Pdu.decode(opcode, in.slice(start, Bhs.BYTES), in.slice(start + Bhs.BYTES, ahsBytes), data);
        } catch (ProtocolException | IllegalArgumentException e) {
            data.release();
            throw new ProtocolException(opcode + ": " + e.getMessage());
        }
        in.skipBytes(total);
        state = State.READ_HEADER;
        out.add(pdu);
    }

    private static void checkDigest(String name, ByteBuf in, int index, int length) {
        int expected = Crc32c.of(in, index, length);
        int actual = in.getIntLE(index + length);
        if (actual != expected) {
            throw new ProtocolException(name + ": 0x" + Integer.toHexString(actual) + " (expected: 0x" + Integer.toHexString(expected) + ")");
        }
    }

    private void discardAndClose(ChannelHandlerContext ctx, ByteBuf in, String reason) {
        if (state != State.DISCARD) {
            log.warn("closing {}: malformed PDU: {}", ctx.channel().remoteAddress(), reason);
        }
        state = State.DISCARD;
        in.skipBytes(in.readableBytes());
        ctx.close();
    }

    static int pad4(int n) {
        return (n + 3) & ~3;
    }
}
