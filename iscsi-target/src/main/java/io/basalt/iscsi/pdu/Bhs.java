package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Field access on a 48-byte Basic Header Segment (RFC 7143 §11.2.1), by absolute index. */
final class Bhs {

    static final int BYTES = 48;
    static final int FINAL = 0x80;

    private Bhs() {
    }

    static boolean bit(ByteBuf h, int index, int mask) {
        return (h.getByte(index) & mask) != 0;
    }

    static void setBit(ByteBuf h, int index, int mask, boolean on) {
        int b = h.getByte(index) & 0xff;
        h.setByte(index, on ? b | mask : b & ~mask);
    }

    static int u8(ByteBuf h, int index) {
        return h.getUnsignedByte(index);
    }

    static int u16(ByteBuf h, int index) {
        return h.getUnsignedShort(index);
    }

    /** ISID is six bytes at offset 8. */
    static long isid(ByteBuf h) {
        return ((long) h.getUnsignedShort(8) << 32) | h.getUnsignedInt(10);
    }

    static void setIsid(ByteBuf h, long isid) {
        h.setShort(8, (int) (isid >>> 32));
        h.setInt(10, (int) isid);
    }

    static void requireNoData(Opcode opcode, ByteBuf data) {
        if (data.isReadable()) {
            throw new ProtocolException("DataSegmentLength: " + data.readableBytes() + " (expected: 0 for " + opcode + ")");
        }
    }
}
