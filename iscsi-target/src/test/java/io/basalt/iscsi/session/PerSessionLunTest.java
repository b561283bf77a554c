package io.basalt.iscsi.session;

import static io.basalt.iscsi.session.InitiatorHarness.RESERVED;
import static io.basalt.iscsi.session.InitiatorHarness.TARGET;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.basalt.iscsi.MemoryBlockDevice;
import io.basalt.iscsi.pdu.Bytes;
import io.basalt.iscsi.pdu.DataIn;
import io.basalt.iscsi.pdu.NopIn;
import io.basalt.iscsi.pdu.NopOut;
import io.basalt.iscsi.pdu.ScsiCommand;
import io.basalt.iscsi.pdu.ScsiResponse;
import io.basalt.iscsi.pdu.TaskMgmtRequest;
import io.basalt.iscsi.pdu.TaskMgmtResponse;
import io.basalt.iscsi.pdu.Transfer;
import io.basalt.iscsi.scsi.Initiator;
import io.basalt.iscsi.scsi.LunSource;
import io.basalt.iscsi.scsi.TargetLuns;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.CompareResult;
import io.basalt.vdisk.FencedException;
import io.basalt.vdisk.LbaStatus;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * LUNs whose sessions read and write through devices a {@link LunSource} opens per initiator,
 * fenced writes, and the {@link SessionListener}: real connections driven PDU by PDU.
 */
class PerSessionLunTest {

    private static final String HOST_A = "iqn.2026-11.io.basalt:host-a";
    private static final String HOST_B = "iqn.2026-11.io.basalt:host-b";
    private static final String[] IMMEDIATE = {"InitialR2T=No", "ImmediateData=Yes"};
    private static final int BLOCK_BYTES = 512;
    private static final int STATUS_GOOD = 0;
    private static final int STATUS_CHECK_CONDITION = 2;
    private static final int STATUS_BUSY = 8;
    private static final int STATUS_RESERVATION_CONFLICT = 0x18;

    /** A source that opens one memory device per initiator name (through {@link #wrap}) and logs every call. */
    private static final class RecordingSource implements LunSource {
        final MemoryBlockDevice identity = new MemoryBlockDevice("vd0", BLOCK_BYTES, 1 << 20, Runnable::run);
        final Map<String, MemoryBlockDevice> byHost = new HashMap<>();
        final List<String> events = new ArrayList<>();
        final List<BlockDevice> closedDevices = new ArrayList<>();
        Function<MemoryBlockDevice, BlockDevice> wrap = d -> d;
        /** Open attempts still to fail, with a TRANSIENT device exception. */
        int failingOpens;

        @Override
        public BlockDevice device() {
            return identity;
        }

        @Override
        public synchronized CompletableFuture<BlockDevice> open(Initiator who) {
            events.add("open " + who.name());
            if (failingOpens > 0) {
                failingOpens--;
                return CompletableFuture.failedFuture(new BlockDeviceException(BlockDeviceException.Kind.TRANSIENT, "lock not granted yet: " + who.name()));
            }
            MemoryBlockDevice d = byHost.computeIfAbsent(who.name(), n -> new MemoryBlockDevice("vd0", BLOCK_BYTES, 1 << 20, Runnable::run));
            return CompletableFuture.completedFuture(wrap.apply(d));
        }

        @Override
        public synchronized void closed(Initiator who, BlockDevice device) {
            events.add("closed " + who.name());
            closedDevices.add(device);
        }

        synchronized List<String> events() {
            return List.copyOf(events);
        }
    }

    /** How a device reports a fenced write. */
    enum FenceReport { THROWN, FAILED_FUTURE, CAUSE_OF_DEVICE_EXCEPTION }

    /** A memory device whose mutations, once {@link #fenced}, fail with a FencedException; reads always pass. */
    private static final class FencedDevice implements BlockDevice {
        private final MemoryBlockDevice d;
        private final FenceReport report;
        volatile boolean fenced;

        FencedDevice(MemoryBlockDevice d, FenceReport report) {
            this.d = d;
            this.report = report;
        }

        private <T> CompletableFuture<T> refuseOr(java.util.function.Supplier<CompletableFuture<T>> op) {
            if (!fenced) {
                return op.get();
            }
            FencedException e = new FencedException("vd0", 3, 4);
            return switch (report) {
                case THROWN -> throw e;
                case FAILED_FUTURE -> CompletableFuture.failedFuture(e);
                case CAUSE_OF_DEVICE_EXCEPTION -> CompletableFuture.failedFuture(new BlockDeviceException(BlockDeviceException.Kind.IO, "write failed", e));
            };
        }

