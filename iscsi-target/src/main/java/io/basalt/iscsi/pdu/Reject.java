package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Reject (RFC 7143 §11.17); {@code data} is the header of the rejected PDU. */
public record Reject(int reason, SequenceNumbers sn, int dataSnOrR2tSn, ByteBuf data) implements Pdu {

    public static final int DATA_DIGEST_ERROR = 0x02;
    public static final int SNACK_REJECT = 0x03;
    public static final int PROTOCOL_ERROR = 0x04;
    public static final int COMMAND_NOT_SUPPORTED = 0x05;
    public static final int IMMEDIATE_COMMAND_REJECT = 0x06;
    public static final int TASK_IN_PROGRESS = 0x07;
    public static final int INVALID_DATA_ACK = 0x08;
    public static final int INVALID_PDU_FIELD = 0x09;
    public static final int OUT_OF_RESOURCES = 0x0a;
    public static final int WAITING_FOR_LOGOUT = 0x0c;

    @Override
    public Opcode opcode() {
        return Opcode.REJECT;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        h.setByte(1, Bhs.FINAL);
        h.setByte(2, reason);
        h.setInt(16, RESERVED_TAG);
        sn.write(h);
        h.setInt(36, dataSnOrR2tSn);
    }

    static Reject decode(ByteBuf h, ByteBuf data) {
        return new Reject(Bhs.u8(h, 2), SequenceNumbers.read(h), h.getInt(36), data);
    }
}
