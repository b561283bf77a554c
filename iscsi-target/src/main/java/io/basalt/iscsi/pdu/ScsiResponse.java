package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/**
 * SCSI Response (RFC 7143 §11.4). {@code residual} reports the difference between the expected
 * and the actual transfer ({@code bidiResidual} that of a bidirectional command's read); {@code
 * data} holds the two-byte SenseLength and the sense data when there is any.
 */
public record ScsiResponse(int response, int status, int itt, SequenceNumbers sn, int expDataSn, Residual bidiResidual,
                           Residual residual, ByteBuf data) implements Pdu {

    private static final int BIDI_OVERFLOW = 0x10;
    private static final int OVERFLOW = 0x04;

    @Override
    public Opcode opcode() {
        return Opcode.SCSI_RESPONSE;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        h.setByte(1, Bhs.FINAL | bidiResidual.flags(BIDI_OVERFLOW) | residual.flags(OVERFLOW));
        h.setByte(2, response);
        h.setByte(3, status);
        h.setInt(16, itt);
        sn.write(h);
        h.setInt(36, expDataSn);
        h.setInt(40, bidiResidual.count());
        h.setInt(44, residual.count());
    }

    static ScsiResponse decode(ByteBuf h, ByteBuf data) {
        int f = Bhs.u8(h, 1);
        return new ScsiResponse(Bhs.u8(h, 2), Bhs.u8(h, 3), h.getInt(16), SequenceNumbers.read(h), h.getInt(36),
                Residual.of(f, BIDI_OVERFLOW, h.getInt(40)), Residual.of(f, OVERFLOW, h.getInt(44)), data);
    }
}