        @Override public String name() { return d.name(); }
        @Override public int logicalBlockSizeBytes() { return d.logicalBlockSizeBytes(); }
        @Override public long sizeBytes() { return d.sizeBytes(); }
        @Override public boolean readOnly() { return false; }
        @Override public CompletableFuture<ByteBuffer> read(long lba, int blockCount) { return d.read(lba, blockCount); }
        @Override public CompletableFuture<Void> write(long lba, ByteBuffer data, boolean fua) { return refuseOr(() -> d.write(lba, data, fua)); }
        @Override public CompletableFuture<Void> flush() { return d.flush(); }
        @Override public CompletableFuture<Void> unmap(long lba, long blockCount) { return refuseOr(() -> d.unmap(lba, blockCount)); }
        @Override public CompletableFuture<Void> writeZeroes(long lba, long blockCount, boolean unmap) { return refuseOr(() -> d.writeZeroes(lba, blockCount, unmap)); }
        @Override public CompletableFuture<CompareResult> compareAndWrite(long lba, ByteBuffer expected, ByteBuffer data) { return refuseOr(() -> d.compareAndWrite(lba, expected, data)); }
        @Override public CompletableFuture<List<LbaStatus>> getLbaStatus(long lba, long blockCountMax) { return d.getLbaStatus(lba, blockCountMax); }
        @Override public CompletableFuture<Void> resize(long newSizeBytes) { return d.resize(newSizeBytes); }
        @Override public void close() { d.close(); }
    }

    /** Started and ended sessions, in order. */
    private static final class RecordingListener implements SessionListener {
        final List<InitiatorSession> started = new ArrayList<>();
        final List<InitiatorSession> ended = new ArrayList<>();

        @Override
        public void started(InitiatorSession session) {
            started.add(session);
        }

        @Override
        public void ended(InitiatorSession session) {
            ended.add(session);
        }
    }

    private final RecordingSource source = new RecordingSource();
    private final TargetConfig target = new TargetConfig(TargetLuns.ofSources(TARGET, Map.of(0, source)), Set.of(), null);
    private final SessionRegistry registry = new SessionRegistry();
    private final List<InitiatorHarness> harnesses = new ArrayList<>();

    private InitiatorHarness connect(TargetSettings settings, SessionListener listener) {
        InitiatorHarness h = new InitiatorHarness(target, registry, settings, listener);
        harnesses.add(h);
        return h;
    }

    private InitiatorHarness loggedIn(String host, long isid) {
        InitiatorHarness h = connect(InitiatorHarness.settings(), SessionListener.NONE);
        h.loginAs(host, isid, IMMEDIATE);
        return h;
    }

    @AfterEach
    void noLeaks() {
        for (InitiatorHarness h : harnesses) {
            h.close();
            assertEquals(0, h.alloc.unreleased(), "buffers not released");
        }
    }

    private static Bytes cdb(int... bytes) {
        byte[] c = new byte[16];
        for (int i = 0; i < bytes.length; i++) {
            c[i] = (byte) bytes[i];
        }
        return Bytes.wrapOwned(c);
    }

    private static Bytes write10(long lba, int blocks) {
        return cdb(0x2a, 0, (int) (lba >> 24), (int) (lba >> 16), (int) (lba >> 8), (int) lba, 0, blocks >> 8, blocks);
    }

    private static ByteBuffer filled(int value) {
        byte[] b = new byte[BLOCK_BYTES];
        Arrays.fill(b, (byte) value);
        return ByteBuffer.wrap(b);
    }

    /** Sends a command with all its data as immediate data; returns the SCSI Response (the caller releases it). */
    private static ScsiResponse command(InitiatorHarness h, Bytes cdb, ByteBuffer data) {
        int itt = h.itt++;
        Transfer transfer = data.hasRemaining() ? Transfer.write(data.remaining()) : Transfer.none();
        h.send(new ScsiCommand(false, true, ScsiCommand.ATTR_SIMPLE, 0, itt, transfer, h.cmdSn++, 0, cdb, Unpooled.wrappedBuffer(data.duplicate())));
        ScsiResponse r = h.receiveOne(ScsiResponse.class);
        assertEquals(itt, r.itt());
        return r;
    }

    /** The status of a command; its sense, if any, as key/ASC/ASCQ in {@code sense} when not null. */
    private static int status(InitiatorHarness h, Bytes cdb, ByteBuffer data, int[] sense) {
        ScsiResponse r = command(h, cdb, data);
        try {
            if (sense != null && r.data().readableBytes() > 2) {
                ByteBuf s = r.data().slice(r.data().readerIndex() + 2, r.data().readableBytes() - 2);
                assertEquals(0x70, s.getByte(0) & 0x7f, "fixed-format sense");
                sense[0] = s.getByte(2) & 0x0f;
                sense[1] = s.getByte(12) & 0xff;
                sense[2] = s.getByte(13) & 0xff;
            }
            return r.status();
        } finally {
            r.release();
        }
    }

    private static int write(InitiatorHarness h, long lba, int value) {
        return status(h, write10(lba, 1), filled(value), null);
    }

