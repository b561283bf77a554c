package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** NOP-Out (RFC 7143 §11.18): a ping, or the answer to a target's NOP-In. */
public record NopOut(boolean immediate, long lun, int itt, int ttt, int cmdSn, int expStatSn, ByteBuf data) implements Pdu {

    @Override
    public Opcode opcode() {
        return Opcode.NOP_OUT;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        h.setByte(1, Bhs.FINAL);
        h.setLong(8, lun);
        h.setInt(16, itt);
        h.setInt(20, ttt);
        h.setInt(24, cmdSn);
        h.setInt(28, expStatSn);
    }

    static NopOut decode(ByteBuf h, ByteBuf data) {
        return new NopOut(Bhs.bit(h, 0, 0x40), h.getLong(8), h.getInt(16), h.getInt(20), h.getInt(24), h.getInt(28), data);
    }
}
