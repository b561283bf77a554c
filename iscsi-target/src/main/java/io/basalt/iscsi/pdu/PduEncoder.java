package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;
import java.util.List;

/**
 * Writes {@link Pdu}s: header (with lengths and optional digest), then the data segment without
 * copying, then padding and the optional data digest. Takes ownership of the PDU's data.
 */
public final class PduEncoder extends MessageToMessageEncoder<Pdu> {

    private boolean headerDigest;
    private boolean dataDigest;

    public PduEncoder() {
        super(Pdu.class);
    }

    public void enableDigests(boolean header, boolean data) {
        this.headerDigest = header;
        this.dataDigest = data;
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Pdu pdu, List<Object> out) {
        out.add(encode(ctx.alloc(), pdu, headerDigest, dataDigest));
    }

    /** Encodes one PDU into a new buffer; releases the PDU's data whatever happens. */
    public static ByteBuf encode(ByteBufAllocator alloc, Pdu pdu, boolean headerDigest, boolean dataDigest) {
        ByteBuf data = pdu.data();
        CompositeByteBuf frame = alloc.compositeBuffer(3);
        try {
            int dataBytes = data.readableBytes();
            frame.addComponent(true, header(alloc, pdu, dataBytes, headerDigest));
            if (dataBytes > 0) {
                int padding = PduDecoder.pad4(dataBytes) - dataBytes;
                ByteBuf trailer = alloc.buffer(padding + 4).writeZero(padding);
                if (dataDigest) {
                    CompositeByteBuf covered = alloc.compositeBuffer(2).addComponents(true, data.retainedDuplicate(), trailer.retainedDuplicate());
                    trailer.writeIntLE(Crc32c.of(covered, covered.readerIndex(), covered.readableBytes()));
                    covered.release();
                }
                frame.addComponent(true, data.retain());
                frame.addComponent(true, trailer);
            }
            return frame.retain();
        } finally {
            frame.release();
            data.release();
        }
    }

    /** The BHS (and AHS, and header digest) of {@code pdu} as it would be sent, data not included. */
    public static ByteBuf header(ByteBufAllocator alloc, Pdu pdu, int dataBytes, boolean headerDigest) {
        if (dataBytes > PduLimits.DATA_SEGMENT_BYTES_LIMIT) {
            throw new IllegalArgumentException("DataSegmentLength: " + dataBytes + " (expected: <= " + PduLimits.DATA_SEGMENT_BYTES_LIMIT + ")");
        }
        ByteBuf ahs = pdu.ahs();
        try {
            int ahsBytes = ahs.readableBytes();
            ByteBuf h = alloc.buffer(Bhs.BYTES + ahsBytes + 4).writeZero(Bhs.BYTES);
            pdu.encodeFields(h);
            h.setByte(0, (pdu.immediate() ? 0x40 : 0) | pdu.opcode().code());
            h.setByte(4, ahsBytes / 4);
            h.setMedium(5, dataBytes);
            h.writeBytes(ahs, ahs.readerIndex(), ahsBytes);
            if (headerDigest) {
                h.writeIntLE(Crc32c.of(h, 0, h.readableBytes()));
            }
            return h;
        } finally {
            ahs.release();
        }
    }
}
