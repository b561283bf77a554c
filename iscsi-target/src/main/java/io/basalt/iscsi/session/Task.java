package io.basalt.iscsi.session;

import io.basalt.iscsi.pdu.Bytes;
import io.basalt.iscsi.pdu.ScsiCommand;
import io.basalt.iscsi.scsi.TargetLuns;
import io.netty.buffer.ByteBuf;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One SCSI command of a connection, from its SCSI Command PDU to its response. For a write it
 * owns the buffer the data-out phase fills (released exactly once, by {@link #releaseBuffer()})
 * and the R2T bookkeeping. Touched only on the connection's event loop.
 */
final class Task {

    /** One outstanding R2T: the window it asked for and how much of it has arrived. */
    static final class Solicitation {
        final int ttt;
        final int offset;
        final int length;
        int receivedBytes;
        int nextDataSn;

        Solicitation(int ttt, int offset, int length) {
            this.ttt = ttt;
            this.offset = offset;
            this.length = length;
        }
    }

    final int itt;
    final int lun;
    final long lunField;
    final Bytes cdb;
    final int expectedBytes;
    final boolean write;
    final boolean read;
    final int cmdSn;
    /** A write's data-out buffer, or a read's data-in buffer (see {@link #dataInView}); released once. */
    ByteBuf buffer;
    /** For a read: the NIO view of {@link #buffer} handed to the device; a result carrying it is sent from the buffer. */
    java.nio.ByteBuffer dataInView;
    int unsolicitedEnd;
    boolean unsolicitedDone;
    int unsolicitedNextDataSn;
    int nextR2tOffset;
    int r2tSn;
    final Map<Integer, Solicitation> solicitations = new LinkedHashMap<>();
    CompletableFuture<?> execution;
    long reservedBytes;
    boolean aborted;

    /** The task of command {@code c}; keeps only header fields, not its data segment. */
    Task(ScsiCommand c) {
        this.itt = c.itt();
        this.lun = TargetLuns.decodeLun(c.lun());
        this.lunField = c.lun();
        this.cdb = c.cdb();
        this.expectedBytes = c.transfer().expectedBytes();
        this.read = c.transfer().read();
        this.write = c.transfer().write();
        this.cmdSn = c.cmdSn();
    }

    /** True once every byte of the data-out phase has arrived. */
    boolean dataComplete() {
        return !write || (unsolicitedDone && solicitations.isEmpty() && nextR2tOffset >= expectedBytes);
    }

    void releaseBuffer() {
        if (buffer != null) {
            buffer.release();
            buffer = null;
            dataInView = null;
        }
    }
}
