package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/**
 * The session identity in a login (RFC 7143 §11.12.5-6): the initiator's six-byte ISID and the
 * target's TSIH, 0 until the target assigns one when login completes.
 */
public record SessionId(long isid, int tsih) {

    public SessionId {
        if (isid >>> 48 != 0) {
            throw new IllegalArgumentException("ISID: 0x" + Long.toHexString(isid) + " (expected: six bytes)");
        }
        if (tsih >>> 16 != 0) {
            throw new IllegalArgumentException("TSIH: " + tsih + " (expected: 0..65535)");
        }
    }

    void write(ByteBuf h) {
        Bhs.setIsid(h, isid);
        h.setShort(14, tsih);
    }

    static SessionId read(ByteBuf h) {
        return new SessionId(Bhs.isid(h), Bhs.u16(h, 14));
    }
}
