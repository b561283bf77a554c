package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Asynchronous Message (RFC 7143 §11.9); event 1 asks the initiator to log out. */
public record AsyncMessage(long lun, SequenceNumbers sn, int asyncEvent, int asyncVCode,
                           int parameter1, int parameter2, int parameter3, ByteBuf data) implements Pdu {

    public static final int EVENT_SCSI = 0;
    public static final int EVENT_LOGOUT_REQUEST = 1;

    @Override
    public Opcode opcode() {
        return Opcode.ASYNC_MESSAGE;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        h.setByte(1, Bhs.FINAL);
        h.setLong(8, lun);
        h.setInt(16, RESERVED_TAG);
        sn.write(h);
        h.setByte(36, asyncEvent);
        h.setByte(37, asyncVCode);
        h.setShort(38, parameter1);
        h.setShort(40, parameter2);
        h.setShort(42, parameter3);
    }

    static AsyncMessage decode(ByteBuf h, ByteBuf data) {
        return new AsyncMessage(h.getLong(8), SequenceNumbers.read(h), Bhs.u8(h, 36), Bhs.u8(h, 37),
                Bhs.u16(h, 38), Bhs.u16(h, 40), Bhs.u16(h, 42), data);
    }
}
