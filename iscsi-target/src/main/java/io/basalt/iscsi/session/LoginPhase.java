package io.basalt.iscsi.session;

import io.basalt.iscsi.pdu.LoginRequest;
import io.basalt.iscsi.pdu.LoginResponse;
import io.basalt.iscsi.pdu.LoginStage;
import io.basalt.iscsi.pdu.LoginStatus;
import io.basalt.iscsi.pdu.PduDecoder;
import io.basalt.iscsi.pdu.PduEncoder;
import io.basalt.iscsi.pdu.ProtocolException;
import io.basalt.iscsi.pdu.SessionId;
import io.basalt.iscsi.pdu.TextKeys;
import io.basalt.iscsi.pdu.TextKeys.Pair;
import io.basalt.iscsi.scsi.Initiator;
import io.basalt.iscsi.scsi.LogicalUnit;
import io.basalt.iscsi.scsi.Nexus;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import java.util.List;
import java.util.function.LongSupplier;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The login phase on the wire: gathers the text of a Login Request sequence (the C bit), lets
 * {@link Login} decide, sends its Login Responses, and on success enters full-feature phase:
 * switches on digests, and for a normal session binds the I_T nexus, registers the session
 * (reinstating an older one of the same initiator port), attaches it to the target's LUs and
 * tells the {@link SessionListener}. Also unbinds the session when the connection closes, and
 * tells the listener it ended.
 */
final class LoginPhase {

    private static final Logger log = LoggerFactory.getLogger(Connection.class);
    private static final int LOGIN_TEXT_BYTES_MAX = 65536;

    private final ConnectionState state;
    private final Connection connection;
    private final TargetDirectory directory;
    private final SessionRegistry registry;
    private final SessionListener listener;
    private final LongSupplier nanoClock;
    private final PduDecoder decoder;
    private final PduEncoder encoder;
    private final Login login;
    /** The text of the Login Request sequence being gathered; null between sequences. */
    private ByteBuf loginText;
    private boolean loginStarted;
    private SessionRegistry.Key key;
    private long isid;
    private int cid;
    private int tsih;

    LoginPhase(ConnectionState state, Connection connection, TargetDirectory directory, SessionRegistry registry,
               SessionListener listener, PduDecoder decoder, PduEncoder encoder, RandomGenerator random, LongSupplier nanoClock) {
        this.state = state;
        this.connection = connection;
        this.directory = directory;
        this.registry = registry;
        this.listener = listener;
        this.nanoClock = nanoClock;
        this.decoder = decoder;
        this.encoder = encoder;
        this.login = new Login(state.settings, directory, random);
    }

    /** The connection ID the initiator gave at login. */
    int cid() {
        return cid;
    }

    /** The initiator's name, once its first Login Request named it. */
    String initiatorName() {
        return login.initiatorName();
    }

    void onLogin(LoginRequest r) {
        if (loginText == null) {
            loginText = state.ctx.alloc().buffer();
            if (!loginStarted) {
                isid = r.session().isid();
                cid = r.cid();
                state.sequencer.start(r.cmdSn(), r.expStatSn());
                loginStarted = true;
            }
        }
        if (loginText.readableBytes() + r.data().readableBytes() > LOGIN_TEXT_BYTES_MAX) {
            throw new ProtocolException("login text: " + (loginText.readableBytes() + r.data().readableBytes()) + " bytes (expected: <= " + LOGIN_TEXT_BYTES_MAX + ")");
        }
        loginText.writeBytes(r.data(), r.data().readerIndex(), r.data().readableBytes());
        if (r.stage().cont()) {
            sendLogin(r, new Login.Reply(LoginStage.stay(r.stage().csg()), List.of()), 0);
            return;
        }
        List<Pair> keys = TextKeys.parse(loginText);
        loginText.release();
        loginText = null;
        try {
            Login.Reply reply = login.step(r, keys);
            tsih = login.complete() ? registry.nextTsih() : 0;
            sendLogin(r, reply, tsih);
            if (login.complete()) {
                enterFullFeature();
            }
        } catch (LoginException e) {
            refuse(r, e);
        }
    }

    private void sendLogin(LoginRequest r, Login.Reply reply, int tsih) {
        ByteBuf text = TextKeys.format(state.ctx.alloc(), reply.keys());
        state.ctx.writeAndFlush(new LoginResponse(reply.stage(), 0, 0, new SessionId(isid, tsih), r.itt(),
                state.sequencer.nextStatus(), LoginStatus.SUCCESS, text));
    }

    /** Answers with the refusal's status, then closes. */
    private void refuse(LoginRequest r, LoginException e) {
        log.info("login from {} refused ({}/{}): {}", state.peer(), e.statusClass(), e.statusDetail(), e.getMessage());
        LoginStage stage = new LoginStage(false, false, r.stage().csg(), r.stage().nsg());
        LoginStatus status = new LoginStatus(e.statusClass(), e.statusDetail());
        state.ctx.writeAndFlush(new LoginResponse(stage, 0, 0, new SessionId(isid, 0), r.itt(), state.sequencer.nextStatus(),
                status, Unpooled.EMPTY_BUFFER)).addListener(ChannelFutureListener.CLOSE);
        state.phase = ConnectionState.Phase.CLOSED;
    }

    private void enterFullFeature() {
        SessionParams params = login.params();
        state.params = params;
        decoder.enableDigests(params.headerDigest(), params.dataDigest());
        encoder.enableDigests(params.headerDigest(), params.dataDigest());
        state.phase = ConnectionState.Phase.FULL_FEATURE;
        if (login.discovery()) {
            return;
        }
        TargetConfig target = login.target();
        state.target = target;
        state.nexus = Nexus.of(login.initiatorName(), isid, target.name(), directory.portalGroupTag());
        Initiator initiator = new Initiator(login.initiatorName(), isid, tsih, state.ctx.channel().remoteAddress());
        key = new SessionRegistry.Key(login.initiatorName(), isid, target.name());
        Connection old = registry.register(key, connection);
        for (LogicalUnit lu : target.luns().logicalUnits()) {
            if (old != null) {
                lu.detach(state.nexus);
            }
            lu.attach(state.nexus, initiator);
        }
        if (old != null) {
            old.closeFromAnyThread("session reinstated by a new login");
        }
        state.session = new InitiatorSession(initiator, target.name(), nanoClock);
        tell(SessionListener::started);
    }

    private void tell(java.util.function.BiConsumer<SessionListener, InitiatorSession> event) {
        try {
            event.accept(listener, state.session);
        } catch (RuntimeException e) {
            log.error("session listener failed on {}", state.session, e);
        }
    }

    /** The connection closed: frees a half-gathered login text; unbinds the session unless a newer login took it over. */
    void connectionClosed() {
        if (loginText != null) {
            loginText.release();
            loginText = null;
        }
        if (key != null && registry.unregister(key, connection)) {
            state.target.luns().logicalUnits().forEach(lu -> lu.detach(state.nexus));
        }
        if (state.session != null && !state.session.ended()) {
            state.session.end();
            tell(SessionListener::ended);
        }
    }
}
