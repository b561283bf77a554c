package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/**
 * SCSI Data-In (RFC 7143 §11.7). With {@code hasStatus} the last PDU of a read also carries the
 * SCSI status and residual (phase collapse), and no SCSI Response follows.
 */
public record DataIn(boolean finalPdu, boolean acknowledge, boolean overflow, boolean underflow, boolean hasStatus,
                     int status, long lun, int itt, int ttt, int statSn, int expCmdSn, int maxCmdSn, int dataSn,
                     int bufferOffset, int residualCount, ByteBuf data) implements Pdu {

    @Override
    public Opcode opcode() {
        return Opcode.DATA_IN;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        h.setByte(1, (finalPdu ? 0x80 : 0) | (acknowledge ? 0x40 : 0) | (overflow ? 0x04 : 0) | (underflow ? 0x02 : 0)
                | (hasStatus ? 0x01 : 0));
        h.setByte(3, hasStatus ? status : 0);
        h.setLong(8, lun);
        h.setInt(16, itt);
        h.setInt(20, ttt);
        h.setInt(24, hasStatus ? statSn : 0);
        h.setInt(28, expCmdSn);
        h.setInt(32, maxCmdSn);
        h.setInt(36, dataSn);
        h.setInt(40, bufferOffset);
        h.setInt(44, residualCount);
    }

    static DataIn decode(ByteBuf h, ByteBuf data) {
        int f = Bhs.u8(h, 1);
        return new DataIn((f & 0x80) != 0, (f & 0x40) != 0, (f & 0x04) != 0, (f & 0x02) != 0, (f & 0x01) != 0,
                Bhs.u8(h, 3), h.getLong(8), h.getInt(16), h.getInt(20), h.getInt(24), h.getInt(28), h.getInt(32),
                h.getInt(36), h.getInt(40), h.getInt(44), data);
    }
}
