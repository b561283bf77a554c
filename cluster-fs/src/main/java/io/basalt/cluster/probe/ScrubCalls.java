package io.basalt.cluster.probe;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.TimeDuration;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.pg.PgScrubState;
import io.basalt.cluster.pg.ScrubCodec;
import io.basalt.cluster.raft.RaftSetup;

/**
 * The scrub's calls to one replica of a placement group: Ratis stale reads addressed to that
 * replica's server, which it answers from its own state once it has applied {@code minIndex}
 * (docs/decisions/scrub-and-repair.md). One attempt per call, with the cluster's TLS if any.
 */
public final class ScrubCalls {
    private ScrubCalls() {}

    /** The replica has not applied the index asked for yet (a Ratis stale read refused): worth asking again shortly. */
    public static final class BehindException extends IOException {
        private static final long serialVersionUID = 1L;

        BehindException(String message) {
            super(message);
        }
    }

    /** {@code peer}'s frame of one version, read once it has applied {@code minIndex}. */
    public static ScrubCodec.FrameReply readFrame(ClusterConfig config, RaftGroupId group, RaftPeer peer, ScrubCodec.ReadFrame r,
                                                  long minIndex, Duration timeout) throws IOException {
        return ScrubCodec.decodeFrame(call(config, group, peer, ScrubCodec.encode(r), minIndex, timeout));
    }

    /** {@code peer}'s scrub counters of {@code group}; with {@code c.start()}, after asking it for a pass. */
    public static PgScrubState.Stats control(ClusterConfig config, RaftGroupId group, RaftPeer peer, ScrubCodec.Control c,
                                             Duration timeout) throws IOException {
        return ScrubCodec.decodeStats(call(config, group, peer, ScrubCodec.encode(c), 0, timeout));
    }

    /**
     * Test only: {@code peer} flips a bit in its stored frame of one grain's newest version
     * (refused unless it runs with {@link io.basalt.cluster.pg.BitRotForTest#PROPERTY}).
     */
    public static ScrubCodec.Rotted rotForTest(ClusterConfig config, RaftGroupId group, RaftPeer peer, ScrubCodec.RotForTest r, Duration timeout)
            throws IOException {
        return ScrubCodec.decodeRotted(call(config, group, peer, ScrubCodec.encode(r), 0, timeout));
    }

    private static ByteBuffer call(ClusterConfig config, RaftGroupId group, RaftPeer peer, byte[] request, long minIndex, Duration timeout)
            throws IOException {
        RaftProperties p = new RaftProperties();
        RaftClientConfigKeys.Rpc.setRequestTimeout(p, TimeDuration.valueOf(timeout.toMillis(), TimeUnit.MILLISECONDS));
        try (RaftClient c = RaftClient.newBuilder().setProperties(p).setParameters(RaftSetup.parameters(config))
                .setRaftGroup(RaftGroup.valueOf(group, peer)).setRetryPolicy(RetryPolicies.noRetry()).build()) {
            RaftClientReply reply;
            try {
                reply = c.io().sendStaleRead(Message.valueOf(ByteString.copyFrom(request)), minIndex, peer.getId());
            } catch (IOException e) {
                // Ratis throws a peer's refusal of a stale read (StateMachineException wrapping StaleReadException) as often as it replies it.
                throw String.valueOf(e).contains("StaleReadException") ? behind(peer, group, minIndex) : e;
            }
            if (!reply.isSuccess()) {
                if (String.valueOf(reply.getException()).contains("StaleReadException")) {
                    throw behind(peer, group, minIndex);
                }
                throw new IOException("scrub call to " + peer.getId() + " for " + group + " failed: " + NodeProbe.reason(reply.getException()));
            }
            return reply.getMessage().getContent().asReadOnlyByteBuffer();
        }
    }

    private static BehindException behind(RaftPeer peer, RaftGroupId group, long minIndex) {
        return new BehindException("scrub call to " + peer.getId() + " for " + group + ": it has not applied index " + minIndex + " yet");
    }
}
