package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** NOP-In (RFC 7143 §11.19): the answer to a ping, or a target ping ({@code ttt} not reserved). */
public record NopIn(long lun, int itt, int ttt, SequenceNumbers sn, ByteBuf data) implements Pdu {

    @Override
    public Opcode opcode() {
        return Opcode.NOP_IN;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        h.setByte(1, Bhs.FINAL);
        h.setLong(8, lun);
        h.setInt(16, itt);
        h.setInt(20, ttt);
        sn.write(h);
    }

    static NopIn decode(ByteBuf h, ByteBuf data) {
        return new NopIn(h.getLong(8), h.getInt(16), h.getInt(20), SequenceNumbers.read(h), data);
    }
}
