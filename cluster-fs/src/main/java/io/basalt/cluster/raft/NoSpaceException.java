package io.basalt.cluster.raft;

import java.io.IOException;

/**
 * A group's leader refused an entry because its node's disk is below the reserve
 * ({@link DiskReserve}). Nothing was logged: the request had no effect and may be sent again once
 * space is freed. Public with a message constructor: the Ratis client rebuilds it by name from a
 * remote reply, so a client can tell "disk full" from other refusals.
 */
public final class NoSpaceException extends IOException {
    public NoSpaceException(String message) {
        super(message);
    }
}
