package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Logout Response (RFC 7143 §11.15). */
public record LogoutResponse(int response, int itt, int statSn, int expCmdSn, int maxCmdSn, int time2Wait,
                             int time2Retain) implements Pdu {

    @Override
    public Opcode opcode() {
        return Opcode.LOGOUT_RESPONSE;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        h.setByte(1, Bhs.FINAL);
        h.setByte(2, response);
        h.setInt(16, itt);
        h.setInt(24, statSn);
        h.setInt(28, expCmdSn);
        h.setInt(32, maxCmdSn);
        h.setShort(40, time2Wait);
        h.setShort(42, time2Retain);
    }

    static LogoutResponse decode(ByteBuf h, ByteBuf data) {
        Bhs.requireNoData(Opcode.LOGOUT_RESPONSE, data);
        return new LogoutResponse(Bhs.u8(h, 2), h.getInt(16), h.getInt(24), h.getInt(28), h.getInt(32), Bhs.u16(h, 40), Bhs.u16(h, 42));
    }
}
