package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Text Request (RFC 7143 §11.10): SendTargets and full-feature negotiation. */
public record TextRequest(boolean immediate, boolean finalPdu, boolean cont, long lun, int itt, int ttt, int cmdSn,
                          int expStatSn, ByteBuf data) implements Pdu {

    @Override
    public Opcode opcode() {
        return Opcode.TEXT_REQUEST;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        h.setByte(1, (finalPdu ? 0x80 : 0) | (cont ? 0x40 : 0));
        h.setLong(8, lun);
        h.setInt(16, itt);
        h.setInt(20, ttt);
        h.setInt(24, cmdSn);
        h.setInt(28, expStatSn);
    }

    static TextRequest decode(ByteBuf h, ByteBuf data) {
        return new TextRequest(Bhs.bit(h, 0, 0x40), Bhs.bit(h, 1, 0x80), Bhs.bit(h, 1, 0x40), h.getLong(8),
                h.getInt(16), h.getInt(20), h.getInt(24), h.getInt(28), data);
    }
}
