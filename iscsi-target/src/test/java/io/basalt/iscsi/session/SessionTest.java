package io.basalt.iscsi.session;

import static io.basalt.iscsi.session.InitiatorHarness.RESERVED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.basalt.iscsi.MemoryBlockDevice;
import io.basalt.iscsi.pdu.Bytes;
import io.basalt.iscsi.pdu.DataIn;
import io.basalt.iscsi.pdu.DataOut;
import io.basalt.iscsi.pdu.LogoutRequest;
import io.basalt.iscsi.pdu.LogoutResponse;
import io.basalt.iscsi.pdu.NopIn;
import io.basalt.iscsi.pdu.NopOut;
import io.basalt.iscsi.pdu.Pdu;
import io.basalt.iscsi.pdu.R2t;
import io.basalt.iscsi.pdu.ScsiCommand;
import io.basalt.iscsi.pdu.ScsiResponse;
import io.basalt.iscsi.pdu.TextRequest;
import io.basalt.iscsi.pdu.TextResponse;
import io.basalt.iscsi.pdu.Transfer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A real connection driven PDU by PDU: login, R2T and Data-Out, Data-In, CmdSN window, logout. */
class SessionTest {

    private final MemoryBlockDevice device = new MemoryBlockDevice("mem", 512, 1 << 20, Runnable::run);
    private InitiatorHarness h;

    @AfterEach
    void noLeaks() {
        if (h != null) {
            h.close();
            assertEquals(0, h.alloc.unreleased(), "buffers not released");
        }
    }

    private static Bytes rw(int opcode, long lba, int blocks) {
        byte[] c = new byte[16];
        c[0] = (byte) opcode;
        c[2] = (byte) (lba >> 24);
        c[3] = (byte) (lba >> 16);
        c[4] = (byte) (lba >> 8);
        c[5] = (byte) lba;
        c[7] = (byte) (blocks >> 8);
        c[8] = (byte) blocks;
        return Bytes.wrapOwned(c);
    }

    private static ByteBuf pattern(int n, int seed) {
        ByteBuf b = Unpooled.buffer(n);
        for (int i = 0; i < n; i++) {
            b.writeByte(i * 13 + seed);
        }
        return b;
    }

    @Test
    void negotiatesMinimumsAndChoosesFirstSupportedDigest() {
        h = new InitiatorHarness(device, null, InitiatorHarness.settings());
        Map<String, String> keys = h.login("HeaderDigest=CRC32C,None", "DataDigest=None,CRC32C", "MaxBurstLength=999999",
                "FirstBurstLength=2048", "InitialR2T=No", "ImmediateData=Yes", "MaxOutstandingR2T=64", "ErrorRecoveryLevel=2",
                "MaxRecvDataSegmentLength=1024", "X-com.example.Foo=1", "DefaultTime2Wait=0", "MaxConnections=8");
        assertEquals("CRC32C", keys.get("HeaderDigest"));
        assertEquals("None", keys.get("DataDigest"));
        assertEquals("65536", keys.get("MaxBurstLength"));
        assertEquals("2048", keys.get("FirstBurstLength"));
        assertEquals("No", keys.get("InitialR2T"));
        assertEquals("Yes", keys.get("ImmediateData"));
        assertEquals("4", keys.get("MaxOutstandingR2T"));
        assertEquals("0", keys.get("ErrorRecoveryLevel"));
        assertEquals("NotUnderstood", keys.get("X-com.example.Foo"));
        assertEquals("2", keys.get("DefaultTime2Wait"));
        assertEquals("1", keys.get("MaxConnections"));
        assertEquals("8192", keys.get("MaxRecvDataSegmentLength"));
        assertEquals("1", keys.get("TargetPortalGroupTag"));
    }

