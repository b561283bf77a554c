package io.basalt.cluster.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;

import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.TestCluster;
import io.basalt.cluster.probe.GroupDirectory;
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
        int holder = RaftSetup.nodeIdOf(actual.getPeers().iterator().next().getId()).getAsInt();
        int stranger = holder == 1 ? 2 : 1;
        RaftPeer strangerPeer = RaftPeer.newBuilder().setId(RaftSetup.peerId(stranger)).setAddress(config.node(stranger).address()).build();
        RaftGroup stale = RaftGroup.valueOf(actual.getGroupId(), strangerPeer);

        try (GroupClient client = new GroupClient(config, RaftSetup.clientProperties(config), "pg-0", stale, () -> config)) {
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

    @Test
    void anEntryResentThroughANewRatisClientIsAppliedOnce() throws Exception {
        cluster = TestCluster.start(TestCluster.config("s", 3, 3, 1, TestCluster.fastTuning()), dir);
        VdiskRecord v = cluster.client().createVdisk("disk0", 8L << 20, 512, 4096);
        var config = cluster.config();
        RaftGroup group = GroupDirectory.discover(config).pg(config, 0);
        long deadline = System.nanoTime() + config.tuning().ioTimeout().toNanos();
        // The same bytes a PgChannel would resend after replacing its Ratis client.
        Message entry = message(PgCodec.encodeEntry(new io.basalt.cluster.pg.ClientTag(java.util.UUID.randomUUID(), 1, 0),
                List.of(new PgOp.Write(v.id(), 0, filled(1)))));

        try (GroupClient first = new GroupClient(config, RaftSetup.clientProperties(config), "pg-0", group, () -> config);
             GroupClient second = new GroupClient(config, RaftSetup.clientProperties(config), "pg-0", group, () -> config)) {
            assertEquals(List.of(new PgResult.Done()), results(first.send(c -> c.async().send(entry), LeaderRetry.STEPPING_DOWN, deadline).join()));
            Message later = message(PgCodec.encodeBatch(List.of(new PgOp.Write(v.id(), 0, filled(2)))));
            results(first.send(c -> c.async().send(later), LeaderRetry.STEPPING_DOWN, deadline).join());

            RaftClientReply again = second.send(c -> c.async().send(entry), LeaderRetry.STEPPING_DOWN, deadline).join();

            assertNotEquals(first.client().getId(), second.client().getId(), "two Ratis clients: no retry cache in between");
            assertEquals(List.of(new PgResult.Done()), results(again), "the first reply, kept by the PG's session table");
            Message read = message(PgCodec.encodeBatch(List.of(new PgOp.Read(v.id(), 0, 8))));
            ByteBuffer data = ((PgResult.Data) results(second.send(c -> c.async().sendReadOnly(read), LeaderRetry.READ, deadline).join()).get(0)).data();
            assertEquals(2, data.get(0), "the later write survived the resend");
            assertEquals(2, data.get(4095));
        }
    }

    /**
     * A node that restarts replays its log and skips the entries its store holds; Ratis keeps
     * what it answers them in the retry cache. A client that retries the same call (same client
     * id and call id) once the node leads again must get the entry's first result back, here a
     * miscompare at a given offset, not an empty answer ({@code LostResult}).
     */
    @Test
    void aRetryAcrossARestartGetsTheResultTheEntryFirstHad() throws Exception {
        cluster = TestCluster.start(TestCluster.config("r", 1, 1, 1, TestCluster.fastTuning()), dir);
        VdiskRecord v = cluster.client().createVdisk("disk0", 8L << 20, 512, 4096);
        RaftGroupId pg = cluster.pgGroup(0);
        cluster.waitForLeader(pg, java.time.Duration.ofSeconds(30));
        ByteBuffer expected = filled(0);
        expected.put(1000, (byte) 7); // the block holds zeros: the first difference is at byte 1000
        RaftClientRequest request = RaftClientRequest.newBuilder()
                .setClientId(ClientId.randomId())
                .setServerId(RaftSetup.peerId(1))
                .setGroupId(pg)
                .setCallId(1)
                .setMessage(message(PgCodec.encodeEntry(new io.basalt.cluster.pg.ClientTag(java.util.UUID.randomUUID(), 1, 0),
                        List.of(new PgOp.CompareAndWrite(v.id(), 0, expected, filled(3))))))
                .setType(RaftClientRequest.writeRequestType())
                .build();
        RaftClientReply first = cluster.node(1).server().submitClientRequestAsync(request).join();
        assertEquals(List.of(new PgResult.Compared(new io.basalt.vdisk.CompareResult(false, 1000))), results(first));

        cluster.stopNode(1);
        cluster.startNode(1);
        cluster.waitForLeader(pg, java.time.Duration.ofSeconds(30));
        TestCluster.waitUntil("the restarted node replayed the entry", java.time.Duration.ofSeconds(30),
                () -> lastApplied(pg) >= first.getLogIndex());
        RaftClientReply again = cluster.node(1).server().submitClientRequestAsync(request).join();

        assertEquals(first.getLogIndex(), again.getLogIndex(), "answered from the retry cache, not applied again");
        assertEquals(results(first), results(again), "the result the entry had before the restart");
    }

    private long lastApplied(RaftGroupId pg) {
        try {
            return cluster.division(1, pg).getInfo().getLastAppliedIndex();
        } catch (java.io.IOException e) {
            return -1;
        }
    }

    private static Message message(byte[] bytes) {
        return Message.valueOf(UnsafeByteOperations.unsafeWrap(bytes));
    }

    private static List<PgResult> results(RaftClientReply reply) {
        assertTrue(reply.isSuccess(), String.valueOf(reply.getException()));
        return PgCodec.decodeResults(reply.getMessage().getContent().asReadOnlyByteBuffer());
    }

    private static ByteBuffer filled(int value) {
        byte[] b = new byte[4096];
        java.util.Arrays.fill(b, (byte) value);
        return ByteBuffer.wrap(b);
    }
}
