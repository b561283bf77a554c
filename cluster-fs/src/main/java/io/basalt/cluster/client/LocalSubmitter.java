package io.basalt.cluster.client;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientAsynchronousProtocol;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServer;

/**
 * Hands a placement group's requests straight to the {@link RaftServer} in this process, without
 * the gRPC client and server in between, when that server holds a replica of the group:
 * <ul>
 *   <li>writes while it is the group's leader (always, once elected, when it is the sole voter,
 *       e.g. {@code ./basalt demo});
 *   <li>linearizable reads while it is the leader (answered from its lease). Ratis would also
 *       answer them on a follower (read index from the leader, then a local query), but that
 *       measured slower than asking the leader over gRPC.
 * </ul>
 *
 * <p>The request is the one a Ratis client would send (client id, call id, write type), so the
 * server's retry cache still applies a retried call once; call ids this submitter has seen
 * answered are reported with later requests, as the Ratis client does, so the cache can drop
 * them early.
 */
final class LocalSubmitter {
    private final RaftServer server;
    private final RaftGroupId group;
    private final RaftPeerId self;
    private final ClientId clientId = ClientId.randomId();
    private final AtomicLong callIds = new AtomicLong();
    private final ConcurrentLinkedQueue<Long> replied = new ConcurrentLinkedQueue<>();

    LocalSubmitter(RaftServer server, RaftGroupId group, RaftPeerId self) {
        this.server = server;
        this.group = group;
        this.self = self;
    }

    /** True when this server holds a replica of the group and is its leader right now. */
    boolean isLeader() {
        try {
            // A closed server still hands out its last division, which still says "leader".
            var info = server.getDivision(group).getInfo();
            return server.getLifeCycleState().isRunning() && info.isAlive() && info.isLeader();
        } catch (IOException e) {
            return false;
        }
    }

    /** A write request carrying {@code m}, with a new call id: submit it (and any retry of it) with {@link #submit}. */
    RaftClientRequest newWrite(Message m) {
        return newRequest(m, RaftClientRequest.writeRequestType());
    }

    /** A linearizable read-only request carrying {@code m}. */
    RaftClientRequest newRead(Message m) {
        return newRequest(m, RaftClientRequest.readRequestType());
    }

    private RaftClientRequest newRequest(Message m, RaftClientRequest.Type type) {
        List<Long> answered = new ArrayList<>();
        for (Long id; answered.size() < 256 && (id = replied.poll()) != null; ) {
            answered.add(id);
        }
        return RaftClientRequest.newBuilder()
                .setClientId(clientId)
                .setServerId(self)
                .setGroupId(group)
                .setCallId(callIds.incrementAndGet())
                .setRepliedCallIds(answered)
                .setMessage(m)
                .setType(type)
                .build();
    }

    CompletableFuture<RaftClientReply> submit(RaftClientRequest request) {
        CompletableFuture<RaftClientReply> f;
        try {
            // Straight to the division, on this thread: RaftServer.submitClientRequestAsync hands the
            // request to the server's client executor and blocks this thread until that thread has
            // appended it (two context switches per entry, and this thread is often the group's
            // state-machine updater completing the previous entry). Measured in
            // docs/decisions/cluster-write-path.md "Local submit straight to the division": one-node writes +15-35 %, local reads +55 %.
            f = server.getDivision(group) instanceof RaftClientAsynchronousProtocol division
                    ? division.submitClientRequestAsync(request) : server.submitClientRequestAsync(request);
        } catch (IOException e) {
            return CompletableFuture.failedFuture(e);
        }
        return f.whenComplete((reply, ex) -> {
            if (reply != null && reply.isSuccess()) {
                replied.add(request.getCallId());
            }
        });
    }
}