    @Test
    void writeIsSolicitedByR2tsThenReadComesBackInSegmentsAndBursts() {
        h = new InitiatorHarness(device, null, InitiatorHarness.settings());
        h.login("HeaderDigest=CRC32C", "DataDigest=CRC32C", "InitialR2T=Yes", "ImmediateData=No", "MaxBurstLength=4096",
                "MaxOutstandingR2T=2", "MaxRecvDataSegmentLength=1024");
        int bytes = 32 * 512;
        ByteBuf data = pattern(bytes, 3);
        h.send(new ScsiCommand(false, true, ScsiCommand.ATTR_SIMPLE, 0, 1, Transfer.write(bytes), h.cmdSn++, 0, rw(0x2a, 8, 32), Unpooled.EMPTY_BUFFER));
        List<Pdu> r2ts = h.receive();
        assertEquals(2, r2ts.size(), "MaxOutstandingR2T=2 of 4096 bytes each");
        answer(r2ts, data, 1024);
        List<Pdu> more = h.receive();
        assertEquals(2, more.size(), "two more R2Ts once the first two were answered");
        answer(more, data, 1024);
        ScsiResponse done = h.receiveOne(ScsiResponse.class);
        assertEquals(0, done.status());
        done.release();

        h.send(new ScsiCommand(false, true, ScsiCommand.ATTR_SIMPLE, 0, 2, Transfer.read(bytes), h.cmdSn++, 0, rw(0x28, 8, 32), Unpooled.EMPTY_BUFFER));
        List<Pdu> in = h.receive();
        assertEquals(16, in.size(), "1024-byte segments");
        ByteBuf read = Unpooled.buffer(bytes);
        for (int i = 0; i < in.size(); i++) {
            DataIn d = (DataIn) in.get(i);
            assertEquals(i, d.dataSn());
            assertEquals(i * 1024, d.bufferOffset());
            assertEquals((i + 1) % 4 == 0, d.finalPdu(), "F bit every MaxBurstLength");
            assertEquals(i == 15, d.status().present());
            read.writeBytes(d.data());
            d.release();
        }
        assertEquals(data, read);
        data.release();
    }

    /** Answers each R2T with Data-Out PDUs of {@code segment} bytes taken from {@code data}. */
    private void answer(List<Pdu> r2ts, ByteBuf data, int segment) {
        for (Pdu p : r2ts) {
            R2t r = (R2t) p;
            int sn = 0;
            for (int off = r.bufferOffset(); off < r.bufferOffset() + r.desiredLength(); off += segment) {
                boolean last = off + segment >= r.bufferOffset() + r.desiredLength();
                h.send(new DataOut(last, 0, r.itt(), r.ttt(), 0, sn++, off, data.retainedSlice(off, segment)));
            }
        }
    }

    @Test
    void immediateAndUnsolicitedDataThenR2tForTheRest() {
        h = new InitiatorHarness(device, null, InitiatorHarness.settings());
        h.login("InitialR2T=No", "ImmediateData=Yes", "FirstBurstLength=1024", "MaxBurstLength=8192");
        int bytes = 4096;
        ByteBuf data = pattern(bytes, 9);
        h.send(new ScsiCommand(false, false, ScsiCommand.ATTR_SIMPLE, 0, 5, Transfer.write(bytes), h.cmdSn++, 0, rw(0x2a, 0, 8), data.retainedSlice(0, 512)));
        assertTrue(h.receive().isEmpty(), "no R2T before the unsolicited burst ends");
        h.send(new DataOut(true, 0, 5, RESERVED, 0, 0, 512, data.retainedSlice(512, 512)));
        R2t r2t = h.receiveOne(R2t.class);
        assertEquals(1024, r2t.bufferOffset());
        assertEquals(3072, r2t.desiredLength());
        h.send(new DataOut(true, 0, 5, r2t.ttt(), 0, 0, 1024, data.retainedSlice(1024, 3072)));
        ScsiResponse done = h.receiveOne(ScsiResponse.class);
        assertEquals(0, done.status());
        done.release();
        ByteBuf stored = Unpooled.wrappedBuffer(device.read(0, 8).join());
        assertEquals(data, stored);
        data.release();
    }

    @Test
    void commandOutsideTheCmdSnWindowIsIgnored() {
        h = new InitiatorHarness(device, null, InitiatorHarness.settings());
        h.login();
        Bytes tur = Bytes.wrapOwned(new byte[16]);
        h.send(new ScsiCommand(false, true, ScsiCommand.ATTR_SIMPLE, 0, 7, Transfer.none(), h.cmdSn + 100, 0, tur, Unpooled.EMPTY_BUFFER));
        assertTrue(h.receive().isEmpty());
        h.send(new ScsiCommand(false, true, ScsiCommand.ATTR_SIMPLE, 0, 8, Transfer.none(), h.cmdSn++, 0, tur, Unpooled.EMPTY_BUFFER));
        ScsiResponse r = h.receiveOne(ScsiResponse.class);
        assertEquals(8, r.itt());
        assertEquals(h.cmdSn, r.sn().expCmdSn());
        assertTrue(r.sn().maxCmdSn() - r.sn().expCmdSn() == 15, "window of 16 commands");
        r.release();
    }

