package io.basalt.iscsi.session;

import io.basalt.iscsi.pdu.AsyncMessage;
import io.basalt.iscsi.pdu.DataOut;
import io.basalt.iscsi.pdu.LoginRequest;
import io.basalt.iscsi.pdu.LogoutRequest;
import io.basalt.iscsi.pdu.NopOut;
import io.basalt.iscsi.pdu.Pdu;
import io.basalt.iscsi.pdu.PduDecoder;
import io.basalt.iscsi.pdu.PduEncoder;
import io.basalt.iscsi.pdu.ProtocolException;
import io.basalt.iscsi.pdu.Reject;
import io.basalt.iscsi.pdu.ScsiCommand;
import io.basalt.iscsi.pdu.SnackRequest;
import io.basalt.iscsi.pdu.TaskMgmtRequest;
import io.basalt.iscsi.pdu.TextRequest;
import io.basalt.iscsi.session.ConnectionState.Phase;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.util.function.LongSupplier;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One iSCSI connection, which at error recovery level 0 with MaxConnections=1 is also its
 * session: the Netty handler that hands each PDU to the part that owns its kind — login
 * ({@link LoginPhase}), SCSI commands with their R2T and Data-Out ({@link CommandFlow}), task
 * management ({@link TaskManagement}), NOP, text and logout ({@link ControlRequests}) — and
 * keeps the connection's lifecycle and back-pressure. Everything here runs on the channel's
 * event loop; SCSI commands run asynchronously on the LU and come back to the loop to be
 * answered.
 *
 * <p>Bounds: see {@link CommandFlow} (commands and bytes in flight) and {@link DataOutFlow}
 * (write buffer); reads stop while the socket is not writable. A protocol error closes the
 * connection.
 */
public final class Connection extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(Connection.class);

    private final ConnectionState state;
    private final Liveness liveness;
    private final LoginPhase login;
    private final CommandFlow commands;
    private final TaskManagement taskManagement;
    private final ControlRequests control;

    public Connection(TargetSettings settings, TargetDirectory directory, SessionRegistry registry, PduDecoder decoder,
                      PduEncoder encoder, RandomGenerator random, LongSupplier nanoClock) {
        this(settings, directory, registry, SessionListener.NONE, decoder, encoder, random, nanoClock);
    }

    /** @param listener told when this connection's session (a normal one) starts and ends */
    public Connection(TargetSettings settings, TargetDirectory directory, SessionRegistry registry, SessionListener listener,
                      PduDecoder decoder, PduEncoder encoder, RandomGenerator random, LongSupplier nanoClock) {
        this.state = new ConnectionState(settings);
        this.liveness = new Liveness(state, nanoClock);
        this.login = new LoginPhase(state, this, directory, registry, listener, decoder, encoder, random, nanoClock);
        this.commands = new CommandFlow(state, new ResponseWriter(state));
        this.taskManagement = new TaskManagement(state);
        this.control = new ControlRequests(state, login, liveness, directory);
    }

    // ---- lifecycle ----

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        state.ctx = ctx;
        if (ctx.channel().isActive()) {
            liveness.start();
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        liveness.start();
        ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        state.phase = Phase.CLOSED;
        liveness.stop();
        for (Task t : state.tasks.all()) {
            state.tasks.abort(t);
        }
        login.connectionClosed();
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

    /** Reinstatement or shutdown: asks the initiator to log out, then closes (from any thread). */
    public void requestLogout() {
        ChannelHandlerContext ctx = state.ctx;
        if (ctx == null) {
            return;
        }
        ctx.executor().execute(() -> {
            if (state.phase == Phase.FULL_FEATURE) {
                ctx.writeAndFlush(new AsyncMessage(0, state.sequencer.current(), AsyncMessage.EVENT_LOGOUT_REQUEST, 0, 0, 0,
                        state.params.defaultTime2Wait(), Unpooled.EMPTY_BUFFER));
            }
        });
    }

    /** Closes the connection from any thread. */
    public void closeFromAnyThread(String reason) {
        ChannelHandlerContext ctx = state.ctx;
        if (ctx != null) {
            ctx.executor().execute(() -> state.close(reason));
        }
    }

    // ---- dispatch ----

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Pdu pdu = (Pdu) msg;
        liveness.received();
        try {
            if (state.phase == Phase.CLOSED) {
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
        if (state.phase == Phase.LOGIN && !(pdu instanceof LoginRequest)) {
            throw new ProtocolException(pdu.opcode() + " during login (expected: LOGIN_REQUEST)");
        }
        switch (pdu) {
            case LoginRequest r -> login.onLogin(r);
            case ScsiCommand c -> commands.onCommand(c);
            case DataOut d -> commands.onDataOut(d);
            case NopOut n -> control.onNopOut(n);
            case TaskMgmtRequest t -> taskManagement.onTaskMgmt(t);
            case TextRequest t -> control.onText(t);
            case LogoutRequest l -> control.onLogout(l);
            case SnackRequest s -> control.reject(Reject.SNACK_REJECT, s);
            default -> throw new ProtocolException(pdu.opcode() + " sent by an initiator");
        }
    }
}