    @Test
    void eachInitiatorWritesThroughTheDeviceItsSourceOpenedAndEachEndedSessionClosesIt() {
        InitiatorHarness a = loggedIn(HOST_A, 1);
        InitiatorHarness b = loggedIn(HOST_B, 2);
        assertEquals(List.of(), source.events(), "nothing is opened at login");

        assertEquals(STATUS_GOOD, write(a, 8, 'A'));
        assertEquals(STATUS_GOOD, write(b, 8, 'B'));
        assertEquals(STATUS_GOOD, write(a, 9, 'a'));

        assertEquals(filled('A'), source.byHost.get(HOST_A).read(8, 1).join());
        assertEquals(filled('a'), source.byHost.get(HOST_A).read(9, 1).join());
        assertEquals(filled('B'), source.byHost.get(HOST_B).read(8, 1).join());
        assertEquals(filled(0), source.byHost.get(HOST_B).read(9, 1).join(), "B never wrote block 9");
        assertEquals(filled(0), source.identity.read(8, 1).join(), "the LUN's identity device is never written");
        assertEquals(List.of("open " + HOST_A, "open " + HOST_B), source.events(), "one open per session");

        a.channel.close();
        assertEquals(List.of("open " + HOST_A, "open " + HOST_B, "closed " + HOST_A), source.events());
        assertSame(source.byHost.get(HOST_A), source.closedDevices.get(0));
        assertEquals(STATUS_GOOD, write(b, 10, 'b'), "the other session carries on");
        b.channel.close();
        assertEquals("closed " + HOST_B, source.events().get(3));
    }

    @Test
    void aReinstatingLoginClosesTheOldSessionsDeviceAndOpensItsOwn() {
        RecordingListener listener = new RecordingListener();
        InitiatorHarness first = connect(InitiatorHarness.settings(), listener);
        first.loginAs(HOST_A, 1, IMMEDIATE);
        assertEquals(STATUS_GOOD, write(first, 8, 'A'));
        InitiatorHarness second = connect(InitiatorHarness.settings(), listener);
        second.loginAs(HOST_A, 1, IMMEDIATE);
        first.channel.runPendingTasks();
        assertFalse(first.channel.isOpen(), "reinstated");
        assertEquals(List.of("open " + HOST_A, "closed " + HOST_A), source.events());
        assertEquals(2, listener.started.size());
        assertEquals(List.of(listener.started.get(0)), listener.ended, "the reinstated session ended, the new one lives");
        assertNotEquals(listener.started.get(0).initiator().tsih(), listener.started.get(1).initiator().tsih());

        assertEquals(STATUS_GOOD, write(second, 9, 'a'));
        assertEquals(List.of("open " + HOST_A, "closed " + HOST_A, "open " + HOST_A), source.events());
    }

    @Test
    void aFailedOpenFailsThatCommandAndTheNextCommandOpensAgain() {
        source.failingOpens = 1;
        InitiatorHarness a = loggedIn(HOST_A, 1);
        assertEquals(STATUS_BUSY, write(a, 8, 'A'), "a TRANSIENT failure is BUSY");
        assertEquals(STATUS_GOOD, write(a, 8, 'A'));
        assertEquals(List.of("open " + HOST_A, "open " + HOST_A), source.events());
        assertEquals(filled('A'), source.byHost.get(HOST_A).read(8, 1).join());
        a.channel.close();
        assertEquals(List.of("open " + HOST_A, "open " + HOST_A, "closed " + HOST_A), source.events(), "only the open that succeeded is closed");
    }

    @ParameterizedTest
    @EnumSource(FenceReport.class)
    void aFencedWriteAnswersDataProtectWriteProtectedAndChangesNothing(FenceReport report) {
        List<FencedDevice> devices = new ArrayList<>();
        source.wrap = d -> {
            FencedDevice f = new FencedDevice(d, report);
            devices.add(f);
            return f;
        };
        InitiatorHarness a = loggedIn(HOST_A, 1);
        assertEquals(STATUS_GOOD, write(a, 8, 'A'));
        devices.get(0).fenced = true;

        int[] sense = new int[3];
        assertEquals(STATUS_CHECK_CONDITION, status(a, write10(8, 1), filled('Z'), sense));
        assertEquals(List.of(0x07, 0x27, 0x00), List.of(sense[0], sense[1], sense[2]), "DATA PROTECT, WRITE PROTECTED");
        int[] unmapSense = new int[3];
        ByteBuffer unmapList = ByteBuffer.allocate(24).putShort(0, (short) 22).putShort(2, (short) 16).putLong(8, 8).putInt(16, 1);
        assertEquals(STATUS_CHECK_CONDITION, status(a, cdb(0x42, 0, 0, 0, 0, 0, 0, 0, 24), unmapList, unmapSense), "UNMAP is fenced too");
        assertEquals(List.of(0x07, 0x27, 0x00), List.of(unmapSense[0], unmapSense[1], unmapSense[2]));
        assertEquals(filled('A'), source.byHost.get(HOST_A).read(8, 1).join(), "the data is untouched");

        a.send(new ScsiCommand(false, true, ScsiCommand.ATTR_SIMPLE, 0, a.itt++, Transfer.read(BLOCK_BYTES), a.cmdSn++, 0,
                cdb(0x28, 0, 0, 0, 0, 8, 0, 0, 1), Unpooled.EMPTY_BUFFER));
        DataIn in = a.receiveOne(DataIn.class);
        try {
            assertTrue(in.status().present());
            assertEquals(STATUS_GOOD, in.status().scsiStatus(), "a read is never fenced");
            assertEquals(Unpooled.wrappedBuffer(filled('A')), in.data());
        } finally {
            in.release();
        }
    }

