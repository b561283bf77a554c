package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/**
 * SCSI Data-In (RFC 7143 §11.7). With a {@link Status} the last PDU of a read also carries the
 * SCSI status and residual (phase collapse), and no SCSI Response follows; the StatSN of
 * {@code sn} goes on the wire only then.
 */
public record DataIn(boolean finalPdu, boolean acknowledge, long lun, int itt, int ttt, SequenceNumbers sn, int dataSn,
                     int bufferOffset, Status status, ByteBuf data) implements Pdu {

    private static final int OVERFLOW = 0x04;

    /** The S bit with the SCSI status and residual it brings; {@link #NONE} on a PDU without status. */
    public record Status(boolean present, int scsiStatus, Residual residual) {

        public static final Status NONE = new Status(false, 0, Residual.NONE);

        public static Status of(int scsiStatus, Residual residual) {
            return new Status(true, scsiStatus, residual);
        }
    }

    @Override
    public Opcode opcode() {
        return Opcode.DATA_IN;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        h.setByte(1, (finalPdu ? 0x80 : 0) | (acknowledge ? 0x40 : 0) | status.residual().flags(OVERFLOW)
                | (status.present() ? 0x01 : 0));
        h.setByte(3, status.present() ? status.scsiStatus() : 0);
        h.setLong(8, lun);
        h.setInt(16, itt);
        h.setInt(20, ttt);
        sn.write(h);
        h.setInt(24, status.present() ? sn.statSn() : 0);
        h.setInt(36, dataSn);
        h.setInt(40, bufferOffset);
        h.setInt(44, status.residual().count());
    }

    static DataIn decode(ByteBuf h, ByteBuf data) {
        int f = Bhs.u8(h, 1);
        Status status = (f & 0x01) != 0 ? Status.of(Bhs.u8(h, 3), Residual.of(f, OVERFLOW, h.getInt(44))) : Status.NONE;
        return new DataIn((f & 0x80) != 0, (f & 0x40) != 0, h.getLong(8), h.getInt(16), h.getInt(20),
                SequenceNumbers.read(h), h.getInt(36), h.getInt(40), status, data);
    }
}
