package io.basalt.iscsi.session;

/**
 * Told when initiators' sessions start and end, so a caller can tie something to a live session
 * (Basalt renews a host's lock lease only while one of its sessions lives and was heard from
 * lately). Whether a session is still heard from is not pushed per PDU: read
 * {@link InitiatorSession#silence()} when it matters.
 *
 * <p>Calls come on the session's event loop and must not block; an exception thrown is logged
 * and otherwise ignored. Discovery sessions are not reported.
 */
public interface SessionListener {

    /** Tells nobody. */
    SessionListener NONE = new SessionListener() {
        @Override
        public void started(InitiatorSession session) {
        }

        @Override
        public void ended(InitiatorSession session) {
        }
    };

    /**
     * {@code session} completed its login to a target (the final Login Response is on its way)
     * and may send commands from now on.
     */
    void started(InitiatorSession session);

    /**
     * {@code session}'s connection closed — a logout, a lost or reset connection, NOP-In pings
     * left unanswered, reinstatement by a new login of the same initiator port, the target
     * shutting down — so the session ended: at error recovery level 0 a session lives exactly as
     * long as its one connection, and nothing is retained for Time2Retain. Called once per
     * {@link #started} session. Commands of the session may still be running on its devices;
     * a {@link io.basalt.iscsi.scsi.LunSource} is told when they are done.
     */
    void ended(InitiatorSession session);
}
