package io.basalt.cluster.client;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.Supplier;

import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.exceptions.LeaderNotReadyException;
import org.apache.ratis.protocol.exceptions.LeaderSteppingDownException;
import org.apache.ratis.protocol.exceptions.NotLeaderException;
import org.apache.ratis.protocol.exceptions.ReadException;
import org.apache.ratis.protocol.exceptions.ReadIndexException;

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
 *   <li>{@link #NO_LEADER}: a write handed to the local server ({@link LocalSubmitter}) that is
 *       not (yet) the ready leader; it carries the same call id every time, so the server's
 *       retry cache applies it once.
 * </ul>
 */
final class LeaderRetry {
    static final Predicate<Throwable> STEPPING_DOWN = e -> e instanceof LeaderSteppingDownException;
    static final Predicate<Throwable> NO_LEADER = STEPPING_DOWN.or(e -> e instanceof LeaderNotReadyException || e instanceof NotLeaderException);
    static final Predicate<Throwable> READ = NO_LEADER.or(e -> e instanceof ReadIndexException || e instanceof ReadException);

    private LeaderRetry() {}

    static CompletableFuture<RaftClientReply> call(Supplier<CompletableFuture<RaftClientReply>> call, Predicate<Throwable> retriable,
                                                   long deadlineNanos, Duration pause) {
        CompletableFuture<RaftClientReply> attempt;
        try {
            attempt = call.get();
        } catch (RuntimeException e) {
            attempt = CompletableFuture.failedFuture(e);
        }
        return attempt.handle((reply, ex) -> {
            Throwable failure = ex != null ? ex : reply.isSuccess() ? null : reply.getException();
            boolean again = failure != null && System.nanoTime() < deadlineNanos && retriable.test(unwrap(failure));
            if (!again) {
                return ex == null ? CompletableFuture.completedFuture(reply) : CompletableFuture.<RaftClientReply>failedFuture(ex);
            }
            return CompletableFuture.supplyAsync(() -> null, CompletableFuture.delayedExecutor(pause.toMillis(), TimeUnit.MILLISECONDS))
                    .thenCompose(x -> call(call, retriable, deadlineNanos, pause));
        }).thenCompose(f -> f);
    }

    private static Throwable unwrap(Throwable t) {
        return t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    }
}
