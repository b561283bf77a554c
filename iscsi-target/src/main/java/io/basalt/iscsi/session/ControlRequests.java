package io.basalt.iscsi.session;

import io.basalt.iscsi.pdu.LogoutRequest;
import io.basalt.iscsi.pdu.LogoutResponse;
import io.basalt.iscsi.pdu.NopIn;
import io.basalt.iscsi.pdu.NopOut;
import io.basalt.iscsi.pdu.Pdu;
import io.basalt.iscsi.pdu.PduEncoder;
import io.basalt.iscsi.pdu.ProtocolException;
import io.basalt.iscsi.pdu.Reject;
import io.basalt.iscsi.pdu.TextKeys;
import io.basalt.iscsi.pdu.TextKeys.Pair;
import io.basalt.iscsi.pdu.TextRequest;
import io.basalt.iscsi.pdu.TextResponse;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The requests that are not SCSI: NOP-Out pings (answered with a NOP-In echoing the data),
 * Text Requests (SendTargets discovery), Logout (answered once the commands in flight have
 * finished, then the connection closes) and the Reject of what ERL 0 does not support.
 */
final class ControlRequests {

    private static final int RESERVED = Pdu.RESERVED_TAG;

    private final ConnectionState state;
    private final LoginPhase login;
    private final Liveness liveness;
    private final TargetDirectory directory;

    ControlRequests(ConnectionState state, LoginPhase login, Liveness liveness, TargetDirectory directory) {
        this.state = state;
        this.login = login;
        this.liveness = liveness;
        this.directory = directory;
    }

    void onNopOut(NopOut n) {
        if (n.itt() == RESERVED) {
            liveness.pong(n.ttt());
            return;
        }
        if (!state.admit(n.immediate(), n.cmdSn())) {
            return;
        }
        int echo = Math.min(n.data().readableBytes(), state.params.initiatorMaxRecvDataSegmentLength());
        state.ctx.write(new NopIn(n.lun(), n.itt(), RESERVED, state.sequencer.nextStatus(),
                n.data().retainedSlice(n.data().readerIndex(), echo)));
    }

    void onText(TextRequest r) {
        if (!state.admit(r.immediate(), r.cmdSn())) {
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
        state.ctx.write(new TextResponse(true, false, r.lun(), r.itt(), RESERVED, state.sequencer.nextStatus(), boundedText(out)));
    }

    private List<Pair> sendTargets(String which) {
        List<Pair> out = new ArrayList<>();
        String address = portalAddress();
        for (TargetConfig t : directory.all()) {
            boolean wanted = which.equals("All") ? state.target == null : which.isEmpty() ? t == state.target : t.name().equals(which);
            if (wanted && t.allows(login.initiatorName())) {
                out.add(new Pair("TargetName", t.name()));
                out.add(new Pair("TargetAddress", address + "," + directory.portalGroupTag()));
            }
        }
        return out;
    }

    private String portalAddress() {
        if (!(state.ctx.channel().localAddress() instanceof InetSocketAddress local)) {
            return String.valueOf(state.ctx.channel().localAddress());
        }
        String host = local.getAddress().getHostAddress();
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + local.getPort();
    }

    /** Formats keys, dropping trailing ones that would not fit the initiator's data segment limit. */
    private ByteBuf boundedText(List<Pair> keys) {
        List<Pair> fit = new ArrayList<>(keys);
        ByteBuf text = TextKeys.format(state.ctx.alloc(), fit);
        while (text.readableBytes() > state.params.initiatorMaxRecvDataSegmentLength() && !fit.isEmpty()) {
            text.release();
            fit.remove(fit.size() - 1);
            text = TextKeys.format(state.ctx.alloc(), fit);
        }
        return text;
    }

    void onLogout(LogoutRequest r) {
        if (!state.admit(r.immediate(), r.cmdSn())) {
            return;
        }
        Sequencer sn = state.sequencer;
        if (r.reason() == 2) {
            state.ctx.write(new LogoutResponse(2, r.itt(), sn.nextStatus(), 0, 0));
            return;
        }
        int response = r.reason() == 1 && r.cid() != login.cid() ? 1 : 0;
        state.phase = ConnectionState.Phase.LOGGING_OUT;
        List<CompletableFuture<?>> running = state.tasks.executions();
        CompletableFuture.allOf(running.toArray(CompletableFuture[]::new)).whenComplete((v, e) -> state.ctx.executor().execute(() -> {
            if (state.phase != ConnectionState.Phase.CLOSED) {
                state.ctx.writeAndFlush(new LogoutResponse(response, r.itt(), sn.nextStatus(), state.params.defaultTime2Wait(), 0))
                        .addListener(ChannelFutureListener.CLOSE);
            }
        }));
    }

    /** Rejects {@code pdu} for {@code reason}, quoting its header. */
    void reject(int reason, Pdu pdu) {
        ByteBuf header = PduEncoder.header(state.ctx.alloc(), pdu, pdu.data().readableBytes(), false);
        state.ctx.write(new Reject(reason, state.sequencer.nextStatus(), 0, header));
    }
}
