package io.basalt.cluster.client;

import java.util.function.Supplier;

import org.apache.ratis.server.RaftServer;

import io.basalt.cluster.pg.PgStore;

/**
 * The storage node running in the client's own process, as {@link ClusterClient} uses it to skip
 * the network: its id, its Ratis server (to submit in-process) and its sole-replica stores (to
 * read directly). Implemented by {@code io.basalt.cluster.server.ClusterNode}; declared here so
 * the client does not depend on the server package, which depends on the client.
 */
public interface LocalNode {
    int id();

    RaftServer server();

    /**
     * A source of PG {@code pg}'s live store while this node holds its only replica (the
     * supplier answers null once that stops being true), or null when it is replicated now.
     */
    Supplier<PgStore> soleReplicaStore(int pg);

    /**
     * A read served from PG {@code pg}'s sole-replica store met a frame that does not decode (the
     * client got CORRUPTION): ask that replica's scrub for a pass, as a read through the state
     * machine does (docs/decisions/scrub-and-repair.md).
     */
    void askScrub(int pg);
}
