package io.basalt.cluster.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;

import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.TestCluster;
import io.basalt.cluster.admin.GroupDirectory;
import io.basalt.cluster.admin.NodeProbe;
import io.basalt.cluster.meta.VdiskRecord;
import io.basalt.cluster.pg.PgCodec;
import io.basalt.cluster.pg.PgOp;
import io.basalt.cluster.pg.PgResult;
import io.basalt.cluster.raft.RaftSetup;

/**
 * A client whose idea of a group's peers is out of date (the group's replicas moved while it
 * was idle) asks a node that holds no replica: the answer is {@code GroupMismatchException},
 * which the Ratis client does not retry. {@link GroupClient} must find the group's current
 * peers and succeed.
 */
class GroupClientTest {
    @TempDir
    Path dir;
    private TestCluster cluster;

    @AfterEach
    void stop() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void aClientOnANodeWithoutTheGroupFindsTheGroupsCurrentPeers() throws Exception {
        // One replica per PG: every PG has nodes that do not hold it.
        cluster = TestCluster.start(TestCluster.config("g", 3, 3, 1, TestCluster.fastTuning()), dir);
        VdiskRecord v = cluster.client().createVdisk("disk0", 8L << 20, 512, 4096);
        var config = cluster.config();
        RaftGroup actual = GroupDirectory.discover(config).pg(config, 0);
        assertEquals(1, actual.getPeers().size(), actual.toString());
        int holder = NodeProbe.nodeIdOf(actual.getPeers().iterator().next().getId()).getAsInt();
        int stranger = holder == 1 ? 2 : 1;
        RaftPeer strangerPeer = RaftPeer.newBuilder().setId(RaftSetup.peerId(stranger)).setAddress(config.node(stranger).address()).build();
        RaftGroup stale = RaftGroup.valueOf(actual.getGroupId(), strangerPeer);

        try (GroupClient client = new GroupClient(config, RaftSetup.clientProperties(config), "pg-0", stale)) {
            RaftClient first = client.client();
            Message m = Message.valueOf(UnsafeByteOperations.unsafeWrap(PgCodec.encodeBatch(List.of(new PgOp.Read(v.id(), 0, 8)))));
            long deadline = System.nanoTime() + config.tuning().ioTimeout().toNanos();

            RaftClientReply reply = client.send(c -> c.async().sendReadOnly(m), LeaderRetry.READ, deadline).join();

            assertTrue(reply.isSuccess(), String.valueOf(reply.getException()));
            assertEquals(RaftSetup.peerId(holder), reply.getServerId(), "answered by the node that holds pg-0");
            assertNotEquals(first, client.client(), "the stale client was replaced");
            List<PgResult> results = PgCodec.decodeResults(reply.getMessage().getContent().asReadOnlyByteBuffer());
            ByteBuffer data = ((PgResult.Data) results.get(0)).data();
            assertEquals(8 * 512, data.remaining());
        }
    }
}
