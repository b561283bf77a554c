package io.basalt.iscsi.session;

import io.basalt.iscsi.pdu.DataIn;
import io.basalt.iscsi.pdu.Pdu;
import io.basalt.iscsi.pdu.Residual;
import io.basalt.iscsi.pdu.ScsiResponse;
import io.basalt.iscsi.scsi.LogicalUnit;
import io.basalt.iscsi.scsi.ScsiResult;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;

/**
 * Answers a SCSI command: its Data-In PDUs, split at the initiator's MaxRecvDataSegmentLength
 * and MaxBurstLength, with the status collapsed into the last one when the command succeeded;
 * otherwise a SCSI Response with the sense data. Computes the residual.
 */
final class ResponseWriter {

    private static final int RESERVED = Pdu.RESERVED_TAG;

    private final ConnectionState state;

    ResponseWriter(ConnectionState state) {
        this.state = state;
    }

    /** Data-In (with status when the command succeeded), or a SCSI Response with sense data. */
    void sendResult(Task t, ScsiResult res, boolean flush) {
        ByteBuffer in = res.dataIn();
        int produced = in.remaining();
        int edtl = Math.max(t.expectedBytes, 0);
        int toSend = t.read ? Math.min(produced, edtl) : 0;
        // Parameter-list commands (UNMAP, MODE SELECT...) do not report a wanted length: no residual.
        long wanted = res.dataOutBytesWanted() >= 0 ? res.dataOutBytesWanted() : t.write ? edtl : produced;
        Residual residual = new Residual(wanted > edtl, wanted < edtl, (int) Math.min(Math.abs(wanted - edtl), Integer.MAX_VALUE));
        boolean collapse = toSend > 0 && !res.hasSense();
        DataIn.Status lastStatus = collapse ? DataIn.Status.of(res.status(), residual) : DataIn.Status.NONE;
        int dataSn = toSend > 0 ? sendDataIn(t, in, toSend, lastStatus) : 0;
        if (!collapse) {
            state.ctx.write(new ScsiResponse(0, res.status(), t.itt, state.sequencer.nextStatus(), dataSn, Residual.NONE,
                    residual, senseData(t, res)));
        }
        if (flush) {
            state.ctx.flush();
        }
    }

    /**
     * Sends {@code toSend} bytes as Data-In PDUs, the last with {@code lastStatus}; sequences end
     * every MaxBurstLength bytes. Returns the PDU count.
     */
    private int sendDataIn(Task t, ByteBuffer in, int toSend, DataIn.Status lastStatus) {
        ByteBuf all = t.buffer != null && in == t.dataInView
                ? t.buffer.retainedSlice(in.position(), toSend)          // the device read into our buffer: no copy
                : Unpooled.wrappedBuffer(in.slice(in.position(), toSend));
        try {
            int segment = state.params.initiatorMaxRecvDataSegmentLength();
            int burst = state.params.maxBurstLength();
            Sequencer sn = state.sequencer;
            int dataSn = 0;
            for (int off = 0; off < toSend; ) {
                int n = Math.min(Math.min(segment, toSend - off), burst - off % burst);
                boolean last = off + n == toSend;
                boolean endOfSequence = last || (off + n) % burst == 0;
                DataIn.Status status = last ? lastStatus : DataIn.Status.NONE;
                state.ctx.write(new DataIn(endOfSequence, false, t.lunField, t.itt, RESERVED,
                        status.present() ? sn.nextStatus() : sn.current(), dataSn++, off, status, all.retainedSlice(off, n)));
                off += n;
            }
            return dataSn;
        } finally {
            all.release();
        }
    }

    private ByteBuf senseData(Task t, ScsiResult res) {
        if (!res.hasSense()) {
            return Unpooled.EMPTY_BUFFER;
        }
        LogicalUnit lu = state.target == null ? null : state.target.luns().lun(t.lun);
        ByteBuffer sense = res.sense().encode(lu != null && lu.descriptorSense());
        ByteBuf b = state.ctx.alloc().buffer(2 + sense.remaining());
        return b.writeShort(sense.remaining()).writeBytes(sense);
    }
}
