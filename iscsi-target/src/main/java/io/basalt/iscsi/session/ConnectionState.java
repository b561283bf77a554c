package io.basalt.iscsi.session;

import io.basalt.iscsi.scsi.Nexus;
import io.netty.channel.ChannelHandlerContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the parts of one connection share: its channel, phase, negotiated parameters, sequence
 * numbers and tasks, and once logged in to a target that target and the I_T nexus (both stay
 * null in a discovery session). Owned by {@link Connection}; touched only on the event loop.
 */
final class ConnectionState {

    private static final Logger log = LoggerFactory.getLogger(Connection.class);

    enum Phase { LOGIN, FULL_FEATURE, LOGGING_OUT, CLOSED }

    final TargetSettings settings;
    final TaskTable tasks = new TaskTable();
    final Sequencer sequencer;
    /** Set when the handler is added to its pipeline, before any PDU arrives. */
    ChannelHandlerContext ctx;
    Phase phase = Phase.LOGIN;
    SessionParams params = SessionParams.rfcDefaults();
    TargetConfig target;
    Nexus nexus;
    /** The session as listeners see it, from login to a target on; null before and in discovery. */
    InitiatorSession session;

    ConnectionState(TargetSettings settings) {
        this.settings = settings;
        this.sequencer = new Sequencer(settings.commandWindowCountMax(), tasks::size);
    }

    /** Admits a PDU by its CmdSN (see {@link Sequencer#admit}); a dropped one is logged. */
    boolean admit(boolean immediate, int cmdSn) {
        if (sequencer.admit(immediate, cmdSn)) {
            return true;
        }
        log.debug("{}: dropping CmdSN {} (ExpCmdSN {}, MaxCmdSN {})", peer(), cmdSn, sequencer.expCmdSn(), sequencer.lastMaxCmdSn());
        return false;
    }

    Object peer() {
        return ctx.channel().remoteAddress();
    }

    /** Closes the connection, saying why unless it is closed already. */
    void close(String reason) {
        if (phase != Phase.CLOSED) {
            log.info("closing {}: {}", peer(), reason);
        }
        ctx.close();
    }
}
