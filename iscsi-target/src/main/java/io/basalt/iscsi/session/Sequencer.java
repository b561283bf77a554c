package io.basalt.iscsi.session;

import io.basalt.iscsi.pdu.Pdu;
import io.basalt.iscsi.pdu.SequenceNumbers;
import java.util.function.IntSupplier;

/**
 * A connection's sequence numbers (RFC 7143 §4.2.2): StatSN for its responses, the command
 * window ExpCmdSN..MaxCmdSN, and the target transfer tags of its R2Ts and NOP-In pings. With one
 * connection per session the window admits no gaps. Touched only on the event loop.
 */
final class Sequencer {

    private final int windowCountMax;
    private final IntSupplier slotsInUse;
    private int statSn;
    private int expCmdSn;
    private int maxCmdSn;
    private int nextTtt = 1;

    /**
     * @param windowCountMax commands in flight per session: MaxCmdSN - ExpCmdSN + 1 at rest
     * @param slotsInUse the commands in flight now, each taking a slot of the window
     */
    Sequencer(int windowCountMax, IntSupplier slotsInUse) {
        this.windowCountMax = windowCountMax;
        this.slotsInUse = slotsInUse;
    }

    /** Takes the initiator's numbering from the first Login Request. */
    void start(int cmdSn, int expStatSn) {
        expCmdSn = cmdSn;
        maxCmdSn = expCmdSn + windowCountMax - 1;
        statSn = expStatSn;
    }

    /** Admits a non-immediate PDU only at ExpCmdSN (one connection: no gaps); false drops it. */
    boolean admit(boolean immediate, int cmdSn) {
        if (immediate) {
            return true;
        }
        if (cmdSn == expCmdSn) {
            expCmdSn++;
            return true;
        }
        return false;
    }

    /** The numbers for a PDU that carries a status: uses up a StatSN. */
    SequenceNumbers nextStatus() {
        return new SequenceNumbers(statSn++, expCmdSn, maxCmdSn());
    }

    /** The numbers for a PDU without a status (R2T, NOP-In ping, Data-In before the last): StatSN stays. */
    SequenceNumbers current() {
        return new SequenceNumbers(statSn, expCmdSn, maxCmdSn());
    }

    int expCmdSn() {
        return expCmdSn;
    }

    /** MaxCmdSN = ExpCmdSN + free slots - 1; never moves backwards. */
    int maxCmdSn() {
        int v = expCmdSn + windowCountMax - slotsInUse.getAsInt() - 1;
        if (v - maxCmdSn > 0) {
            maxCmdSn = v;
        }
        return maxCmdSn;
    }

    /** MaxCmdSN as last sent, without recomputing it (for log lines). */
    int lastMaxCmdSn() {
        return maxCmdSn;
    }

    /** The next target transfer tag; never the reserved one. */
    int nextTtt() {
        int t = nextTtt++;
        if (nextTtt == Pdu.RESERVED_TAG) {
            nextTtt = 1;
        }
        return t;
    }
}
