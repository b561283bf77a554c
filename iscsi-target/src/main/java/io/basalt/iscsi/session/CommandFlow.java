package io.basalt.iscsi.session;

import io.basalt.iscsi.pdu.DataOut;
import io.basalt.iscsi.pdu.ProtocolException;
import io.basalt.iscsi.pdu.ScsiCommand;
import io.basalt.iscsi.scsi.LogicalUnit;
import io.basalt.iscsi.scsi.ScsiRequest;
import io.basalt.iscsi.scsi.ScsiResult;
import io.basalt.iscsi.scsi.Sense;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SCSI commands from their SCSI Command PDU to their answer: admission against the command
 * window and the in-flight byte budget, the data-out phase of writes (by {@link DataOutFlow}),
 * execution on the logical unit, and the way back to the event loop to answer.
 *
 * <p>Bounds: at most {@link TargetSettings#commandWindowCountMax()} commands in flight (plus
 * {@link #IMMEDIATE_SLACK_COUNT} immediate ones), at most {@link #INFLIGHT_BYTES_MAX} of expected
 * transfers between them; beyond either a command gets TASK SET FULL.
 */
final class CommandFlow {

    private static final Logger log = LoggerFactory.getLogger(Connection.class);
    /** Commands beyond the CmdSN window that are immediate still get a slot, up to this many. */
    private static final int IMMEDIATE_SLACK_COUNT = 4;
    /** Sum of expected transfer lengths of the commands in flight; beyond it new ones get TASK SET FULL. */
    static final long INFLIGHT_BYTES_MAX = 2L * LogicalUnit.TRANSFER_BYTES_MAX;
    /**
     * Reads expecting at least this much data get a pooled direct buffer to read into (smaller
     * transfers are INQUIRY-sized answers not worth one); at most our largest transfer.
     */
    static final int DATA_IN_BUFFER_BYTES_MIN = 512;

    private final ConnectionState state;
    private final ResponseWriter responses;
    private final DataOutFlow dataOut;

    CommandFlow(ConnectionState state, ResponseWriter responses) {
        this.state = state;
        this.responses = responses;
        this.dataOut = new DataOutFlow(state, responses);
    }

    void onCommand(ScsiCommand c) {
        if (state.phase != ConnectionState.Phase.FULL_FEATURE || state.target == null) {
            throw new ProtocolException("SCSI Command in a " + (state.target == null ? "discovery session" : state.phase + " connection"));
        }
        if (!state.admit(c.immediate(), c.cmdSn())) {
            return;
        }
        TaskTable tasks = state.tasks;
        if (tasks.contains(c.itt())) {
            throw new ProtocolException("ITT: 0x" + Integer.toHexString(c.itt()) + " (expected: not in use)");
        }
        Task t = new Task(c);
        if (c.data().isReadable() && !c.transfer().write()) {
            throw new ProtocolException("immediate data: " + c.data().readableBytes() + " bytes without the W bit");
        }
        long bytes = Math.max(t.expectedBytes, 0);
        boolean full = tasks.size() >= state.settings.commandWindowCountMax() + IMMEDIATE_SLACK_COUNT
                || (!tasks.isEmpty() && tasks.inflightBytes() + bytes > INFLIGHT_BYTES_MAX);
        if (full) {
            responses.sendResult(t, ScsiResult.status(ScsiResult.TASK_SET_FULL), false);
            return;
        }
        tasks.add(t, bytes);
        if (t.write && t.expectedBytes != 0) {
            if (dataOut.start(t, c)) {
                maybeExecute(t);
            }
        } else {
            execute(t);
        }
    }

    void onDataOut(DataOut d) {
        Task t = dataOut.receive(d);
        if (t != null) {
            maybeExecute(t);
        }
    }

    private void maybeExecute(Task t) {
        if (t.execution == null && t.dataComplete()) {
            execute(t);
        }
    }

    private void execute(Task t) {
        ByteBuffer data = t.buffer == null ? ByteBuffer.allocate(0) : t.buffer.nioBuffer(0, t.expectedBytes);
        ByteBuffer dataIn = null;
        if (t.read && !t.write && t.expectedBytes >= DATA_IN_BUFFER_BYTES_MIN && t.expectedBytes <= LogicalUnit.TRANSFER_BYTES_MAX) {
            // A pooled direct buffer the device can read into; Data-In PDUs are slices of it. Released
            // in complete(), which runs only after the device's future completed.
            t.buffer = state.ctx.alloc().directBuffer(t.expectedBytes, t.expectedBytes);
            dataIn = t.buffer.nioBuffer(0, t.expectedBytes);
            t.dataInView = dataIn;
        }
        CompletableFuture<ScsiResult> f = state.target.luns().execute(t.lun,
                new ScsiRequest(state.nexus, t.cdb, data, Math.max(t.expectedBytes, 0), dataIn));
        t.execution = f;
        f.whenComplete((res, err) -> {
            if (state.ctx.executor().inEventLoop()) {
                complete(t, res, err);      // the device answered synchronously: no extra hop
                return;
            }
            try {
                state.ctx.executor().execute(() -> complete(t, res, err));
            } catch (RejectedExecutionException e) {
                t.releaseBuffer();    // the event loop is gone: nobody will answer, but the buffer goes back
            }
        });
    }

    private void complete(Task t, ScsiResult res, Throwable err) {
        state.tasks.finish(t);
        try {
            if (t.aborted || state.phase == ConnectionState.Phase.CLOSED) {
                return;
            }
            if (err != null) {
                log.error("command 0x{} failed unexpectedly", Integer.toHexString(t.cdb.u8(0)), err);
                res = ScsiResult.check(Sense.INTERNAL_TARGET_FAILURE);
            }
            responses.sendResult(t, res, true);
        } finally {
            t.releaseBuffer();     // Data-In PDUs hold their own references to slices of a read buffer
        }
    }
}
