package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/**
 * The three sequence numbers every target PDU carries at bytes 24..35 (RFC 7143 §4.2.2):
 * StatSN (the status numbering; meaningful only on PDUs that carry a status), and ExpCmdSN and
 * MaxCmdSN, the command window the initiator may send into.
 */
public record SequenceNumbers(int statSn, int expCmdSn, int maxCmdSn) {

    void write(ByteBuf h) {
        h.setInt(24, statSn);
        h.setInt(28, expCmdSn);
        h.setInt(32, maxCmdSn);
    }

    static SequenceNumbers read(ByteBuf h) {
        return new SequenceNumbers(h.getInt(24), h.getInt(28), h.getInt(32));
    }
}
