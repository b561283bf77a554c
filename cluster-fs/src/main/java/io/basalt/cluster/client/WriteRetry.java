package io.basalt.cluster.client;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.exceptions.LeaderSteppingDownException;

/**
 * Re-sends a write that a leader refused because it is stepping down (a leadership transfer to
 * a higher-priority peer, for example one that just joined). The Ratis client retries
 * {@code NotLeaderException} itself but completes the call with this one; the server refuses
 * it before appending anything ({@code RaftServerImpl.checkLeaderState}), so sending it again
 * cannot apply it twice. Repeated, with a pause, until {@code deadlineNanos}.
 */
final class WriteRetry {
    private WriteRetry() {}

    static CompletableFuture<RaftClientReply> send(Supplier<CompletableFuture<RaftClientReply>> call, long deadlineNanos, Duration pause) {
        CompletableFuture<RaftClientReply> attempt;
        try {
            attempt = call.get();
        } catch (RuntimeException e) {
            attempt = CompletableFuture.failedFuture(e);
        }
        return attempt.handle((reply, ex) -> {
            boolean again = System.nanoTime() < deadlineNanos
                    && (ex != null ? steppingDown(ex) : !reply.isSuccess() && steppingDown(reply.getException()));
            if (!again) {
                return ex == null ? CompletableFuture.completedFuture(reply) : CompletableFuture.<RaftClientReply>failedFuture(ex);
            }
            return CompletableFuture.supplyAsync(() -> null, CompletableFuture.delayedExecutor(pause.toMillis(), TimeUnit.MILLISECONDS))
                    .thenCompose(x -> send(call, deadlineNanos, pause));
        }).thenCompose(f -> f);
    }

    private static boolean steppingDown(Throwable t) {
        Throwable e = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
        return e instanceof LeaderSteppingDownException;
    }
}
