package io.basalt.replication.stream;

/**
 * A mirror stream was refused: it is damaged, not the stream this replica expects, or already
 * applied. The message names the bad value and what was expected. Whatever the reason, the
 * replica is left at its last complete snapshot: a refused stream never creates a snapshot.
 */
public final class MirrorException extends RuntimeException {

    /** Why; a sender acts on it (resend, resend from another base, or treat as done). */
    public enum Reason {
        /** A frame failed its CRC32C, has an unknown type or version, or holds a field out of range. */
        BAD_FRAME,
        /** The stream ended before its end frame. Sending it again is safe. */
        TRUNCATED,
        /** The stream's totals or frame chain do not match its end frame: frames lost, duplicated or spliced. */
        BAD_STREAM,
        /** The stream is for another site's vdisk, another vdisk, or a vdisk that is not a replica here. */
        WRONG_SOURCE,
        /** The stream starts from a snapshot that is not the replica's last complete mirror snapshot. */
        WRONG_BASE,
        /** The replica already holds the stream's snapshot (a replay); nothing to do. */
        ALREADY_APPLIED,
        /** The stream is older than what the replica holds (a replay of an earlier round). */
        STALE,
        /** Block or grain size differ from the replica's. */
        GEOMETRY
    }

    private final Reason reason;

    public MirrorException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public MirrorException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
