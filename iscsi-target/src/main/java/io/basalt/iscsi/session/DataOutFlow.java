package io.basalt.iscsi.session;

import io.basalt.iscsi.pdu.DataOut;
import io.basalt.iscsi.pdu.Pdu;
import io.basalt.iscsi.pdu.ProtocolException;
import io.basalt.iscsi.pdu.R2t;
import io.basalt.iscsi.pdu.ScsiCommand;
import io.basalt.iscsi.scsi.LogicalUnit;
import io.basalt.iscsi.scsi.ScsiResult;
import io.basalt.iscsi.scsi.Sense;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The data-out phase of a write (RFC 7143 §7.1.4): immediate data, unsolicited Data-Out up to
 * FirstBurstLength, then R2Ts soliciting the rest, at most MaxOutstandingR2T at a time. The
 * data lands in the task's buffer; {@link Task#dataComplete()} says when the command may run.
 */
final class DataOutFlow {

    private static final Logger log = LoggerFactory.getLogger(Connection.class);
    private static final int RESERVED = Pdu.RESERVED_TAG;
    /** A write carries at most this much data: our largest transfer (COMPARE AND WRITE's is far smaller). */
    static final int WRITE_BUFFER_BYTES_MAX = LogicalUnit.TRANSFER_BYTES_MAX;
    private static final Sense DATA_PHASE_ERROR = Sense.of(Sense.ABORTED_COMMAND, 0x4b, 0x00);

    private final ConnectionState state;
    private final ResponseWriter responses;

    DataOutFlow(ConnectionState state, ResponseWriter responses) {
        this.state = state;
        this.responses = responses;
    }

    /**
     * Starts the data-out phase of admitted write {@code t} with the command's immediate data.
     * Returns false when the command was answered at once (too big to buffer).
     */
    boolean start(Task t, ScsiCommand c) {
        SessionParams params = state.params;
        int imm = c.data().readableBytes();
        int firstBurst = Math.min(params.firstBurstLength(), t.expectedBytes);
        if (imm > 0 && !params.immediateData()) {
            throw new ProtocolException("immediate data: " + imm + " bytes (expected: none, ImmediateData=No)");
        }
        if (imm > firstBurst) {
            throw new ProtocolException("immediate data: " + imm + " bytes (expected: <= " + firstBurst + ")");
        }
        if (t.expectedBytes < 0 || t.expectedBytes > WRITE_BUFFER_BYTES_MAX) {
            // Too big to buffer: answer now; any unsolicited data that follows finds no task and is dropped.
            state.tasks.finish(t);
            responses.sendResult(t, ScsiResult.check(Sense.INVALID_FIELD_IN_CDB), true);
            return false;
        }
        t.buffer = state.ctx.alloc().directBuffer(t.expectedBytes, t.expectedBytes);
        t.buffer.setBytes(0, c.data(), c.data().readerIndex(), imm);
        t.unsolicitedEnd = imm;
        t.unsolicitedDone = c.finalPdu() || imm == firstBurst || params.initialR2t();
        if (t.unsolicitedDone) {
            t.nextR2tOffset = imm;
            solicit(t);
        }
        return true;
    }

    /**
     * Takes one Data-Out into its task's buffer. Returns that task, or null when the PDU was
     * dropped (its command already ended) or ended its command (a data sequence error).
     */
    Task receive(DataOut d) {
        Task t = state.tasks.get(d.itt());
        if (t == null || t.aborted || t.buffer == null || t.execution != null) {
            return null;     // the command already ended (answered early or aborted): its data is dropped
        }
        int len = d.data().readableBytes();
        int off = d.bufferOffset();
        if (off < 0 || len > t.expectedBytes - off) {
            throw new ProtocolException("Data-Out BufferOffset " + off + " + length " + len + " (expected: <= " + t.expectedBytes + ")");
        }
        try {
            if (d.ttt() == RESERVED) {
                unsolicitedData(t, d, off, len);
            } else {
                solicitedData(t, d, off, len);
            }
        } catch (DataSequenceError e) {
            // RFC 7143 §7.1.4.1 at ERL 0: end the command, not the connection. Later Data-Out
            // PDUs for it find no task and are dropped.
            log.info("{}: ending task 0x{}: {}", state.peer(), Integer.toHexString(t.itt), e.getMessage());
            t.releaseBuffer();
            state.tasks.finish(t);
            responses.sendResult(t, ScsiResult.check(DATA_PHASE_ERROR), false);
            return null;
        }
        return t;
    }

    /** A Data-Out out of sequence: fails its command. */
    private static final class DataSequenceError extends RuntimeException {
        DataSequenceError(String message) {
            super(message, null, false, false);
        }
    }

    private void unsolicitedData(Task t, DataOut d, int off, int len) {
        int firstBurst = Math.min(state.params.firstBurstLength(), t.expectedBytes);
        if (t.unsolicitedDone || off + len > firstBurst) {
            throw new ProtocolException("unsolicited Data-Out at " + off + "+" + len + " (expected: within FirstBurstLength " + firstBurst + ", before the F bit)");
        }
        if (d.dataSn() != t.unsolicitedNextDataSn) {
            throw new DataSequenceError("DataSN: " + d.dataSn() + " (expected: " + t.unsolicitedNextDataSn + ")");
        }
        t.unsolicitedNextDataSn++;
        t.buffer.setBytes(off, d.data(), d.data().readerIndex(), len);
        t.unsolicitedEnd = Math.max(t.unsolicitedEnd, off + len);
        if (d.finalPdu()) {
            t.unsolicitedDone = true;
            t.nextR2tOffset = t.unsolicitedEnd;
            solicit(t);
        }
    }

    private void solicitedData(Task t, DataOut d, int off, int len) {
        Task.Solicitation s = t.solicitations.get(d.ttt());
        if (s == null) {
            throw new ProtocolException("Data-Out TTT: 0x" + Integer.toHexString(d.ttt()) + " (expected: an outstanding R2T)");
        }
        if (off < s.offset || off + len > s.offset + s.length) {
            throw new ProtocolException("Data-Out at " + off + "+" + len + " (expected: within R2T " + s.offset + "+" + s.length + ")");
        }
        if (d.dataSn() != s.nextDataSn) {
            throw new DataSequenceError("DataSN: " + d.dataSn() + " (expected: " + s.nextDataSn + ")");
        }
        s.nextDataSn++;
        t.buffer.setBytes(off, d.data(), d.data().readerIndex(), len);
        s.receivedBytes += len;
        if (d.finalPdu() || s.receivedBytes >= s.length) {
            if (s.receivedBytes != s.length) {
                throw new ProtocolException("R2T burst: " + s.receivedBytes + " bytes with the F bit (expected: " + s.length + ")");
            }
            t.solicitations.remove(s.ttt);
            solicit(t);
        }
    }

    /** Sends R2Ts for the rest of the data, at most MaxOutstandingR2T at a time. */
    private void solicit(Task t) {
        SessionParams params = state.params;
        Sequencer sn = state.sequencer;
        while (t.solicitations.size() < params.maxOutstandingR2t() && t.nextR2tOffset < t.expectedBytes) {
            int len = Math.min(params.maxBurstLength(), t.expectedBytes - t.nextR2tOffset);
            Task.Solicitation s = new Task.Solicitation(sn.nextTtt(), t.nextR2tOffset, len);
            t.solicitations.put(s.ttt, s);
            t.nextR2tOffset += len;
            state.ctx.write(new R2t(t.lunField, t.itt, s.ttt, sn.current(), t.r2tSn++, s.offset, len));
        }
    }
}
