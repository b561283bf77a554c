package io.basalt.cluster.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.proto.RaftProtos.StateMachineLogEntryProto;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.meta.MetaCodec;
import io.basalt.cluster.meta.MetaCommand;
import io.basalt.cluster.pg.ClientTag;
import io.basalt.cluster.pg.PgCodec;
import io.basalt.cluster.pg.PgOp;
import io.basalt.vdisk.store.VdiskStore;

/**
 * A committed entry a replica cannot read (here: a format version it does not know) stops the
 * replica, naming the entry's index and both versions; it is not skipped, which would leave the
 * replica behind the ones that applied it. The state machines are driven as Ratis's updater
 * thread drives them, without a server.
 */
class UnreadableEntryTest {
    @TempDir
    Path dir;

    @Test
    void aPgEntryOfAFutureVersionStopsTheReplicaNamingIndexAndVersions() {
        PgStateMachine sm = new PgStateMachine(0, new VdiskStore.Options(8L << 20, 2), null);
        sm.openStore(dir.resolve("pg"));
        try {
            sm.applyTransaction(entry(sm, 1, PgCodec.encodeBatch(List.of(new PgOp.CreateVdisk(1, 1 << 20, 512, 4096, 0, ""))))).join();
            assertEquals(1, sm.storeAppliedIndex(), "a readable entry applies");

            byte[] future = PgCodec.encodeEntry(new ClientTag(new java.util.UUID(1, 2), 1, 0), List.of(new PgOp.Unmap(1, 0, 8)));
            future[0] = 9;     // far above any version this build writes or reads
            var e = assertThrows(IllegalStateException.class, () -> sm.applyTransaction(entry(sm, 2, future)));
            assertTrue(e.getMessage().contains("entry at index 2 cannot be applied, stopping: pg entry: format version 9 (this node reads: 1.."),
                    e.getMessage());
            assertEquals(1, sm.storeAppliedIndex(), "not skipped: the store did not move past it");
        } finally {
            sm.closeStore();
        }
    }

    @Test
    void aMetaEntryOfAFutureVersionStopsTheReplicaNamingIndexAndVersions() {
        MetaStateMachine sm = new MetaStateMachine();
        sm.openStore(dir.resolve("meta"));
        try {
            sm.applyTransaction(entry(sm, 1, MetaCodec.encode(new MetaCommand.CreateVdisk("a", 1 << 20, 512, 4096, 1)))).join();
            assertEquals(1, sm.storeAppliedIndex(), "a readable entry applies");

            byte[] future = MetaCodec.encode(new MetaCommand.RemoveVdisk("a"));
            future[0] = 9;
            var e = assertThrows(IllegalStateException.class, () -> sm.applyTransaction(entry(sm, 2, future)));
            assertTrue(e.getMessage().contains("entry at index 2 cannot be applied, stopping: meta command: format version 9 (this node reads: "),
                    e.getMessage());
            assertEquals(1, sm.storeAppliedIndex(), "not skipped: the store did not move past it");
        } finally {
            sm.closeStore();
        }
    }

    /** A committed entry as a follower's updater thread hands it to the state machine. */
    private static TransactionContext entry(StoreStateMachine sm, long index, byte[] data) {
        LogEntryProto e = LogEntryProto.newBuilder().setTerm(1).setIndex(index)
                .setStateMachineLogEntry(StateMachineLogEntryProto.newBuilder().setLogData(ByteString.copyFrom(data))).build();
        return TransactionContext.newBuilder().setServerRole(RaftPeerRole.FOLLOWER).setStateMachine(sm).setLogEntry(e).build();
    }
}
