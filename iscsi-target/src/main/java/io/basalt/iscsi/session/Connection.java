package io.basalt.iscsi.session;

import io.basalt.iscsi.pdu.AsyncMessage;
import io.basalt.iscsi.pdu.DataIn;
import io.basalt.iscsi.pdu.DataOut;
import io.basalt.iscsi.pdu.LoginRequest;
import io.basalt.iscsi.pdu.LoginResponse;
import io.basalt.iscsi.pdu.LogoutRequest;
import io.basalt.iscsi.pdu.LogoutResponse;
import io.basalt.iscsi.pdu.NopIn;
import io.basalt.iscsi.pdu.NopOut;
import io.basalt.iscsi.pdu.Pdu;
import io.basalt.iscsi.pdu.PduDecoder;
import io.basalt.iscsi.pdu.PduEncoder;
import io.basalt.iscsi.pdu.ProtocolException;
import io.basalt.iscsi.pdu.R2t;
import io.basalt.iscsi.pdu.Reject;
import io.basalt.iscsi.pdu.ScsiCommand;
import io.basalt.iscsi.pdu.ScsiResponse;
import io.basalt.iscsi.pdu.SnackRequest;
import io.basalt.iscsi.pdu.TaskMgmtRequest;
import io.basalt.iscsi.pdu.TaskMgmtResponse;
import io.basalt.iscsi.pdu.TextKeys;
import io.basalt.iscsi.pdu.TextKeys.Pair;
import io.basalt.iscsi.pdu.TextRequest;
import io.basalt.iscsi.pdu.TextResponse;
import io.basalt.iscsi.scsi.LogicalUnit;
import io.basalt.iscsi.scsi.Nexus;
import io.basalt.iscsi.scsi.ScsiRequest;
import io.basalt.iscsi.scsi.ScsiResult;
import io.basalt.iscsi.scsi.Sense;
import io.basalt.iscsi.scsi.TargetLuns;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One iSCSI connection, which at error recovery level 0 with MaxConnections=1 is also its
 * session: login, then the full-feature phase (commands, R2T and Data-Out, Data-In and status,
 * task management, NOP, text, logout). Everything here runs on the channel's event loop; SCSI
 * commands run asynchronously on the LU and come back to the loop to be answered.
 *
 * <p>Bounds: at most {@link TargetSettings#commandWindowCountMax()} commands in flight (plus a
 * few immediate ones), each with a write buffer of at most {@link #WRITE_BUFFER_BYTES_MAX}; reads
 * stop while the socket is not writable. A protocol error closes the connection.
 */
public final class Connection extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(Connection.class);
    /** Commands beyond the CmdSN window that are immediate still get a slot, up to this many. */
    private static final int IMMEDIATE_SLACK_COUNT = 4;
    /** A write carries at most this much data: our largest transfer (COMPARE AND WRITE's is far smaller). */
    static final int WRITE_BUFFER_BYTES_MAX = LogicalUnit.TRANSFER_BYTES_MAX;
    /** Sum of expected transfer lengths of the commands in flight; beyond it new ones get TASK SET FULL. */
    static final long INFLIGHT_BYTES_MAX = 2L * LogicalUnit.TRANSFER_BYTES_MAX;
    private static final int LOGIN_TEXT_BYTES_MAX = 65536;
    /**
     * Reads expecting at least this much data get a pooled direct buffer to read into (smaller
     * transfers are INQUIRY-sized answers not worth one); at most our largest transfer.
     */
    static final int DATA_IN_BUFFER_BYTES_MIN = 512;
    private static final int RESERVED = Pdu.RESERVED_TAG;

    enum Phase { LOGIN, FULL_FEATURE, LOGGING_OUT, CLOSED }

    private final TargetSettings settings;
    private final TargetDirectory directory;
    private final SessionRegistry registry;
    private final PduDecoder decoder;
    private final PduEncoder encoder;
    private final LongSupplier nanoClock;
    private final Login login;
    private final Map<Integer, Task> tasks = new HashMap<>();
    private long inflightBytes;
    private ChannelHandlerContext ctx;
    private Phase phase = Phase.LOGIN;
    private ByteBuf loginText;
    private boolean loginStarted;
    private SessionParams params = SessionParams.rfcDefaults();
    private TargetConfig target;
    private Nexus nexus;
    private SessionRegistry.Key key;
    private long isid;
    private int cid;
    private int statSn;
    private int expCmdSn;
    private int maxCmdSn;
    private int nextTtt = 1;
    private int pingTtt = RESERVED;
    private long pingSentNanos;
    private long lastReceiveNanos;
    private long startNanos;
    private ScheduledFuture<?> timer;

    public Connection(TargetSettings settings, TargetDirectory directory, SessionRegistry registry, PduDecoder decoder,
                      PduEncoder encoder, RandomGenerator random, LongSupplier nanoClock) {
        this.settings = settings;
        this.directory = directory;
        this.registry = registry;
        this.decoder = decoder;
        this.encoder = encoder;
        this.nanoClock = nanoClock;
        this.login = new Login(settings, directory, random);
    }

    // ---- lifecycle ----

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        if (ctx.channel().isActive()) {
            start();
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        start();
        ctx.fireChannelActive();
    }

    private void start() {
        if (timer == null) {
            startNanos = nanoClock.getAsLong();
            lastReceiveNanos = startNanos;
            timer = ctx.executor().scheduleAtFixedRate(this::tick, 1, 1, TimeUnit.SECONDS);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        phase = Phase.CLOSED;
        if (timer != null) {
            timer.cancel(false);
        }
        if (loginText != null) {
            loginText.release();
            loginText = null;
        }
        for (Task t : List.copyOf(tasks.values())) {
            abort(t);
        }
        if (key != null && registry.unregister(key, this)) {
            target.luns().logicalUnits().forEach(lu -> lu.detach(nexus));
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.warn("closing {}: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        // Back-pressure: stop taking new commands while responses cannot be written.
        ctx.channel().config().setAutoRead(ctx.channel().isWritable());
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ctx.flush();
    }

    private void tick() {
        long now = nanoClock.getAsLong();
        if (phase == Phase.LOGIN && now - startNanos > settings.loginTimeout().toNanos()) {
            close("login not completed within " + settings.loginTimeout());
        } else if (phase == Phase.FULL_FEATURE && !settings.nopInInterval().isZero()) {
            if (pingTtt != RESERVED && now - pingSentNanos > settings.nopInTimeout().toNanos()) {
                close("NOP-In ping unanswered for " + settings.nopInTimeout());
            } else if (pingTtt == RESERVED && now - lastReceiveNanos > settings.nopInInterval().toNanos()) {
                pingTtt = nextTtt();
                pingSentNanos = now;
                ctx.writeAndFlush(new NopIn(0, RESERVED, pingTtt, statSn, expCmdSn, maxCmdSn(), Unpooled.EMPTY_BUFFER));
            }
        }
    }

    private void close(String reason) {
        if (phase != Phase.CLOSED) {
            log.info("closing {}: {}", ctx.channel().remoteAddress(), reason);
        }
        ctx.close();
    }

    /** Reinstatement or shutdown: asks the initiator to log out, then closes (from any thread). */
    public void requestLogout() {
        if (ctx == null) {
            return;
        }
        ctx.executor().execute(() -> {
            if (phase == Phase.FULL_FEATURE) {
                ctx.writeAndFlush(new AsyncMessage(0, statSn, expCmdSn, maxCmdSn(), AsyncMessage.EVENT_LOGOUT_REQUEST, 0, 0, 0,
                        params.defaultTime2Wait(), Unpooled.EMPTY_BUFFER));
            }
        });
    }

    /** Closes the connection from any thread. */
    public void closeFromAnyThread(String reason) {
        if (ctx != null) {
            ctx.executor().execute(() -> close(reason));
        }
    }

    // ---- dispatch ----

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Pdu pdu = (Pdu) msg;
        lastReceiveNanos = nanoClock.getAsLong();
        try {
            if (phase == Phase.CLOSED) {
                return;
            }
            dispatch(pdu);
        } catch (ProtocolException e) {
            log.warn("closing {}: protocol error: {}", ctx.channel().remoteAddress(), e.getMessage());
            ctx.close();
        } finally {
            pdu.release();
        }
    }

    private void dispatch(Pdu pdu) {
        if (phase == Phase.LOGIN && !(pdu instanceof LoginRequest)) {
            throw new ProtocolException(pdu.opcode() + " during login (expected: LOGIN_REQUEST)");
        }
        switch (pdu) {
            case LoginRequest r -> onLogin(r);
            case ScsiCommand c -> onCommand(c);
            case DataOut d -> onDataOut(d);
            case NopOut n -> onNopOut(n);
            case TaskMgmtRequest t -> onTaskMgmt(t);
            case TextRequest t -> onText(t);
            case LogoutRequest l -> onLogout(l);
            case SnackRequest s -> reject(Reject.SNACK_REJECT, s);
            default -> throw new ProtocolException(pdu.opcode() + " sent by an initiator");
        }
    }

    // ---- sequence numbers ----

    /** Admits a non-immediate PDU only at ExpCmdSN (one connection: no gaps); drops it otherwise. */
    private boolean acceptCmdSn(boolean immediate, int cmdSn) {
        if (immediate) {
            return true;
        }
        if (cmdSn == expCmdSn) {
            expCmdSn++;
            return true;
        }
        log.debug("{}: dropping CmdSN {} (ExpCmdSN {}, MaxCmdSN {})", ctx.channel().remoteAddress(), cmdSn, expCmdSn, maxCmdSn);
        return false;
    }

    /** MaxCmdSN = ExpCmdSN + free slots - 1; never moves backwards. */
    private int maxCmdSn() {
        int v = expCmdSn + settings.commandWindowCountMax() - tasks.size() - 1;
        if (v - maxCmdSn > 0) {
            maxCmdSn = v;
        }
        return maxCmdSn;
    }

    private int nextTtt() {
        int t = nextTtt++;
        if (nextTtt == RESERVED) {
            nextTtt = 1;
        }
        return t;
    }

    // ---- login ----

    private void onLogin(LoginRequest r) {
        if (loginText == null) {
            loginText = ctx.alloc().buffer();
            if (!loginStarted) {
                isid = r.isid();
                cid = r.cid();
                expCmdSn = r.cmdSn();
                maxCmdSn = expCmdSn + settings.commandWindowCountMax() - 1;
                statSn = r.expStatSn();
                loginStarted = true;
            }
        }
        if (loginText.readableBytes() + r.data().readableBytes() > LOGIN_TEXT_BYTES_MAX) {
            throw new ProtocolException("login text: " + (loginText.readableBytes() + r.data().readableBytes()) + " bytes (expected: <= " + LOGIN_TEXT_BYTES_MAX + ")");
        }
        loginText.writeBytes(r.data(), r.data().readerIndex(), r.data().readableBytes());
        if (r.cont()) {
            sendLogin(r, new Login.Reply(false, r.csg(), r.csg(), List.of()), 0);
            return;
        }
        List<Pair> keys = TextKeys.parse(loginText);
        loginText.release();
        loginText = null;
        try {
            Login.Reply reply = login.step(r, keys);
            int tsih = login.complete() ? registry.nextTsih() : 0;
            sendLogin(r, reply, tsih);
            if (login.complete()) {
                enterFullFeature();
            }
        } catch (LoginException e) {
            log.info("login from {} refused ({}/{}): {}", ctx.channel().remoteAddress(), e.statusClass(), e.statusDetail(), e.getMessage());
            ctx.writeAndFlush(new LoginResponse(false, false, r.csg(), r.nsg(), 0, 0, isid, 0, r.itt(), statSn++, expCmdSn,
                    maxCmdSn(), e.statusClass(), e.statusDetail(), Unpooled.EMPTY_BUFFER)).addListener(ChannelFutureListener.CLOSE);
            phase = Phase.CLOSED;
        }
    }

    private void sendLogin(LoginRequest r, Login.Reply reply, int tsih) {
        ByteBuf text = TextKeys.format(ctx.alloc(), reply.keys());
        ctx.writeAndFlush(new LoginResponse(reply.transit(), false, reply.csg(), reply.nsg(), 0, 0, isid, tsih, r.itt(),
                statSn++, expCmdSn, maxCmdSn(), 0, 0, text));
    }

    private void enterFullFeature() {
        params = login.params();
        decoder.enableDigests(params.headerDigest(), params.dataDigest());
        encoder.enableDigests(params.headerDigest(), params.dataDigest());
        phase = Phase.FULL_FEATURE;
        if (login.discovery()) {
            return;
        }
        target = login.target();
        nexus = Nexus.of(login.initiatorName(), isid, target.name(), directory.portalGroupTag());
        key = new SessionRegistry.Key(login.initiatorName(), isid, target.name());
        Connection old = registry.register(key, this);
        for (LogicalUnit lu : target.luns().logicalUnits()) {
            if (old != null) {
                lu.detach(nexus);
            }
            lu.attach(nexus);
        }
        if (old != null) {
            old.closeFromAnyThread("session reinstated by a new login");
        }
    }

    // ---- SCSI commands and data-out ----

    private void onCommand(ScsiCommand c) {
        if (phase != Phase.FULL_FEATURE || target == null) {
            throw new ProtocolException("SCSI Command in a " + (target == null ? "discovery session" : phase + " connection"));
        }
        if (!acceptCmdSn(c.immediate(), c.cmdSn())) {
            return;
        }
        if (tasks.containsKey(c.itt())) {
            throw new ProtocolException("ITT: 0x" + Integer.toHexString(c.itt()) + " (expected: not in use)");
        }
        Task t = new Task(c.itt(), TargetLuns.decodeLun(c.lun()), c.lun(), c.cdb(), c.expectedDataTransferLength(),
                c.read(), c.write(), c.cmdSn());
        if (c.data().isReadable() && !c.write()) {
            throw new ProtocolException("immediate data: " + c.data().readableBytes() + " bytes without the W bit");
        }
        long bytes = Math.max(t.expectedBytes, 0);
        boolean full = tasks.size() >= settings.commandWindowCountMax() + IMMEDIATE_SLACK_COUNT
                || (!tasks.isEmpty() && inflightBytes + bytes > INFLIGHT_BYTES_MAX);
        if (full) {
            sendResult(t, ScsiResult.status(ScsiResult.TASK_SET_FULL), false);
            return;
        }
        tasks.put(t.itt, t);
        t.reservedBytes = bytes;
        inflightBytes += bytes;
        if (c.write() && t.expectedBytes != 0) {
            startDataOut(t, c);
        } else {
            execute(t);
        }
    }

    private void startDataOut(Task t, ScsiCommand c) {
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
            finish(t);
            sendResult(t, ScsiResult.check(Sense.INVALID_FIELD_IN_CDB), true);
            return;
        }
        t.buffer = ctx.alloc().directBuffer(t.expectedBytes, t.expectedBytes);
        t.buffer.setBytes(0, c.data(), c.data().readerIndex(), imm);
        t.unsolicitedEnd = imm;
        t.unsolicitedDone = c.finalPdu() || imm == firstBurst || params.initialR2t();
        if (t.unsolicitedDone) {
            t.nextR2tOffset = imm;
            solicit(t);
        }
        maybeExecute(t);
    }

    private void onDataOut(DataOut d) {
        Task t = tasks.get(d.itt());
        if (t == null || t.aborted || t.buffer == null || t.execution != null) {
            return;     // the command already ended (answered early or aborted): its data is dropped
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
            log.info("{}: ending task 0x{}: {}", ctx.channel().remoteAddress(), Integer.toHexString(t.itt), e.getMessage());
            t.releaseBuffer();
            finish(t);
            sendResult(t, ScsiResult.check(DATA_PHASE_ERROR), false);
            return;
        }
        maybeExecute(t);
    }

    /** A Data-Out out of sequence: fails its command. */
    private static final class DataSequenceError extends RuntimeException {
        DataSequenceError(String message) {
            super(message, null, false, false);
        }
    }

    private static final Sense DATA_PHASE_ERROR = Sense.of(Sense.ABORTED_COMMAND, 0x4b, 0x00);

    private void unsolicitedData(Task t, DataOut d, int off, int len) {
        int firstBurst = Math.min(params.firstBurstLength(), t.expectedBytes);
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
        while (t.solicitations.size() < params.maxOutstandingR2t() && t.nextR2tOffset < t.expectedBytes) {
            int len = Math.min(params.maxBurstLength(), t.expectedBytes - t.nextR2tOffset);
            Task.Solicitation s = new Task.Solicitation(nextTtt(), t.nextR2tOffset, len);
            t.solicitations.put(s.ttt, s);
            t.nextR2tOffset += len;
            ctx.write(new R2t(t.lunField, t.itt, s.ttt, statSn, expCmdSn, maxCmdSn(), t.r2tSn++, s.offset, len));
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
            t.buffer = ctx.alloc().directBuffer(t.expectedBytes, t.expectedBytes);
            dataIn = t.buffer.nioBuffer(0, t.expectedBytes);
            t.dataInView = dataIn;
        }
        CompletableFuture<ScsiResult> f = target.luns().execute(t.lun,
                new ScsiRequest(nexus, t.cdb, data, Math.max(t.expectedBytes, 0), dataIn));
        t.execution = f;
        f.whenComplete((res, err) -> {
            if (ctx.executor().inEventLoop()) {
                complete(t, res, err);      // the device answered synchronously: no extra hop
                return;
            }
            try {
                ctx.executor().execute(() -> complete(t, res, err));
            } catch (RejectedExecutionException e) {
                t.releaseBuffer();    // the event loop is gone: nobody will answer, but the buffer goes back
            }
        });
    }

    private void complete(Task t, ScsiResult res, Throwable err) {
        finish(t);
        try {
            if (t.aborted || phase == Phase.CLOSED) {
                return;
            }
            if (err != null) {
                log.error("command 0x{} failed unexpectedly", Integer.toHexString(t.cdb.u8(0)), err);
                res = ScsiResult.check(Sense.INTERNAL_TARGET_FAILURE);
            }
            sendResult(t, res, true);
        } finally {
            t.releaseBuffer();     // Data-In PDUs hold their own references to slices of a read buffer
        }
    }

    /** Data-In (with status when the command succeeded), or a SCSI Response with sense data. */
    private void sendResult(Task t, ScsiResult res, boolean flush) {
        ByteBuffer in = res.dataIn();
        int produced = in.remaining();
        int edtl = Math.max(t.expectedBytes, 0);
        int toSend = t.read ? Math.min(produced, edtl) : 0;
        // Parameter-list commands (UNMAP, MODE SELECT...) do not report a wanted length: no residual.
        long wanted = res.dataOutBytesWanted() >= 0 ? res.dataOutBytesWanted() : t.write ? edtl : produced;
        Residual residual = new Residual(wanted > edtl, wanted < edtl, (int) Math.min(Math.abs(wanted - edtl), Integer.MAX_VALUE));
        boolean collapse = toSend > 0 && !res.hasSense();
        int dataSn = toSend > 0 ? sendDataIn(t, in, toSend, collapse ? res : null, residual) : 0;
        if (!collapse) {
            ctx.write(new ScsiResponse(false, false, residual.overflow, residual.underflow, 0, res.status(), t.itt, statSn++,
                    expCmdSn, maxCmdSn(), dataSn, 0, residual.count, senseData(t, res)));
        }
        if (flush) {
            ctx.flush();
        }
    }

    private record Residual(boolean overflow, boolean underflow, int count) {
    }

    /** Sends {@code toSend} bytes as Data-In PDUs; sequences end every MaxBurstLength bytes. Returns the PDU count. */
    private int sendDataIn(Task t, ByteBuffer in, int toSend, ScsiResult status, Residual residual) {
        ByteBuf all = t.buffer != null && in == t.dataInView
                ? t.buffer.retainedSlice(in.position(), toSend)          // the device read into our buffer: no copy
                : Unpooled.wrappedBuffer(in.slice(in.position(), toSend));
        try {
            int segment = params.initiatorMaxRecvDataSegmentLength();
            int burst = params.maxBurstLength();
            int dataSn = 0;
            for (int off = 0; off < toSend; ) {
                int n = Math.min(Math.min(segment, toSend - off), burst - off % burst);
                boolean last = off + n == toSend;
                boolean withStatus = last && status != null;
                boolean endOfSequence = last || (off + n) % burst == 0;
                ctx.write(new DataIn(endOfSequence, false, withStatus && residual.overflow, withStatus && residual.underflow,
                        withStatus, withStatus ? status.status() : 0, t.lunField, t.itt, RESERVED, withStatus ? statSn++ : statSn,
                        expCmdSn, maxCmdSn(), dataSn++, off, withStatus ? residual.count : 0, all.retainedSlice(off, n)));
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
        LogicalUnit lu = target == null ? null : target.luns().lun(t.lun);
        ByteBuffer sense = res.sense().encode(lu != null && lu.descriptorSense());
        ByteBuf b = ctx.alloc().buffer(2 + sense.remaining());
        return b.writeShort(sense.remaining()).writeBytes(sense);
    }

    // ---- task management ----

    private void onTaskMgmt(TaskMgmtRequest r) {
        if (target == null) {
            throw new ProtocolException("Task Management in a discovery session");
        }
        if (!acceptCmdSn(r.immediate(), r.cmdSn())) {
            return;
        }
        int lun = TargetLuns.decodeLun(r.lun());
        LogicalUnit lu = target.luns().lun(lun);
        List<Task> affected = new ArrayList<>();
        int response = taskMgmt(r, lun, lu, affected);
        List<CompletableFuture<?>> running = new ArrayList<>();
        for (Task t : affected) {
            if (abort(t)) {
                running.add(t.execution);
            }
        }
        // The response goes out only after every aborted command has finished on the device.
        CompletableFuture.allOf(running.toArray(CompletableFuture[]::new)).whenComplete((v, e) -> ctx.executor().execute(() -> {
            if (phase == Phase.CLOSED) {
                return;
            }
            var f = ctx.writeAndFlush(new TaskMgmtResponse(response, r.itt(), statSn++, expCmdSn, maxCmdSn()));
            if (r.function() == TaskMgmtRequest.TARGET_COLD_RESET) {
                f.addListener(ChannelFutureListener.CLOSE);
            }
        }));
    }

    /** Decides the response and which tasks to abort; resets LUs where the function says so. */
    private int taskMgmt(TaskMgmtRequest r, int lun, LogicalUnit lu, List<Task> affected) {
        boolean lunScoped = r.function() >= TaskMgmtRequest.ABORT_TASK && r.function() <= TaskMgmtRequest.LOGICAL_UNIT_RESET;
        if (lunScoped && lu == null) {
            return TaskMgmtResponse.LUN_DOES_NOT_EXIST;
        }
        switch (r.function()) {
            case TaskMgmtRequest.ABORT_TASK -> {
                Task t = tasks.get(r.referencedTaskTag());
                if (t != null && t.lun == lun) {
                    affected.add(t);
                    return TaskMgmtResponse.FUNCTION_COMPLETE;
                }
                // Not here. RFC 7143 §11.5.1: a RefCmdSN still inside the CmdSN window names a
                // command that never arrived, which now never will: "function complete". Below the
                // window the command was received and already answered: "task does not exist".
                int ahead = r.refCmdSn() - expCmdSn;
                boolean inWindow = ahead >= 0 && ahead <= maxCmdSn() - expCmdSn;
                return inWindow ? TaskMgmtResponse.FUNCTION_COMPLETE : TaskMgmtResponse.TASK_DOES_NOT_EXIST;
            }
            case TaskMgmtRequest.ABORT_TASK_SET, TaskMgmtRequest.CLEAR_TASK_SET -> tasksOn(lun, affected);
            case TaskMgmtRequest.LOGICAL_UNIT_RESET -> {
                tasksOn(lun, affected);
                lu.reset(nexus, Sense.LUN_RESET);
            }
            case TaskMgmtRequest.TARGET_WARM_RESET, TaskMgmtRequest.TARGET_COLD_RESET -> {
                affected.addAll(tasks.values());
                target.luns().logicalUnits().forEach(u -> u.reset(nexus, Sense.POWER_ON_RESET));
            }
            case TaskMgmtRequest.CLEAR_ACA -> {
                return TaskMgmtResponse.FUNCTION_NOT_SUPPORTED;
            }
            case TaskMgmtRequest.TASK_REASSIGN -> {
                return TaskMgmtResponse.REASSIGNMENT_NOT_SUPPORTED;
            }
            default -> {
                return TaskMgmtResponse.FUNCTION_REJECTED;
            }
        }
        return TaskMgmtResponse.FUNCTION_COMPLETE;
    }

    private void tasksOn(int lun, List<Task> out) {
        for (Task t : tasks.values()) {
            if (t.lun == lun) {
                out.add(t);
            }
        }
    }

    /** Forgets {@code t}: frees its tag and its share of the in-flight byte budget. */
    private void finish(Task t) {
        if (tasks.remove(t.itt, t)) {
            inflightBytes -= t.reservedBytes;
        }
    }

    /** Marks {@code t} aborted; returns true when it is still running on the device. */
    private boolean abort(Task t) {
        t.aborted = true;
        if (t.execution == null) {
            t.releaseBuffer();
            finish(t);
            return false;
        }
        return !t.execution.isDone();
    }

    // ---- NOP, text, logout, SNACK ----

    private void onNopOut(NopOut n) {
        if (n.itt() == RESERVED) {
            if (n.ttt() != RESERVED && n.ttt() == pingTtt) {
                pingTtt = RESERVED;
            }
            return;
        }
        if (!acceptCmdSn(n.immediate(), n.cmdSn())) {
            return;
        }
        int echo = Math.min(n.data().readableBytes(), params.initiatorMaxRecvDataSegmentLength());
        ctx.write(new NopIn(n.lun(), n.itt(), RESERVED, statSn++, expCmdSn, maxCmdSn(), n.data().retainedSlice(n.data().readerIndex(), echo)));
    }

    private void onText(TextRequest r) {
        if (!acceptCmdSn(r.immediate(), r.cmdSn())) {
            return;
        }
        if (r.cont()) {
            throw new ProtocolException("Text Request with the C bit (expected: one PDU per request)");
        }
        List<Pair> out = new ArrayList<>();
        for (Pair p : TextKeys.parse(r.data())) {
            if (p.key().equals("SendTargets")) {
                out.addAll(sendTargets(p.value()));
            } else {
                out.add(new Pair(p.key(), "NotUnderstood"));
            }
        }
        ctx.write(new TextResponse(true, false, r.lun(), r.itt(), RESERVED, statSn++, expCmdSn, maxCmdSn(), boundedText(out)));
    }

    private List<Pair> sendTargets(String which) {
        List<Pair> out = new ArrayList<>();
        String address = portalAddress();
        for (TargetConfig t : directory.all()) {
            boolean wanted = which.equals("All") ? target == null : which.isEmpty() ? t == target : t.name().equals(which);
            if (wanted && t.allows(login.initiatorName())) {
                out.add(new Pair("TargetName", t.name()));
                out.add(new Pair("TargetAddress", address + "," + directory.portalGroupTag()));
            }
        }
        return out;
    }

    private String portalAddress() {
        if (!(ctx.channel().localAddress() instanceof InetSocketAddress local)) {
            return String.valueOf(ctx.channel().localAddress());
        }
        String host = local.getAddress().getHostAddress();
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + local.getPort();
    }

    /** Formats keys, dropping trailing ones that would not fit the initiator's data segment limit. */
    private ByteBuf boundedText(List<Pair> keys) {
        List<Pair> fit = new ArrayList<>(keys);
        ByteBuf text = TextKeys.format(ctx.alloc(), fit);
        while (text.readableBytes() > params.initiatorMaxRecvDataSegmentLength() && !fit.isEmpty()) {
            text.release();
            fit.remove(fit.size() - 1);
            text = TextKeys.format(ctx.alloc(), fit);
        }
        return text;
    }

    private void onLogout(LogoutRequest r) {
        if (!acceptCmdSn(r.immediate(), r.cmdSn())) {
            return;
        }
        if (r.reason() == 2) {
            ctx.write(new LogoutResponse(2, r.itt(), statSn++, expCmdSn, maxCmdSn(), 0, 0));
            return;
        }
        int response = r.reason() == 1 && r.cid() != cid ? 1 : 0;
        phase = Phase.LOGGING_OUT;
        List<CompletableFuture<?>> running = new ArrayList<>();
        for (Task t : tasks.values()) {
            if (t.execution != null) {
                running.add(t.execution);
            }
        }
        CompletableFuture.allOf(running.toArray(CompletableFuture[]::new)).whenComplete((v, e) -> ctx.executor().execute(() -> {
            if (phase != Phase.CLOSED) {
                ctx.writeAndFlush(new LogoutResponse(response, r.itt(), statSn++, expCmdSn, maxCmdSn(), params.defaultTime2Wait(), 0))
                        .addListener(ChannelFutureListener.CLOSE);
            }
        }));
    }

    private void reject(int reason, Pdu pdu) {
        ByteBuf header = PduEncoder.header(ctx.alloc(), pdu, pdu.data().readableBytes(), false);
        ctx.write(new Reject(reason, statSn++, expCmdSn, maxCmdSn(), 0, header));
    }
}
