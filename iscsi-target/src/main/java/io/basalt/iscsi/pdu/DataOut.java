package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** SCSI Data-Out (RFC 7143 §11.7): write data, unsolicited ({@code ttt} reserved) or for an R2T. */
public record DataOut(boolean finalPdu, long lun, int itt, int ttt, int expStatSn, int dataSn, int bufferOffset,
                      ByteBuf data) implements Pdu {

    @Override
    public Opcode opcode() {
        return Opcode.DATA_OUT;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        h.setByte(1, finalPdu ? Bhs.FINAL : 0);
        h.setLong(8, lun);
        h.setInt(16, itt);
        h.setInt(20, ttt);
        h.setInt(28, expStatSn);
        h.setInt(36, dataSn);
        h.setInt(40, bufferOffset);
    }

    static DataOut decode(ByteBuf h, ByteBuf data) {
        return new DataOut(Bhs.bit(h, 1, 0x80), h.getLong(8), h.getInt(16), h.getInt(20), h.getInt(28), h.getInt(36),
                h.getInt(40), data);
    }
}
