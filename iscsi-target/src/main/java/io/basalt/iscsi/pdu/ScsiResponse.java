package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/**
 * SCSI Response (RFC 7143 §11.4). {@code overflow}/{@code underflow} with {@code residualCount}
 * report the difference between the expected and the actual transfer; {@code data} holds the
 * two-byte SenseLength and the sense data when there is any.
 */
public record ScsiResponse(boolean bidiOverflow, boolean bidiUnderflow, boolean overflow, boolean underflow,
                           int response, int status, int itt, int statSn, int expCmdSn, int maxCmdSn, int expDataSn,
                           int bidiResidualCount, int residualCount, ByteBuf data) implements Pdu {

    @Override
    public Opcode opcode() {
        return Opcode.SCSI_RESPONSE;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        h.setByte(1, Bhs.FINAL | (bidiOverflow ? 0x10 : 0) | (bidiUnderflow ? 0x08 : 0) | (overflow ? 0x04 : 0) | (underflow ? 0x02 : 0));
        h.setByte(2, response);
        h.setByte(3, status);
        h.setInt(16, itt);
        h.setInt(24, statSn);
        h.setInt(28, expCmdSn);
        h.setInt(32, maxCmdSn);
        h.setInt(36, expDataSn);
        h.setInt(40, bidiResidualCount);
        h.setInt(44, residualCount);
    }

    static ScsiResponse decode(ByteBuf h, ByteBuf data) {
        int f = Bhs.u8(h, 1);
        return new ScsiResponse((f & 0x10) != 0, (f & 0x08) != 0, (f & 0x04) != 0, (f & 0x02) != 0, Bhs.u8(h, 2),
                Bhs.u8(h, 3), h.getInt(16), h.getInt(24), h.getInt(28), h.getInt(32), h.getInt(36), h.getInt(40),
                h.getInt(44), data);
    }
}
