package io.basalt.cluster.client;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;
import java.util.function.Supplier;

import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;

import io.basalt.cluster.pg.ClientTag;
import io.basalt.cluster.pg.PgCodec;
import io.basalt.cluster.pg.PgOp;
import io.basalt.cluster.pg.PgResult;
import io.basalt.cluster.raft.RaftSetup;
import io.basalt.vdisk.BlockDeviceException;

/**
 * The client's pipe to one placement group, with group commit: operations queue here, and
 * whenever fewer than {@code inflightEntriesMax} entries are in flight, everything queued
 * (up to {@link RaftSetup#ENTRY_BYTES_MAX} and {@link PgCodec#BATCH_OPS_MAX}) leaves as one Raft
 * entry. Under load batches grow by themselves; an idle device sends each op alone at once.
 * Mutations and reads have separate queues: reads go as one linearizable read-only request.
 *
 * <p>Retries on leader change are the Ratis client's (same call id, so the servers' retry cache
 * applies an entry once); {@link #ioTimeout} bounds the whole operation, after which it fails
 * with {@link BlockDeviceException.Kind#TRANSIENT} naming the PG.
 *
 * <p>{@value #ACK_BEFORE_COMMIT_PROPERTY}: a switch for one test only (the chaos harness's
 * durability mutation), which shows that the durability check can fail: a batch of plain writes
 * is acknowledged to its callers as soon as its entry is handed to the Ratis client, before the
 * group committed it. Read once per channel, when its client opens, and logged as an error while
 * on. Never set it for a real client.
 */
final class PgChannel implements AutoCloseable {
    static final int QUEUED_OPS_MAX = 16_384;
    static final String ACK_BEFORE_COMMIT_PROPERTY = "basalt.test.ackWritesBeforeCommit";
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(PgChannel.class);
    /** Room for the entry header and per-op fields next to the data. */
    private static final int OP_OVERHEAD_BYTES = 64;

    private final int pg;
    private final GroupClient client;
    private final Duration ioTimeout;
    private final int inflightEntriesMax;
    /** Non-null when this process holds the PG's only replica: reads go straight to it. */
    private final java.util.function.Supplier<io.basalt.cluster.pg.PgStore> localStore;
    /** Asks the local replica's scrub for a pass: a read of {@link #localStore} met a checksum mismatch. */
    private final Runnable askScrub;
    /**
     * Non-null when this process runs a node: requests go to its server first when it leads the
     * PG, and always when it is the only voter.
     */
    private final LocalSubmitter local;
    /** Requests served by {@link #local}'s server, for tests and diagnostics. */
    final java.util.concurrent.atomic.AtomicLong localRequests = new java.util.concurrent.atomic.AtomicLong();
    /** Reads served by {@link #localStore}, for tests and diagnostics. */
    final java.util.concurrent.atomic.AtomicLong localReads = new java.util.concurrent.atomic.AtomicLong();
    /** Write entries sent, the ops they carried, and the nanoseconds they were in flight. */
    private final java.util.concurrent.atomic.LongAdder writeEntries = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder writeOps = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder writeEntryNanos = new java.util.concurrent.atomic.LongAdder();
    /** This client's session for the PG's state machine (see {@link ClientTag}). */
    private final java.util.UUID session;
    /** The last write entry's sequence number, and those not yet answered or given up. */
    private long lastSeq;
    private final java.util.TreeSet<Long> unanswered = new java.util.TreeSet<>();
    private final Lane writes = new Lane(false);
    private final Lane reads = new Lane(true);
    private boolean closed;
    /** The test-only mutation (see the class comment): writes acknowledged when sent. */
    private final boolean ackWritesWhenSent;

    /**
     * The shortcuts to a node in this process, each null when there is none: its store while
     * it holds the PG's only replica ({@link LocalNode#soleReplicaStore}), and its server.
     */
    record LocalPaths(java.util.function.Supplier<io.basalt.cluster.pg.PgStore> soleReplicaStore, LocalSubmitter submitter, Runnable askScrub) {
        static final LocalPaths NONE = new LocalPaths(null, null, () -> {});
    }

