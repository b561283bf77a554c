package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Login Response (RFC 7143 §11.13); {@code data} holds the answering text keys. */
public record LoginResponse(LoginStage stage, int versionMax, int versionActive, SessionId session, int itt,
                            SequenceNumbers sn, LoginStatus status, ByteBuf data) implements Pdu {

    @Override
    public Opcode opcode() {
        return Opcode.LOGIN_RESPONSE;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        stage.write(h);
        h.setByte(2, versionMax);
        h.setByte(3, versionActive);
        session.write(h);
        h.setInt(16, itt);
        sn.write(h);
        h.setByte(36, status.statusClass());
        h.setByte(37, status.statusDetail());
    }

    static LoginResponse decode(ByteBuf h, ByteBuf data) {
        return new LoginResponse(LoginStage.read(h), Bhs.u8(h, 2), Bhs.u8(h, 3), SessionId.read(h), h.getInt(16),
                SequenceNumbers.read(h), new LoginStatus(Bhs.u8(h, 36), Bhs.u8(h, 37)), data);
    }
}