    @Test
    void dataSnOutOfOrderEndsTheCommandButNotTheConnection() {
        h = new InitiatorHarness(device, null, InitiatorHarness.settings());
        h.login("InitialR2T=No", "ImmediateData=No", "FirstBurstLength=4096");
        ByteBuf data = pattern(1024, 1);
        h.send(new ScsiCommand(false, false, ScsiCommand.ATTR_SIMPLE, 0, 9, Transfer.write(1024), h.cmdSn++, 0, rw(0x2a, 0, 2), Unpooled.EMPTY_BUFFER));
        h.send(new DataOut(false, 0, 9, RESERVED, 0, 1, 0, data.retainedSlice(0, 512)));
        ScsiResponse r = h.receiveOne(ScsiResponse.class);
        assertEquals(2, r.status());
        r.release();
        h.send(new DataOut(true, 0, 9, RESERVED, 0, 1, 512, data.retainedSlice(512, 512)));   // late: dropped
        assertTrue(h.receive().isEmpty());
        assertTrue(h.channel.isOpen());
        assertEquals(0, device.mappedBlockCount());
        data.release();
    }

    @Test
    void answersNopAndSendTargetsAndLogsOut() {
        h = new InitiatorHarness(device, null, InitiatorHarness.settings());
        h.login();
        h.send(new NopOut(true, 0, 20, RESERVED, h.cmdSn, 0, pattern(10, 2)));
        NopIn nop = h.receiveOne(NopIn.class);
        assertEquals(20, nop.itt());
        assertEquals(10, nop.data().readableBytes());
        nop.release();
        h.send(new TextRequest(false, true, false, 0, 21, RESERVED, h.cmdSn++, 0, InitiatorHarness.text(h.alloc, "SendTargets=")));
        TextResponse text = h.receiveOne(TextResponse.class);
        assertEquals(InitiatorHarness.TARGET, InitiatorHarness.keys(text).get("TargetName"));
        text.release();
        h.send(new LogoutRequest(true, 0, 22, 0, h.cmdSn, 0));
        LogoutResponse bye = h.receiveOne(LogoutResponse.class);
        assertEquals(0, bye.response());
        bye.release();
        assertFalse(h.channel.isOpen());
    }

    @Test
    void abortOfAnAnsweredCommandIsTaskDoesNotExist() {
        h = new InitiatorHarness(device, null, InitiatorHarness.settings());
        h.login();
        int cmdSn = h.cmdSn++;
        h.send(new ScsiCommand(false, true, ScsiCommand.ATTR_SIMPLE, 0, 30, Transfer.none(), cmdSn, 0, Bytes.wrapOwned(new byte[16]), Unpooled.EMPTY_BUFFER));
        h.receiveOne(ScsiResponse.class).release();
        h.send(new io.basalt.iscsi.pdu.TaskMgmtRequest(true, io.basalt.iscsi.pdu.TaskMgmtRequest.ABORT_TASK, 0, 31, 30, h.cmdSn, 0, cmdSn, 0));
        io.basalt.iscsi.pdu.TaskMgmtResponse r = h.receiveOne(io.basalt.iscsi.pdu.TaskMgmtResponse.class);
        assertEquals(io.basalt.iscsi.pdu.TaskMgmtResponse.TASK_DOES_NOT_EXIST, r.response());
    }

    @Test
    void abortOfAWriteWaitingForDataEndsItWithoutAResponse() {
        h = new InitiatorHarness(device, null, InitiatorHarness.settings());
        h.login("InitialR2T=Yes");
        int cmdSn = h.cmdSn++;
        h.send(new ScsiCommand(false, true, ScsiCommand.ATTR_SIMPLE, 0, 40, Transfer.write(1024), cmdSn, 0, rw(0x2a, 0, 2), Unpooled.EMPTY_BUFFER));
        h.receiveOne(R2t.class).release();
        h.send(new io.basalt.iscsi.pdu.TaskMgmtRequest(true, io.basalt.iscsi.pdu.TaskMgmtRequest.ABORT_TASK, 0, 41, 40, h.cmdSn, 0, cmdSn, 0));
        io.basalt.iscsi.pdu.TaskMgmtResponse r = h.receiveOne(io.basalt.iscsi.pdu.TaskMgmtResponse.class);
        assertEquals(io.basalt.iscsi.pdu.TaskMgmtResponse.FUNCTION_COMPLETE, r.response());
        assertEquals(0, device.mappedBlockCount());
    }

    @Test
    void refusesAnUnknownTarget() {
        h = new InitiatorHarness(device, null, InitiatorHarness.settings());
        h.send(new io.basalt.iscsi.pdu.LoginRequest(new io.basalt.iscsi.pdu.LoginStage(true, false, 1, 3), 0, 0, new io.basalt.iscsi.pdu.SessionId(1, 0), 1, 0, 1, 0,
                InitiatorHarness.text(h.alloc, "InitiatorName=iqn.2026-11.x:y", "TargetName=iqn.2026-11.nope:z")));
        io.basalt.iscsi.pdu.LoginResponse r = h.receiveOne(io.basalt.iscsi.pdu.LoginResponse.class);
        assertEquals(2, r.status().statusClass());
        assertEquals(3, r.status().statusDetail());
        r.release();
        assertFalse(h.channel.isOpen());
    }
}
