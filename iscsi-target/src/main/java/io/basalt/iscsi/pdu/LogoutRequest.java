package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Logout Request (RFC 7143 §11.14); reason 0 closes the session, 1 the connection, 2 for recovery. */
public record LogoutRequest(boolean immediate, int reason, int itt, int cid, int cmdSn, int expStatSn) implements Pdu {

    @Override
    public Opcode opcode() {
        return Opcode.LOGOUT_REQUEST;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        h.setByte(1, Bhs.FINAL | (reason & 0x7f));
        h.setInt(16, itt);
        h.setShort(20, cid);
        h.setInt(24, cmdSn);
        h.setInt(28, expStatSn);
    }

    static LogoutRequest decode(ByteBuf h, ByteBuf data) {
        Bhs.requireNoData(Opcode.LOGOUT_REQUEST, data);
        return new LogoutRequest(Bhs.bit(h, 0, 0x40), Bhs.u8(h, 1) & 0x7f, h.getInt(16), Bhs.u16(h, 20), h.getInt(24), h.getInt(28));
    }
}
