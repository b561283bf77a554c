package io.basalt.cluster.pg;

import java.util.UUID;

/**
 * Who sent a PG log entry, so that the state machine applies it once however often it is sent
 * (the client sessions of the Raft dissertation, §6.3). Ratis's retry cache already dedups a
 * retry by the same Ratis client; this covers a client that had to start a new Ratis client for
 * the group (after the group's replica left a node) and resent an entry the old one may have
 * had appended.
 *
 * @param session the sending cluster client, random per client
 * @param seq     the entry's number in that client's sequence for this PG, from 1
 * @param acked   every entry of the session numbered at or below this has been answered or given
 *                up by the client, which will not send it again: its reply may be forgotten
 */
public record ClientTag(UUID session, long seq, long acked) {
    public ClientTag {
        if (seq < 1 || acked < 0 || acked >= seq) {
            throw new IllegalArgumentException("client tag seq/acked: " + seq + "/" + acked + " (expected: 0 <= acked < seq)");
        }
    }
}
