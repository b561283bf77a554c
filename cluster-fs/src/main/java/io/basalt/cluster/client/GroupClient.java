package io.basalt.cluster.client;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.function.Predicate;

import org.apache.ratis.client.RaftClient;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.retry.RetryPolicy;
import org.apache.ratis.util.TimeDuration;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.probe.GroupDirectory;

/**
 * The Ratis client of one group, which follows the group when its replicas move.
 *
 * <p>A Ratis client learns a group's new peers from {@code NotLeaderException}, but a node
 * that gave up its replica and removed the division answers {@code GroupMismatchException},
 * which the Ratis client does not retry: it fails every request it has in flight and closes
 * its ordered window, so the client is useless from then on. Then this
 * asks the nodes for the group's current peers ({@link GroupDirectory}), builds a new client
 * on them and sends the failed request again.
 *
 * <p>Sending again is safe when the node that refused held no replica when it was first asked
 * (nothing was appended). The unsafe case is a request appended by a leader that then left the
 * group and removed its division before the client's own retry reached it: the new client has a
 * new client id, so the servers' retry cache cannot tell the request is a repeat and applies it
 * again. docs/decisions/cluster-membership.md ("A removed replica and the retry cache") has the details
 * and why a grace before the removal was tried and dropped.
 */
final class GroupClient implements AutoCloseable {
    private final ClusterConfig config;
    private final java.util.function.Supplier<ClusterConfig> addressBook;
    private final RaftProperties props;
    private final String name;
    private RaftClient current;
    /** The peers {@link #current} was built on. */
    private RaftGroup currentGroup;
    private boolean closed;

    /** {@code addressBook}: the nodes to ask for the group's peers when it has moved (the cluster file's and the registered ones). */
    GroupClient(ClusterConfig config, RaftProperties props, String name, RaftGroup group, java.util.function.Supplier<ClusterConfig> addressBook) {
        this.config = config;
        this.addressBook = addressBook;
        this.props = props;
        this.name = name;
        this.current = build(group);
    }

    synchronized RaftClient client() {
        return current;
    }

    /**
     * Sends with {@code op} until it succeeds, fails for a reason {@code retriable} does not
     * accept, or {@code deadlineNanos} passes; a {@code GroupMismatchException} rebuilds the
     * client on the group's current peers first.
     */
    CompletableFuture<RaftClientReply> send(Function<RaftClient, CompletableFuture<RaftClientReply>> op,
                                            Predicate<Throwable> retriable, long deadlineNanos) {
        AtomicReference<RaftClient> used = new AtomicReference<>();
        return LeaderRetry.call(() -> {
            RaftClient c = client();
            used.set(c);
            CompletableFuture<RaftClientReply> attempt = op.apply(c);
            // Watched here, on the attempt itself, not on what the caller gets: a caller's own
            // timeout (PgChannel's orTimeout) can complete that first and hide the give-up, and the
            // closed client then failed every later request (seen in ChaosHistoryTest).
            attempt.whenComplete((reply, ex) -> {
                if (ex != null && LeaderRetry.CLIENT_GAVE_UP.test(ex) && !LeaderRetry.GROUP_MOVED.test(ex)) {
                    renew(c);
                }
            });
            return attempt;
        }, retriable.or(LeaderRetry.GROUP_MOVED), deadlineNanos, ClusterClient.RETRY_SLEEP, failure -> {
            if (LeaderRetry.GROUP_MOVED.test(failure)) {
                refresh(used.get());
            }
        });
    }

    /**
     * Replaces {@code gaveUp}, closed by its own retry policy running out, with a new client on
     * the same peers (once, however many requests it failed). Without this every later request
     * of this host to the group failed with {@code AlreadyClosedException}, even after the group
     * had its quorum back (seen in ChaosHistoryTest with a 2.5 s I/O timeout across a majority
     * outage).
     */
    private void renew(RaftClient gaveUp) {
        RaftClient replaced;
        synchronized (this) {
            replaced = replace(gaveUp, currentGroup);
        }
        if (replaced != null) {
            closeLater(replaced);
        }
    }

