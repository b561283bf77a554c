package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Login Request (RFC 7143 §11.12); stages: 0 security, 1 operational, 3 full feature. */
public record LoginRequest(boolean transit, boolean cont, int csg, int nsg, int versionMax, int versionMin, long isid,
                           int tsih, int itt, int cid, int cmdSn, int expStatSn, ByteBuf data) implements Pdu {

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
        h.setByte(1, (transit ? 0x80 : 0) | (cont ? 0x40 : 0) | (csg & 3) << 2 | (nsg & 3));
        h.setByte(2, versionMax);
        h.setByte(3, versionMin);
        Bhs.setIsid(h, isid);
        h.setShort(14, tsih);
        h.setInt(16, itt);
        h.setShort(20, cid);
        h.setInt(24, cmdSn);
        h.setInt(28, expStatSn);
    }

    static LoginRequest decode(ByteBuf h, ByteBuf data) {
        int f = Bhs.u8(h, 1);
        return new LoginRequest((f & 0x80) != 0, (f & 0x40) != 0, (f >> 2) & 3, f & 3, Bhs.u8(h, 2), Bhs.u8(h, 3),
                Bhs.isid(h), Bhs.u16(h, 14), h.getInt(16), Bhs.u16(h, 20), h.getInt(24), h.getInt(28), data);
    }
}
