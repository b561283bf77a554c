package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Login Response (RFC 7143 §11.13); {@code statusClass} 0 success, 1 redirect, 2 initiator error, 3 target error. */
public record LoginResponse(boolean transit, boolean cont, int csg, int nsg, int versionMax, int versionActive,
                            long isid, int tsih, int itt, int statSn, int expCmdSn, int maxCmdSn, int statusClass,
                            int statusDetail, ByteBuf data) implements Pdu {

    @Override
    public Opcode opcode() {
        return Opcode.LOGIN_RESPONSE;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        h.setByte(1, (transit ? 0x80 : 0) | (cont ? 0x40 : 0) | (csg & 3) << 2 | (nsg & 3));
        h.setByte(2, versionMax);
        h.setByte(3, versionActive);
        Bhs.setIsid(h, isid);
        h.setShort(14, tsih);
        h.setInt(16, itt);
        h.setInt(24, statSn);
        h.setInt(28, expCmdSn);
        h.setInt(32, maxCmdSn);
        h.setByte(36, statusClass);
        h.setByte(37, statusDetail);
    }

    static LoginResponse decode(ByteBuf h, ByteBuf data) {
        int f = Bhs.u8(h, 1);
        return new LoginResponse((f & 0x80) != 0, (f & 0x40) != 0, (f >> 2) & 3, f & 3, Bhs.u8(h, 2), Bhs.u8(h, 3),
                Bhs.isid(h), Bhs.u16(h, 14), h.getInt(16), h.getInt(24), h.getInt(28), h.getInt(32), Bhs.u8(h, 36),
                Bhs.u8(h, 37), data);
    }
}
