package io.basalt.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** One PDU of every kind an initiator or a target sends, some with data segments of awkward lengths. */
final class SamplePdus {

    private SamplePdus() {
    }

    static ByteBuf bytes(int n, int seed) {
        ByteBuf b = Unpooled.buffer(n);
        for (int i = 0; i < n; i++) {
            b.writeByte(i * 31 + seed);
        }
        return b;
    }

    static Bytes cdb(int length) {
        byte[] c = new byte[length];
        c[0] = 0x2a;
        for (int i = 1; i < length; i++) {
            c[i] = (byte) (i * 7);
        }
        return Bytes.wrapOwned(c);
    }

    /** Fresh instances (each call allocates new data buffers). */
    static List<Pdu> initiatorPdus() {
        return List.of(
                new NopOut(true, 0, 7, Pdu.RESERVED_TAG, 10, 20, bytes(5, 1)),
                new ScsiCommand(false, true, ScsiCommand.ATTR_SIMPLE, 0x0001_0000_0000_0000L, 8, Transfer.write(4096), 11, 21, cdb(16), bytes(513, 2)),
                new ScsiCommand(false, true, ScsiCommand.ATTR_SIMPLE, 0, 9, Transfer.read(512), 12, 22, cdb(32), Unpooled.EMPTY_BUFFER),
                new TaskMgmtRequest(true, TaskMgmtRequest.ABORT_TASK, 0, 10, 8, 13, 23, 11, 0),
                new LoginRequest(new LoginStage(true, false, 1, 3), 0, 0, new SessionId(0x400001370000L, 0), 11, 0, 1, 0,
                        Unpooled.copiedBuffer("InitiatorName=iqn.x\0HeaderDigest=None\0", StandardCharsets.UTF_8)),
                new TextRequest(true, true, false, 0, 12, Pdu.RESERVED_TAG, 14, 24,
                        Unpooled.copiedBuffer("SendTargets=All\0", StandardCharsets.UTF_8)),
                new DataOut(true, 0, 8, 77, 25, 3, 8192, bytes(1000, 3)),
                new LogoutRequest(true, 0, 13, 0, 15, 26),
                new SnackRequest(0, 0, 14, Pdu.RESERVED_TAG, 27, 0, 0));
    }

    /** Fresh instances of every target PDU, flags and grouped fields set to non-default values. */
    static List<Pdu> targetPdus() {
        SequenceNumbers sn = new SequenceNumbers(100, 200, 215);
        long lun1 = 0x0001_0000_0000_0000L;
        return List.of(
                new NopIn(0, 20, Pdu.RESERVED_TAG, sn, bytes(5, 4)),
                new ScsiResponse(0, 2, 9, sn, 4, new Residual(false, true, 3), new Residual(true, false, 1024), bytes(20, 5)),
                new TaskMgmtResponse(TaskMgmtResponse.FUNCTION_REJECTED, 23, sn),
                new LoginResponse(new LoginStage(true, false, LoginStage.OPERATIONAL, LoginStage.FULL_FEATURE), 0, 0,
                        new SessionId(0x400001370000L, 7), 11, sn, LoginStatus.SUCCESS,
                        Unpooled.copiedBuffer("HeaderDigest=None\0", StandardCharsets.UTF_8)),
                new LoginResponse(new LoginStage(false, true, LoginStage.SECURITY, LoginStage.SECURITY), 0, 0,
                        new SessionId(1, 0), 12, sn, new LoginStatus(2, 1), Unpooled.EMPTY_BUFFER),
                new TextResponse(true, false, 0, 21, Pdu.RESERVED_TAG, sn, bytes(7, 6)),
                new DataIn(true, false, lun1, 5, Pdu.RESERVED_TAG, sn, 3, 4096,
                        DataIn.Status.of(0, new Residual(false, true, 512)), bytes(1000, 7)),
                new DataIn(false, false, lun1, 5, Pdu.RESERVED_TAG, new SequenceNumbers(0, 200, 215), 2, 2048,
                        DataIn.Status.NONE, bytes(1024, 8)),
                new LogoutResponse(1, 22, sn, 2, 0),
                new R2t(lun1, 5, 77, sn, 2, 8192, 65536),
                new AsyncMessage(0, sn, AsyncMessage.EVENT_LOGOUT_REQUEST, 0, 0, 0, 2, Unpooled.EMPTY_BUFFER),
                new Reject(Reject.SNACK_REJECT, sn, 0, bytes(48, 9)));
    }
}
