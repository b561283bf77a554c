package io.basalt.iscsi.session;

import io.basalt.iscsi.pdu.NopIn;
import io.basalt.iscsi.pdu.Pdu;
import io.netty.buffer.Unpooled;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The connection's timers, checked once a second: a login not completed within the login
 * timeout closes the connection; in full-feature phase, silence from the initiator for the
 * NOP-In interval sends a ping (a NOP-In with a target transfer tag), and a ping unanswered for
 * the NOP-In timeout closes the connection. Time comes from the injected clock.
 */
final class Liveness {

    private static final int RESERVED = Pdu.RESERVED_TAG;

    private final ConnectionState state;
    private final LongSupplier nanoClock;
    private ScheduledFuture<?> timer;
    private int pingTtt = RESERVED;
    private long pingSentNanos;
    private long lastReceiveNanos;
    private long startNanos;

    Liveness(ConnectionState state, LongSupplier nanoClock) {
        this.state = state;
        this.nanoClock = nanoClock;
    }

    /** Starts the timers once the channel is active; later calls do nothing. */
    void start() {
        if (timer == null) {
            startNanos = nanoClock.getAsLong();
            lastReceiveNanos = startNanos;
            timer = state.ctx.executor().scheduleAtFixedRate(this::tick, 1, 1, TimeUnit.SECONDS);
        }
    }

    void stop() {
        if (timer != null) {
            timer.cancel(false);
        }
    }

    /** Any PDU from the initiator shows it is alive. */
    void received() {
        lastReceiveNanos = nanoClock.getAsLong();
        if (state.session != null) {
            state.session.heard(lastReceiveNanos);
        }
    }

    /** A NOP-Out answering our ping with {@code ttt}: the ping is settled. */
    void pong(int ttt) {
        if (ttt != RESERVED && ttt == pingTtt) {
            pingTtt = RESERVED;
        }
    }

    private void tick() {
        long now = nanoClock.getAsLong();
        TargetSettings settings = state.settings;
        if (state.phase == ConnectionState.Phase.LOGIN && now - startNanos > settings.loginTimeout().toNanos()) {
            state.close("login not completed within " + settings.loginTimeout());
        } else if (state.phase == ConnectionState.Phase.FULL_FEATURE && !settings.nopInInterval().isZero()) {
            if (pingTtt != RESERVED && now - pingSentNanos > settings.nopInTimeout().toNanos()) {
                state.close("NOP-In ping unanswered for " + settings.nopInTimeout());
            } else if (pingTtt == RESERVED && now - lastReceiveNanos > settings.nopInInterval().toNanos()) {
                Sequencer sn = state.sequencer;
                pingTtt = sn.nextTtt();
                pingSentNanos = now;
                state.ctx.writeAndFlush(new NopIn(0, RESERVED, pingTtt, sn.current(), Unpooled.EMPTY_BUFFER));
            }
        }
    }
}
