package io.basalt.iscsi.pdu;

/**
 * What data a SCSI command moves (RFC 7143 §11.3.1-4): the R and W bits and the Expected Data
 * Transfer Length in bytes, the initiator's buffer size for the command (an unsigned 32-bit
 * value: negative here when above 2 GiB).
 */
public record Transfer(boolean read, boolean write, int expectedBytes) {

    /** No data (TEST UNIT READY and the like). */
    public static Transfer none() {
        return new Transfer(false, false, 0);
    }

    /** Data from target to initiator. */
    public static Transfer read(int expectedBytes) {
        return new Transfer(true, false, expectedBytes);
    }

    /** Data from initiator to target. */
    public static Transfer write(int expectedBytes) {
        return new Transfer(false, true, expectedBytes);
    }
}
