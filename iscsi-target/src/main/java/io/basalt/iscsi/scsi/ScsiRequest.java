package io.basalt.iscsi.scsi;

import io.basalt.iscsi.pdu.Bytes;
import java.nio.ByteBuffer;

/**
 * One SCSI command as the transport delivered it. {@code dataOut} holds exactly the bytes the
 * initiator sent (the iSCSI expected transfer length); it stays valid until the result completes.
 *
 * @param dataInBuffer null, or a buffer (capacity at least the expected transfer length, usually
 *     direct memory of the transport) a command may read its data into and return as its result's
 *     {@code dataIn}, the same object with position 0 and its limit at the bytes produced: the
 *     transport then sends it without copying. Valid until the result completes.
 */
public record ScsiRequest(Nexus nexus, Bytes cdb, ByteBuffer dataOut, int expectedDataTransferLength, ByteBuffer dataInBuffer) {

    public ScsiRequest(Nexus nexus, Bytes cdb, ByteBuffer dataOut, int expectedDataTransferLength) {
        this(nexus, cdb, dataOut, expectedDataTransferLength, null);
    }

    public int opcode() {
        return cdb.u8(0);
    }

    public int u8(int i) {
        return cdb.u8(i);
    }

    public int u16(int i) {
        return (cdb.u8(i) << 8) | cdb.u8(i + 1);
    }

    public int u24(int i) {
        return (cdb.u8(i) << 16) | u16(i + 1);
    }

    public long u32(int i) {
        return ((long) u16(i) << 16) | u16(i + 2);
    }

    public long u64(int i) {
        return (u32(i) << 32) | u32(i + 4);
    }
}