    PgChannel(int pg, GroupClient client, Duration ioTimeout, int inflightEntriesMax, LocalPaths localPaths, java.util.UUID session) {
        this.pg = pg;
        this.session = session;
        this.localStore = localPaths.soleReplicaStore();
        this.askScrub = localPaths.askScrub();
        this.local = localPaths.submitter();
        this.inflightEntriesMax = inflightEntriesMax;
        this.client = client;
        this.ioTimeout = ioTimeout;
        this.ackWritesWhenSent = Boolean.getBoolean(ACK_BEFORE_COMMIT_PROPERTY);
        if (ackWritesWhenSent) {
            log.error("pg-{}: -D{}=true: writes are acknowledged BEFORE they are committed; acknowledged writes can be lost. Test use only.",
                    pg, ACK_BEFORE_COMMIT_PROPERTY);
        }
    }

    /** An op waiting for its entry; {@code deadline} ({@link System#nanoTime}) is its submission plus the I/O timeout. */
    private record Pending(PgOp op, int bytes, CompletableFuture<PgResult> result, long deadline) {}

    /** One queue and its in-flight count. */
    private final class Lane {
        final boolean readOnly;
        final ArrayDeque<Pending> queue = new ArrayDeque<>();
        int inFlight;

        Lane(boolean readOnly) {
            this.readOnly = readOnly;
        }

        /**
         * Takes the next batch; call with the channel's lock held. Ops whose I/O timeout passed
         * while they waited behind an entry the group did not answer are not sent: they go to
         * {@code expired}, for the caller to fail outside the lock.
         */
        List<Pending> drain(List<Pending> expired) {
            List<Pending> batch = new ArrayList<>();
            int bytes = 16;
            long now = System.nanoTime();
            while (!queue.isEmpty() && batch.size() < PgCodec.BATCH_OPS_MAX) {
                Pending next = queue.peek();
                if (next.deadline() - now <= 0) {
                    expired.add(queue.poll());
                    continue;
                }
                if (!batch.isEmpty() && bytes + next.bytes() > RaftSetup.ENTRY_BYTES_MAX) {
                    break;
                }
                bytes += next.bytes();
                batch.add(queue.poll());
            }
            return batch;
        }
    }

