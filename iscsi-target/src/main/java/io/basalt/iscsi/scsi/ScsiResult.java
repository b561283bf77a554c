package io.basalt.iscsi.scsi;

import java.nio.ByteBuffer;

/**
 * The outcome of one SCSI command: status, sense data for CHECK CONDITION, data for the
 * initiator (owned by the caller) and, for commands that take data, how many bytes the CDB
 * asked for (the SCSI transfer length, which iSCSI compares with the expected length).
 *
 * @param dataOutBytesWanted the SCSI data-out transfer length, or -1 when the command takes none
 */
public record ScsiResult(int status, Sense sense, ByteBuffer dataIn, long dataOutBytesWanted) {

    public static final int GOOD = 0x00;
    public static final int CHECK_CONDITION = 0x02;
    public static final int CONDITION_MET = 0x04;
    public static final int BUSY = 0x08;
    public static final int RESERVATION_CONFLICT = 0x18;
    public static final int TASK_SET_FULL = 0x28;
    public static final int TASK_ABORTED = 0x40;

    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

    public static ScsiResult good() {
        return new ScsiResult(GOOD, Sense.NONE, EMPTY, -1);
    }

    public static ScsiResult good(ByteBuffer dataIn) {
        return new ScsiResult(GOOD, Sense.NONE, dataIn, -1);
    }

    public static ScsiResult status(int status) {
        return new ScsiResult(status, Sense.NONE, EMPTY, -1);
    }

    public static ScsiResult check(Sense sense) {
        return new ScsiResult(CHECK_CONDITION, sense, EMPTY, -1);
    }

    public ScsiResult withDataOutWanted(long bytes) {
        return new ScsiResult(status, sense, dataIn, bytes);
    }

    public boolean hasSense() {
        return status == CHECK_CONDITION;
    }
}
