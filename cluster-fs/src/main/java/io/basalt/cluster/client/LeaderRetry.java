package io.basalt.cluster.client;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.Supplier;

import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.exceptions.GroupMismatchException;
import org.apache.ratis.protocol.exceptions.LeaderNotReadyException;
import org.apache.ratis.protocol.exceptions.LeaderSteppingDownException;
import org.apache.ratis.protocol.exceptions.NotLeaderException;
import org.apache.ratis.protocol.exceptions.RaftRetryFailureException;
import org.apache.ratis.protocol.exceptions.ReadException;
import org.apache.ratis.protocol.exceptions.ReadIndexException;
import org.apache.ratis.protocol.exceptions.ServerNotReadyException;

/**
 * Repeats a Raft call, with a pause, until {@code deadlineNanos}, while it fails because its
 * group has no usable leader. Each use names which failures are safe to repeat:
 * <ul>
 *   <li>{@link #READ}: a linearizable read answered by a leader just elected, not yet ready,
 *       or unknown to the server asked. The Ratis client hands these back; a read is safe to
 *       repeat.
 *   <li>{@link #STEPPING_DOWN}: a write refused by a leader that is stepping down (a leadership
 *       transfer, e.g. to a peer that just joined). The Ratis client retries
 *       {@code NotLeaderException} itself but completes the call with this one; the server
 *       refuses it before appending anything ({@code RaftServerImpl.checkLeaderState}), so
 *       sending it again cannot apply it twice.
 *   <li>{@link #GROUP_MOVED}: the server asked holds no replica of the group any more (its
 *       replica moved to another node); {@link GroupClient} finds the group's current peers
 *       before the next attempt.
 *   <li>{@link #NO_LEADER}: a write handed to the local server ({@link LocalSubmitter}) that is
 *       not (yet) the ready leader; it carries the same call id every time, so the server's
 *       retry cache applies it once.
 * </ul>
 */
final class LeaderRetry {
    static final Predicate<Throwable> STEPPING_DOWN = e -> e instanceof LeaderSteppingDownException;
    static final Predicate<Throwable> NO_LEADER = STEPPING_DOWN.or(e -> e instanceof LeaderNotReadyException || e instanceof NotLeaderException);
    /**
     * The Ratis client fails the request that met the mismatch with it, and every other request
     * of its (now closed) sliding window with an {@code AlreadyClosedException} caused by it.
     */
    static final Predicate<Throwable> GROUP_MOVED = e -> causedBy(e, GroupMismatchException.class);
    /**
     * The Ratis client ran out of its retry policy on a request (the group had no quorum for
     * longer than the I/O timeout) and closed its ordered window: it fails every later request
     * with an {@code AlreadyClosedException} caused by this, for good. Not safe to repeat (the
     * request that ran out may have been appended); {@link GroupClient} builds a new Ratis client
     * so that the next request goes through.
     */
    static final Predicate<Throwable> CLIENT_GAVE_UP = e -> causedBy(e, RaftRetryFailureException.class);
    /**
     * A local server refused a request before appending it because it is not running (starting,
     * closing): Ratis checks its life cycle first, or its client executor is shut down.
     */
    static final Predicate<Throwable> NOT_RUNNING = e -> e instanceof ServerNotReadyException || e instanceof RejectedExecutionException;
    static final Predicate<Throwable> READ = NO_LEADER.or(e -> e instanceof ReadIndexException || e instanceof ReadException);

    private LeaderRetry() {}

    /**
     * Where retries (and {@code beforeRetry}, which may block: a rediscovery probes nodes and
     * reads the meta group) run. Not the common pool: it has one thread on two cores, and a node
     * in the same process needs it to answer those very probes (seen: every probe timing out).
     */
    private static final java.util.concurrent.Executor RETRY_THREADS = java.util.concurrent.Executors.newCachedThreadPool(
            Thread.ofPlatform().daemon().name("basalt-retry-", 0).factory());

    static CompletableFuture<RaftClientReply> call(Supplier<CompletableFuture<RaftClientReply>> call, Predicate<Throwable> retriable,
                                                   long deadlineNanos, Duration pause) {
        return call(call, retriable, deadlineNanos, pause, failure -> {});
    }

    /** As above; {@code beforeRetry} sees each retried failure, after the pause and before the next attempt. */
    static CompletableFuture<RaftClientReply> call(Supplier<CompletableFuture<RaftClientReply>> call, Predicate<Throwable> retriable,
                                                   long deadlineNanos, Duration pause, Consumer<Throwable> beforeRetry) {
        CompletableFuture<RaftClientReply> attempt;
        try {
            attempt = call.get();
        } catch (RuntimeException e) {
            attempt = CompletableFuture.failedFuture(e);
        }
        return attempt.handle((reply, ex) -> {
            Throwable failure = ex != null ? ex : reply.isSuccess() ? null : reply.getException();
            Throwable cause = failure == null ? null : unwrap(failure);
            boolean again = cause != null && System.nanoTime() < deadlineNanos && retriable.test(cause);
            if (!again) {
                return ex == null ? CompletableFuture.completedFuture(reply) : CompletableFuture.<RaftClientReply>failedFuture(ex);
            }
            return CompletableFuture.supplyAsync(() -> null, CompletableFuture.delayedExecutor(pause.toMillis(), TimeUnit.MILLISECONDS, RETRY_THREADS))
                    .thenCompose(x -> {
                        beforeRetry.accept(cause);
                        return call(call, retriable, deadlineNanos, pause, beforeRetry);
                    });
        }).thenCompose(f -> f);
    }

    private static boolean causedBy(Throwable e, Class<? extends Throwable> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return false;
    }

    private static Throwable unwrap(Throwable t) {
        return t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    }
}
