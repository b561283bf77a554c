package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Task Management Function Request (RFC 7143 §11.5). */
public record TaskMgmtRequest(boolean immediate, int function, long lun, int itt, int referencedTaskTag, int cmdSn,
                              int expStatSn, int refCmdSn, int expDataSn) implements Pdu {

    public static final int ABORT_TASK = 1;
    public static final int ABORT_TASK_SET = 2;
    public static final int CLEAR_ACA = 3;
    public static final int CLEAR_TASK_SET = 4;
    public static final int LOGICAL_UNIT_RESET = 5;
    public static final int TARGET_WARM_RESET = 6;
    public static final int TARGET_COLD_RESET = 7;
    public static final int TASK_REASSIGN = 8;

    @Override
    public Opcode opcode() {
        return Opcode.TASK_MGMT_REQUEST;
    }

    @Override
    public void encodeFields(ByteBuf h) {
        h.setByte(1, Bhs.FINAL | (function & 0x7f));
        h.setLong(8, lun);
        h.setInt(16, itt);
        h.setInt(20, referencedTaskTag);
        h.setInt(24, cmdSn);
        h.setInt(28, expStatSn);
        h.setInt(32, refCmdSn);
        h.setInt(36, expDataSn);
    }

    static TaskMgmtRequest decode(ByteBuf h, ByteBuf data) {
        Bhs.requireNoData(Opcode.TASK_MGMT_REQUEST, data);
        return new TaskMgmtRequest(Bhs.bit(h, 0, 0x40), Bhs.u8(h, 1) & 0x7f, h.getLong(8), h.getInt(16), h.getInt(20),
                h.getInt(24), h.getInt(28), h.getInt(32), h.getInt(36));
    }
}
