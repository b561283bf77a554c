package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** SNACK Request (RFC 7143 §11.16); at error recovery level 0 the target rejects it. */
public record SnackRequest(int type, long lun, int itt, int ttt, int expStatSn, int begRun, int runLength) implements Pdu {

    @Override
    public Opcode opcode() {
        return Opcode.SNACK_REQUEST;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        h.setByte(1, Bhs.FINAL | (type & 0x0f));
        h.setLong(8, lun);
        h.setInt(16, itt);
        h.setInt(20, ttt);
        h.setInt(28, expStatSn);
        h.setInt(40, begRun);
        h.setInt(44, runLength);
    }

    static SnackRequest decode(ByteBuf h, ByteBuf data) {
        Bhs.requireNoData(Opcode.SNACK_REQUEST, data);
        return new SnackRequest(Bhs.u8(h, 1) & 0x0f, h.getLong(8), h.getInt(16), h.getInt(20), h.getInt(28), h.getInt(40), h.getInt(44));
    }
}
