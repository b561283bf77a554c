package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Logout Response (RFC 7143 §11.15). */
public record LogoutResponse(int response, int itt, SequenceNumbers sn, int time2Wait, int time2Retain) implements Pdu {

    @Override
    public Opcode opcode() {
        return Opcode.LOGOUT_RESPONSE;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        h.setByte(1, Bhs.FINAL);
        h.setByte(2, response);
        h.setInt(16, itt);
        sn.write(h);
        h.setShort(40, time2Wait);
        h.setShort(42, time2Retain);
    }

    static LogoutResponse decode(ByteBuf h, ByteBuf data) {
        Bhs.requireNoData(Opcode.LOGOUT_RESPONSE, data);
        return new LogoutResponse(Bhs.u8(h, 2), h.getInt(16), SequenceNumbers.read(h), Bhs.u16(h, 40), Bhs.u16(h, 42));
    }
}