    CompletableFuture<PgResult> submit(PgOp op) {
        if (op instanceof PgOp.Query && localStore != null) {
            io.basalt.cluster.pg.PgStore store = localStore.get();
            if (store != null) {
                localReads.incrementAndGet();
                // Served without the state machine, so the ask for a pass it makes on CORRUPTION is made here.
                return store.query(List.of(op)).thenApply(r -> {
                    if (r.get(0) instanceof PgResult.Failed f && f.kind() == BlockDeviceException.Kind.CORRUPTION) {
                        askScrub.run();
                    }
                    return r.get(0);
                });
            }
        }
        Lane lane = op instanceof PgOp.Query ? reads : writes;
        Pending p = new Pending(op, sizeOf(op), new CompletableFuture<>(), System.nanoTime() + ioTimeout.toNanos());
        if (p.bytes() > RaftSetup.ENTRY_BYTES_MAX) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("op size: " + p.bytes()
                    + " bytes (expected: <= " + RaftSetup.ENTRY_BYTES_MAX + ") pg-" + pg));
        }
        List<Pending> batch = null;
        List<Pending> expired = new ArrayList<>(0);
        synchronized (this) {
            if (closed) {
                return CompletableFuture.failedFuture(new BlockDeviceException(BlockDeviceException.Kind.UNAVAILABLE,
                        "cluster client is closed (pg-" + pg + ")"));
            }
            if (lane.queue.size() >= QUEUED_OPS_MAX) {
                return CompletableFuture.failedFuture(new BlockDeviceException(BlockDeviceException.Kind.TRANSIENT,
                        "pg-" + pg + ": " + lane.queue.size() + " ops queued (expected: < " + QUEUED_OPS_MAX + "); the group is not keeping up"));
            }
            lane.queue.add(p);
            if (lane.inFlight < inflightEntriesMax) {
                batch = lane.drain(expired);
                lane.inFlight += batch.isEmpty() ? 0 : 1;
            }
        }
        expire(expired);
        if (batch != null && !batch.isEmpty()) {
            send(lane, batch);
        }
        return p.result();
    }

    private void send(Lane lane, List<Pending> batch) {
        List<PgOp> ops = new ArrayList<>(batch.size());
        for (Pending p : batch) {
            ops.add(p.op());
        }
        ClientTag tag = lane.readOnly ? null : nextTag();
        Message m = Message.valueOf(UnsafeByteOperations.unsafeWrap(tag == null ? PgCodec.encodeBatch(ops) : PgCodec.encodeEntry(tag, ops)));
        CompletableFuture<RaftClientReply> f;
        long sentAt = System.nanoTime();
        // The entry may take what its most waited-for op has left of its I/O timeout.
        long deadline = earliestDeadline(batch);
        long timeoutNanos = Math.max(TimeUnit.MILLISECONDS.toNanos(1), deadline - sentAt);
        try {
            if (lane.readOnly) {
                Supplier<CompletableFuture<RaftClientReply>> remote = () -> client.send(c -> c.async().sendReadOnly(m), LeaderRetry.READ, deadline);
                // Only where this node leads (answered from its lease): a follower read costs a
                // read-index round trip to the leader plus waiting for its own apply, measured
                // slower than asking the leader (docs/decisions/gateway-inside-the-node.md). A read is safe to
                // repeat: whatever stopped the local one, the leader is asked.
                f = local != null && local.isLeader() ? localFirst(local.submit(local.newRead(m)), e -> true, remote) : remote.get();
            } else if (local != null && localStore != null && localStore.get() != null) {
                // The only voter: it is the leader once elected, so wait for that rather than go round.
                var request = local.newWrite(m);
                f = LeaderRetry.call(() -> local.submit(request), LeaderRetry.NO_LEADER, deadline, ClusterClient.RETRY_SLEEP);
            } else {
                Supplier<CompletableFuture<RaftClientReply>> remote = () -> client.send(c -> c.async().send(m), LeaderRetry.STEPPING_DOWN, deadline);
                // Refused as "not (or no longer) the leader" means not appended: safe to send to the leader.
                // Refused before it reached the log (a server stopping or not started yet) likewise.
                f = local != null && local.isLeader()
                        ? localFirst(local.submit(local.newWrite(m)), LeaderRetry.NO_LEADER.or(LeaderRetry.NOT_RUNNING), remote)
                        : remote.get();
            }
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        if (ackWritesWhenSent && tag != null && batch.stream().allMatch(p -> p.op() instanceof PgOp.Write)) {
            for (Pending p : batch) {
                p.result().complete(new PgResult.Done()); // the mutation: the real answer, when it comes, is dropped
            }
        }
        f.orTimeout(timeoutNanos, TimeUnit.NANOSECONDS).whenComplete((reply, ex) -> {
            if (tag != null) {
                answered(tag.seq());
                writeEntries.increment();
                writeOps.add(batch.size());
                writeEntryNanos.add(System.nanoTime() - sentAt);
            }
            complete(batch, reply, ex);
            List<Pending> next;
            List<Pending> expired = new ArrayList<>(0);
            synchronized (this) {
                next = lane.drain(expired);
                lane.inFlight -= next.isEmpty() ? 1 : 0;
            }
            expire(expired);
            if (!next.isEmpty()) {
                send(lane, next);
            }
        });
    }

    private static long earliestDeadline(List<Pending> batch) {
        long earliest = batch.get(0).deadline();
        for (Pending p : batch) {
            earliest = p.deadline() - earliest < 0 ? p.deadline() : earliest;
        }
        return earliest;
    }

    /** Fails ops whose I/O timeout passed in the queue: never sent, so they never take effect. */
    private void expire(List<Pending> expired) {
        for (Pending p : expired) {
            p.result().completeExceptionally(new BlockDeviceException(BlockDeviceException.Kind.TRANSIENT, "pg-" + pg
                    + " has no quorum or no reachable leader: no answer within " + ioTimeout.toMillis()
                    + " ms (queued behind an entry the group did not answer; not sent)"));
        }
    }

    /** {@code attempt} on this process's server; on a failure {@code fallBack} accepts, {@code remote} instead. */
    private CompletableFuture<RaftClientReply> localFirst(CompletableFuture<RaftClientReply> attempt, Predicate<Throwable> fallBack,
                                                          Supplier<CompletableFuture<RaftClientReply>> remote) {
        return attempt.handle((reply, ex) -> {
            Throwable failure = ex != null ? ex : reply.isSuccess() ? null : reply.getException();
            if (failure == null) {
                localRequests.incrementAndGet();
                return CompletableFuture.completedFuture(reply);
            }
            Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
            if (fallBack.test(cause)) {
                return remote.get();
            }
            return ex == null ? CompletableFuture.completedFuture(reply) : CompletableFuture.<RaftClientReply>failedFuture(ex);
        }).thenCompose(x -> x);
    }

    /** The next write entry's tag: a new sequence number, and every earlier one answered counts as acked. */
    private synchronized ClientTag nextTag() {
        long seq = ++lastSeq;
        unanswered.add(seq);
        return new ClientTag(session, seq, unanswered.first() - 1);
    }

    /** The entry numbered {@code seq} was answered or given up: it is never sent again. */
    private synchronized void answered(long seq) {
        unanswered.remove(seq);
    }

    /** The Ratis client this PG's requests go through now: a new one once the last gave up ({@link GroupClient}). */
    org.apache.ratis.client.RaftClient raftClient() {
        return client.client();
    }

    EntryStats writeStats() {
        return new EntryStats(writeEntries.sum(), writeOps.sum(), writeEntryNanos.sum());
    }

    private void complete(List<Pending> batch, RaftClientReply reply, Throwable ex) {
        List<PgResult> results;
        try {
            results = decode(reply, ex);
            if (results.size() != batch.size()) {
                throw new BlockDeviceException(BlockDeviceException.Kind.IO, "pg-" + pg + " answered " + results.size()
                        + " results (expected: " + batch.size() + ")");
            }
        } catch (RuntimeException e) {
            for (Pending p : batch) {
                p.result().completeExceptionally(e);
            }
            return;
        }
        for (int i = 0; i < batch.size(); i++) {
            batch.get(i).result().complete(results.get(i));
        }
    }

    private List<PgResult> decode(RaftClientReply reply, Throwable ex) {
        if (ex != null) {
            Throwable cause = ex instanceof CompletionException && ex.getCause() != null ? ex.getCause() : ex;
            throwIfNoSpace(cause);
            String why = cause instanceof TimeoutException ? "no answer within " + ioTimeout.toMillis() + " ms" : String.valueOf(cause);
            throw new BlockDeviceException(BlockDeviceException.Kind.TRANSIENT,
                    "pg-" + pg + " has no quorum or no reachable leader: " + why, cause);
        }
        if (!reply.isSuccess()) {
            Throwable refusal = reply.getException();
            throwIfNoSpace(refusal);
            throw new BlockDeviceException(BlockDeviceException.Kind.IO, "pg-" + pg + " refused the request: " + refusal, refusal);
        }
        ByteBuffer content = reply.getMessage().getContent().asReadOnlyByteBuffer();
        if (io.basalt.cluster.raft.LostResult.is(content)) {
            throw io.basalt.cluster.raft.LostResult.exception("pg-" + pg + " entry");
        }
        return PgCodec.decodeResults(content);
    }

    /**
     * A leader's disk is below its reserve: the entry was refused before it was logged, so none of
     * its ops took effect (the Ratis client rebuilds the server's exception by class name).
     */
    private static void throwIfNoSpace(Throwable refusal) {
        if (refusal instanceof org.apache.ratis.protocol.exceptions.StateMachineException sme
                && sme.getCause() instanceof io.basalt.cluster.raft.NoSpaceException full) {
            throw new BlockDeviceException(BlockDeviceException.Kind.NO_SPACE, full.getMessage(), full);
        }
    }

    private static int sizeOf(PgOp op) {
        return OP_OVERHEAD_BYTES + switch (op) {
            case PgOp.Write w -> w.data().remaining();
            case PgOp.CompareAndWrite c -> c.data().remaining() + c.expected().remaining();
            default -> 0;
        };
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
        }
        client.close();
    }
}
