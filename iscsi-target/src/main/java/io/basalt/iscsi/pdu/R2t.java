package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Ready To Transfer (RFC 7143 §11.8): asks for {@code desiredLength} bytes at {@code bufferOffset}. */
public record R2t(long lun, int itt, int ttt, SequenceNumbers sn, int r2tSn, int bufferOffset, int desiredLength) implements Pdu {

    @Override
    public Opcode opcode() {
        return Opcode.R2T;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        h.setByte(1, Bhs.FINAL);
        h.setLong(8, lun);
        h.setInt(16, itt);
        h.setInt(20, ttt);
        sn.write(h);
        h.setInt(36, r2tSn);
        h.setInt(40, bufferOffset);
        h.setInt(44, desiredLength);
    }

    static R2t decode(ByteBuf h, ByteBuf data) {
        Bhs.requireNoData(Opcode.R2T, data);
        return new R2t(h.getLong(8), h.getInt(16), h.getInt(20), SequenceNumbers.read(h), h.getInt(36), h.getInt(40),
                h.getInt(44));
    }
}
