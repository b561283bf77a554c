package io.basalt.replication.link;

/**
 * The link to a peer site failed, as opposed to a stream the peer refused (that is a
 * {@code MirrorException} naming the replica's reason). The message names the peer, its address
 * and what happened.
 */
public final class MirrorLinkException extends RuntimeException {

    public enum Kind {
        /** One side did not prove the shared secret, or named another site than expected. Retrying will not help. */
        AUTHENTICATION,
        /** The peer spoke another protocol version, or sent what the protocol does not allow. */
        PROTOCOL,
        /** The peer answered a call with a refusal (its message says why). */
        REFUSED,
        /** No round could be completed within the attempts allowed (refused connections, cuts, timeouts, a busy peer). */
        UNREACHABLE
    }

    private final Kind kind;

    public MirrorLinkException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public MirrorLinkException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
