package io.basalt.replication.link;

import java.nio.ByteBuffer;

/**
 * The messages of the mirror link protocol, version {@link LinkCodec#PROTOCOL_VERSION}
 * (docs/architecture.md, "Replication"). A connection runs: {@link Hello} both ways, {@link Proof}
 * from the client then from the server, then any number of rounds, each a {@link ShipRequest}
 * answered by {@link StartAt} (followed by the stream's frames as {@link StreamFrame}s and
 * answered by {@link Applied} or {@link Refused}) or by {@link Refused}, or a {@link Call}
 * answered by {@link Reply} or {@link Refused}. {@link Refused} for the handshake ends the connection. Byte fields are read-only buffers (records compare them by
 * content).
 */
sealed interface LinkMessage {

    /** @param nonce {@link LinkProof#NONCE_BYTES} random bytes, new per connection */
    record Hello(int protocolVersion, String siteId, ByteBuffer nonce) implements LinkMessage {
        public Hello {
            nonce = nonce.asReadOnlyBuffer();
        }
    }

    /** @param mac {@link LinkProof#compute} for the sender's role */
    record Proof(ByteBuffer mac) implements LinkMessage {
        public Proof {
            mac = mac.asReadOnlyBuffer();
        }
    }

    /**
     * Ship the stream that {@code headerFrame} (an encoded mirror header frame) heads: which vdisk,
     * round, base and snapshot, and which attempt (its stream id).
     */
    record ShipRequest(ByteBuffer headerFrame) implements LinkMessage {
        public ShipRequest {
            headerFrame = headerFrame.asReadOnlyBuffer();
        }
    }

    /**
     * Send the stream from byte {@code offsetBytes} on: the receiver holds its frames before that
     * (0: none), whose CRC32Cs chain to {@code chainCrc} the way the end frame's chain does.
     */
    record StartAt(long offsetBytes, int chainCrc) implements LinkMessage {}

    /** One whole mirror stream frame, envelope included. */
    record StreamFrame(ByteBuffer frame) implements LinkMessage {
        public StreamFrame {
            frame = frame.asReadOnlyBuffer();
        }
    }

    /** The round's stream checked out and its snapshot {@code snapshot} was taken on the replica. */
    record Applied(long streamBytes, long extentCount, long dataBytes, String snapshot) implements LinkMessage {}

    /**
     * No: {@code reason} is a {@code MirrorException.Reason} name or one of the link's own
     * ({@link LinkCodec#AUTHENTICATION}, {@link LinkCodec#PROTOCOL}, {@link LinkCodec#BUSY},
     * {@link LinkCodec#FAILED}); {@code message} says why, naming the bad value.
     */
    record Refused(String reason, String message) implements LinkMessage {}

    /**
     * A request of the peer site beyond shipping rounds (a failover's demotion, a failback's
     * question): {@code op} names it, {@code body} is its argument, both for the server's
     * {@link MirrorServer.CallHandler} to read. Only after the handshake.
     */
    record Call(String op, String body) implements LinkMessage {}

    /** The answer to a {@link Call}. */
    record Reply(String body) implements LinkMessage {}
}
