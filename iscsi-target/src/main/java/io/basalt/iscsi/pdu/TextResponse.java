package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Text Response (RFC 7143 §11.11). */
public record TextResponse(boolean finalPdu, boolean cont, long lun, int itt, int ttt, SequenceNumbers sn,
                           ByteBuf data) implements Pdu {

    @Override
    public Opcode opcode() {
        return Opcode.TEXT_RESPONSE;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        h.setByte(1, (finalPdu ? 0x80 : 0) | (cont ? 0x40 : 0));
        h.setLong(8, lun);
        h.setInt(16, itt);
        h.setInt(20, ttt);
        sn.write(h);
    }

    static TextResponse decode(ByteBuf h, ByteBuf data) {
        return new TextResponse(Bhs.bit(h, 1, 0x80), Bhs.bit(h, 1, 0x40), h.getLong(8), h.getInt(16), h.getInt(20),
                SequenceNumbers.read(h), data);
    }
}
