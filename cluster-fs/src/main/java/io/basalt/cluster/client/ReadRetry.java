package io.basalt.cluster.client;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.exceptions.LeaderNotReadyException;
import org.apache.ratis.protocol.exceptions.NotLeaderException;
import org.apache.ratis.protocol.exceptions.ReadException;
import org.apache.ratis.protocol.exceptions.ReadIndexException;

/**
 * Retries a linearizable read while its group has no usable leader (just elected, not yet
 * ready, or unknown to the server asked). The Ratis client retries writes through its retry
 * policy but hands these read failures back; a read is safe to repeat, so repeat it, with a
 * pause, until {@code deadlineNanos}. Also used for a write handed to the local server
 * ({@link LocalSubmitter}): it carries the same call id every time, so the server's retry cache
 * applies it once.
 */
final class ReadRetry {
    private ReadRetry() {}

    static CompletableFuture<RaftClientReply> read(Supplier<CompletableFuture<RaftClientReply>> call, long deadlineNanos, Duration pause) {
        CompletableFuture<RaftClientReply> attempt;
        try {
            attempt = call.get();
        } catch (RuntimeException e) {
            attempt = CompletableFuture.failedFuture(e);
        }
        return attempt.handle((reply, ex) -> {
            boolean again = System.nanoTime() < deadlineNanos
                    && (ex != null ? retriable(ex) : !reply.isSuccess() && retriable(reply.getException()));
            if (!again) {
                return ex == null ? CompletableFuture.completedFuture(reply) : CompletableFuture.<RaftClientReply>failedFuture(ex);
            }
            return CompletableFuture.supplyAsync(() -> null, CompletableFuture.delayedExecutor(pause.toMillis(), TimeUnit.MILLISECONDS))
                    .thenCompose(x -> read(call, deadlineNanos, pause));
        }).thenCompose(f -> f);
    }

    private static boolean retriable(Throwable t) {
        Throwable e = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
        return e instanceof ReadIndexException || e instanceof ReadException || e instanceof LeaderNotReadyException
                || e instanceof NotLeaderException;
    }
}