    /** Replaces {@code stale} (once, however many requests it failed) with a client on the group's current peers. */
    private void refresh(RaftClient stale) {
        synchronized (this) {
            if (closed || current != stale) {
                return;
            }
        }
        // Asking the nodes may take a probe timeout: outside the lock, and on the retry's pause thread.
        RaftGroup now = GroupDirectory.discover(addressBook.get()).group(stale.getGroupId());
        RaftClient replaced;
        synchronized (this) {
            replaced = replace(stale, now);
        }
        if (replaced != null) {
            closeLater(replaced);
        }
    }

    /** Closes a replaced client once requests still in flight on it (reads are not in its ordered window) are over. */
    private void closeLater(RaftClient replaced) {
        CompletableFuture.delayedExecutor(config.tuning().ioTimeout().toMillis(), TimeUnit.MILLISECONDS)
                .execute(() -> closeQuietly(replaced));
    }

    /**
     * Makes a client on {@code group} current if {@code stale} still is (and this is open);
     * returns the client it replaced, or null. Call with this object's lock held.
     */
    private RaftClient replace(RaftClient stale, RaftGroup group) {
        if (closed || current != stale) {
            return null;
        }
        current = build(group);
        return stale;
    }

    /** A new Ratis client on {@code group}; call with this object's lock held. */
    private RaftClient build(RaftGroup reported) {
        RaftGroup group = atOwnAddresses(reported);
        currentGroup = group;
        // Bounded: enough attempts to cover ioTimeout; the caller's timeout fails the op first.
        int attempts = (int) Math.max(3, config.tuning().ioTimeout().toMillis() / ClusterClient.RETRY_SLEEP.toMillis());
        RetryPolicy retry = RetryPolicies.retryUpToMaximumCountWithFixedSleep(attempts,
                TimeDuration.valueOf(ClusterClient.RETRY_SLEEP.toMillis(), TimeUnit.MILLISECONDS));
        return RaftClient.newBuilder().setProperties(props).setParameters(io.basalt.cluster.raft.RaftSetup.parameters(config)).setRaftGroup(group).setRetryPolicy(retry).build();
    }

    /**
     * {@code group} with each peer at the address this client's own cluster file gives its node.
     * The peers a node reports carry the addresses the nodes use among themselves; a client may
     * reach them at others (another network, a proxy). A node the file does not list keeps the
     * reported address. The Ratis client keeps these addresses when a {@code NotLeaderException}
     * names the peers again: it only adds peers it does not know.
     */
    private RaftGroup atOwnAddresses(RaftGroup group) {
        java.util.List<org.apache.ratis.protocol.RaftPeer> peers = new java.util.ArrayList<>();
        for (org.apache.ratis.protocol.RaftPeer p : group.getPeers()) {
            java.util.OptionalInt id = io.basalt.cluster.raft.RaftSetup.nodeIdOf(p.getId());
            var address = config.nodes().stream().filter(n -> id.isPresent() && n.id() == id.getAsInt()).findFirst();
            peers.add(address.map(a -> org.apache.ratis.protocol.RaftPeer.newBuilder(p).setAddress(a.address()).build()).orElse(p));
        }
        return RaftGroup.valueOf(group.getGroupId(), peers);
    }

    private static void closeQuietly(RaftClient c) {
        try {
            c.close();
        } catch (IOException | RuntimeException e) {
            // Nobody waits on it any more; a failure to close a replaced client changes nothing.
        }
    }

    @Override
    public void close() {
        RaftClient c;
        synchronized (this) {
            closed = true;
            c = current;
        }
        try {
            c.close();
        } catch (IOException e) {
            throw new UncheckedIOException("closing the client of " + name, e);
        }
    }
}