    @Test
    void reservationsAndUnitAttentionsStayPerLunAcrossTheSessionsDevices() {
        InitiatorHarness a = loggedIn(HOST_A, 1);
        InitiatorHarness b = loggedIn(HOST_B, 2);
        ByteBuffer register = ByteBuffer.allocate(24).putLong(8, 0xaL);
        assertEquals(STATUS_GOOD, status(a, cdb(0x5f, 0x00, 0, 0, 0, 0, 0, 0, 24), register, null), "PR OUT REGISTER");
        ByteBuffer reserve = ByteBuffer.allocate(24).putLong(0, 0xaL);
        assertEquals(STATUS_GOOD, status(a, cdb(0x5f, 0x01, 0x01, 0, 0, 0, 0, 0, 24), reserve, null), "PR OUT RESERVE, write exclusive");

        assertEquals(STATUS_RESERVATION_CONFLICT, write(b, 8, 'B'));
        assertEquals(STATUS_GOOD, write(a, 8, 'A'));
        assertNull(source.byHost.get(HOST_B), "B's refused write opened nothing");

        a.send(new TaskMgmtRequest(true, TaskMgmtRequest.LOGICAL_UNIT_RESET, 0, a.itt++, RESERVED, a.cmdSn, 0, a.cmdSn, 0));
        a.receiveOne(TaskMgmtResponse.class).release();
        int[] sense = new int[3];
        assertEquals(STATUS_CHECK_CONDITION, status(b, cdb(0x00), ByteBuffer.allocate(0), sense), "TEST UNIT READY");
        assertEquals(List.of(0x06, 0x29, 0x03), List.of(sense[0], sense[1], sense[2]), "the other session hears of the LUN reset");
        assertEquals(STATUS_GOOD, status(a, cdb(0x00), ByteBuffer.allocate(0), null), "the resetting one does not");
        assertEquals(STATUS_RESERVATION_CONFLICT, write(b, 8, 'B'), "a persistent reservation survives a LUN reset");
    }

    private static void elapse(InitiatorHarness h, Duration d) {
        h.clock.addAndGet(d.toNanos());
        h.channel.advanceTimeBy(1, TimeUnit.SECONDS);
        h.channel.runScheduledPendingTasks();
    }

    @Test
    void theListenerSeesTheSessionStartStayHeardFromAndEndWhenItsPingsGoUnanswered() {
        RecordingListener listener = new RecordingListener();
        TargetSettings pinging = new TargetSettings(8192, 65536, 16384, false, 4, 16, Duration.ofSeconds(5), Duration.ofSeconds(5),
                Duration.ofSeconds(10));
        InitiatorHarness a = connect(pinging, listener);
        a.loginAs(HOST_A, 0x400001370007L, IMMEDIATE);
        assertEquals(1, listener.started.size());
        InitiatorSession s = listener.started.get(0);
        assertEquals(HOST_A, s.initiator().name());
        assertEquals(0x400001370007L, s.initiator().isid());
        assertNotEquals(0, s.initiator().tsih());
        assertEquals(TARGET, s.targetName());

        elapse(a, Duration.ofSeconds(3));
        assertEquals(Duration.ofSeconds(3), s.silence());
        a.send(new NopOut(true, 0, a.itt++, RESERVED, a.cmdSn, 0, Unpooled.EMPTY_BUFFER));
        a.receiveOne(NopIn.class).release();
        assertEquals(Duration.ZERO, s.silence(), "any PDU counts");
        assertEquals(List.of(), listener.ended);

        elapse(a, Duration.ofSeconds(6));
        a.receiveOne(NopIn.class).release();     // the target's ping, left unanswered
        elapse(a, Duration.ofSeconds(6));
        assertFalse(a.channel.isOpen());
        assertEquals(List.of(s), listener.ended, "the session ends with its connection: nothing is retained");
        assertTrue(s.ended());
    }
}
