package io.basalt.iscsi.session;

import io.basalt.iscsi.scsi.Initiator;
import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * A normal session of an initiator with one target, from login to the close of its connection,
 * as a {@link SessionListener} sees it. Safe to read from any thread: the connection records
 * the time of every PDU it receives (one volatile write), and {@link #silence()} reads it.
 */
public final class InitiatorSession {

    private final Initiator initiator;
    private final String targetName;
    private final LongSupplier nanoClock;
    private volatile long lastHeardNanos;
    private volatile boolean ended;

    InitiatorSession(Initiator initiator, String targetName, LongSupplier nanoClock) {
        this.initiator = initiator;
        this.targetName = targetName;
        this.nanoClock = nanoClock;
        this.lastHeardNanos = nanoClock.getAsLong();
    }

    public Initiator initiator() {
        return initiator;
    }

    /** The target the session logged in to. */
    public String targetName() {
        return targetName;
    }

    /**
     * How long since the initiator's last PDU (a command, data, a NOP-Out answering the target's
     * ping); by the target's monotonic clock. A live idle initiator is pinged after
     * {@link TargetSettings#nopInInterval()} of silence and its connection closed when it leaves
     * the ping unanswered for {@link TargetSettings#nopInTimeout()}, so with pings on, the
     * silence of a live session stays below about their sum (plus a second of timer tick).
     */
    public Duration silence() {
        return Duration.ofNanos(Math.max(0, nanoClock.getAsLong() - lastHeardNanos));
    }

    /** True once the session's connection has closed. */
    public boolean ended() {
        return ended;
    }

    void heard(long nanos) {
        lastHeardNanos = nanos;
    }

    void end() {
        ended = true;
    }

    @Override
    public String toString() {
        return "InitiatorSession[" + initiator + " target=" + targetName + (ended ? " ended" : "") + "]";
    }
}
