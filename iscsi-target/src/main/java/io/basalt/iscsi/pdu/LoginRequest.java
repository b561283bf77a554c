package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Login Request (RFC 7143 §11.12); {@code data} holds (part of) the initiator's text keys. */
public record LoginRequest(LoginStage stage, int versionMax, int versionMin, SessionId session, int itt, int cid,
                           int cmdSn, int expStatSn, ByteBuf data) implements Pdu {

    @Override
    public Opcode opcode() {
        return Opcode.LOGIN_REQUEST;
    }

    @Override
    public boolean immediate() {
        return true;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        stage.write(h);
        h.setByte(2, versionMax);
        h.setByte(3, versionMin);
        session.write(h);
        h.setInt(16, itt);
        h.setShort(20, cid);
        h.setInt(24, cmdSn);
        h.setInt(28, expStatSn);
    }

    static LoginRequest decode(ByteBuf h, ByteBuf data) {
        return new LoginRequest(LoginStage.read(h), Bhs.u8(h, 2), Bhs.u8(h, 3), SessionId.read(h), h.getInt(16),
                Bhs.u16(h, 20), h.getInt(24), h.getInt(28), data);
    }
}
