package io.basalt.cluster.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.meta.MetaCommand.CloneVdisk;
import io.basalt.cluster.meta.MetaCommand.CreateSnapshot;
import io.basalt.cluster.meta.MetaCommand.CreateVdisk;
import io.basalt.cluster.meta.MetaStore.TermIndex;
import io.basalt.lock.LockCommand;
import io.basalt.lock.LockMode;
import io.basalt.lock.LockResult;
import io.basalt.lock.VdiskLock;

class MetaStoreTest {
    @TempDir
    Path dir;

    @Test
    void reopenRestoresStateAndAppliedIndexTogether() {
        try (MetaStore store = MetaStore.open(dir.resolve("m"))) {
            store.apply(new TermIndex(1, 1), new CreateVdisk("tmpl", 1 << 20, 512, 4096, 1));
            store.apply(new TermIndex(1, 2), new CreateSnapshot("tmpl", "v1", 2));
            store.apply(new TermIndex(2, 5), new CloneVdisk("tmpl", "v1", "web", 3));
            store.apply(new TermIndex(2, 6), lock(new LockCommand.OpenSession("h1", 1000, 4)));
            store.apply(new TermIndex(2, 7), new MetaCommand.ReportSpace(new NodeSpace(2, 100L << 20, 1L << 30, 10L << 30, 5)));
        }
        try (MetaStore store = MetaStore.open(dir.resolve("m"))) {
            assertEquals(new TermIndex(2, 7), store.applied());
            assertEquals(java.util.List.of(new NodeSpace(2, 100L << 20, 1L << 30, 10L << 30, 5)), store.state().spaces());
            assertTrue(store.state().spaces().get(0).full(), "100 MiB free under a 1 GiB reserve is full");
            assertEquals(2, store.vdisks().size());
            assertEquals(1, store.state().vdisk("web").orElseThrow().rootId());
            assertEquals(6, store.state().session(6).orElseThrow().id());
            assertEquals(3, store.state().nextId());
        }
    }

    private static MetaCommand lock(LockCommand c) {
        return new MetaCommand.Lock(c);
    }

    @Test
    void locksAndFencesSurviveAReopenAndTheTableGoesOnFromThem() {
        try (MetaStore store = MetaStore.open(dir.resolve("m"))) {
            store.apply(new TermIndex(1, 1), new CreateVdisk("web", 1 << 20, 512, 4096, 1));
            store.apply(new TermIndex(1, 2), lock(new LockCommand.OpenSession("ha", 2000, 1)));
            store.apply(new TermIndex(1, 3), lock(new LockCommand.OpenSession("hb", 2000, 1)));
            store.apply(new TermIndex(1, 4), lock(new LockCommand.Acquire(2, "web", LockMode.EXCLUSIVE)));
            store.apply(new TermIndex(1, 5), lock(new LockCommand.CloseSession(2)));
        }
        try (MetaStore store = MetaStore.open(dir.resolve("m"))) {
            VdiskLock web = store.state().lock("web").orElseThrow();
            assertEquals(List.of(), web.holders());
            assertEquals(5, web.fence(), "raised when the writer's session closed");
            assertEquals(List.of(3L), store.state().sessions().stream().map(io.basalt.lock.Session::id).toList());
            var granted = (LockResult.Granted) ((MetaResult.LockApplied) store.apply(new TermIndex(1, 6),
                    lock(new LockCommand.Acquire(3, "web", LockMode.EXCLUSIVE)))).result();
            assertEquals(6, granted.grant().token());
            assertEquals(6, granted.grant().fence());
        }
        try (MetaStore store = MetaStore.open(dir.resolve("m"))) {
            assertEquals(6, store.state().lock("web").orElseThrow().fence());
            assertEquals(3, store.state().lock("web").orElseThrow().exclusive().orElseThrow().sessionId());
        }
    }

    @Test
    void refusesAnEntryAtOrBelowTheAppliedIndex() {
        try (MetaStore store = MetaStore.open(dir.resolve("m"))) {
            store.apply(new TermIndex(1, 3), new CreateVdisk("a", 1 << 20, 512, 4096, 1));
            var e = assertThrows(IllegalStateException.class,
                    () -> store.apply(new TermIndex(1, 3), new CreateVdisk("b", 1 << 20, 512, 4096, 1)));
            assertTrue(e.getMessage().contains("expected: after TermIndex[term=1, index=3]"), e.getMessage());
            assertEquals(1, store.vdisks().size());
        }
    }

    @Test
    void checkpointOpensAsAReplicaAtThatMoment() {
        try (MetaStore store = MetaStore.open(dir.resolve("m"))) {
            store.apply(new TermIndex(1, 1), new CreateVdisk("a", 1 << 20, 512, 4096, 1));
            store.checkpoint(dir.resolve("cp"));
            store.apply(new TermIndex(1, 2), new CreateVdisk("b", 1 << 20, 512, 4096, 1));
        }
        try (MetaStore copy = MetaStore.open(dir.resolve("cp"))) {
            assertEquals(new TermIndex(1, 1), copy.applied());
            assertEquals(1, copy.vdisks().size());
            assertEquals("a", copy.vdisks().get(0).name());
        }
    }
    @Test
    void refusesAStoreOfAFutureFormatVersionNamingBoth() throws Exception {
        Path m = dir.resolve("m");
        try (MetaStore store = MetaStore.open(m)) {
            store.apply(new TermIndex(1, 1), new CreateVdisk("a", 1 << 20, 512, 4096, 1));
        }
        try (org.rocksdb.RocksDB db = org.rocksdb.RocksDB.open(m.toString())) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(new byte[] {4}, db.get(new byte[] {'f'}), "recorded when the store was made");
            db.put(new byte[] {'f'}, new byte[] {5});
        }
        var e = assertThrows(IllegalStateException.class, () -> MetaStore.open(m));
        assertEquals("meta store " + m + ": format version 5 (this node reads: 1..4)", e.getMessage());
    }

    @Test
    void opensAStoreWrittenBeforeItHadAFormatVersion() throws Exception {
        Path m = dir.resolve("m");
        try (MetaStore store = MetaStore.open(m)) {
            store.apply(new TermIndex(1, 1), new CreateVdisk("a", 1 << 20, 512, 4096, 1));
        }
        byte[] seamSession = java.nio.ByteBuffer.allocate(9).put((byte) 'h').putLong(2).array();
        try (org.rocksdb.RocksDB db = org.rocksdb.RocksDB.open(m.toString())) {
            db.delete(new byte[] {'f'});
            // A session of the seam before the lock table, as version 1 stored it (id, host, lease, renewed).
            db.put(seamSession, java.util.HexFormat.of().parseHex("0000000000000002000268310000000000000" + "3e80000000000000004"));
        }
        try (MetaStore store = MetaStore.open(m)) {
            assertEquals(new TermIndex(1, 1), store.applied());
            assertEquals(1, store.vdisks().size());
            assertTrue(store.state().sessions().isEmpty(), "the seam's sessions are dropped: their hosts open new ones");
        }
        try (org.rocksdb.RocksDB db = org.rocksdb.RocksDB.open(m.toString())) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(new byte[] {4}, db.get(new byte[] {'f'}), "recorded when it was opened");
            org.junit.jupiter.api.Assertions.assertNull(db.get(seamSession));
        }
    }

    @Test
    void keepsAVdisksPrStateAcrossAReopenAndForgetsItWithTheVdisk() throws Exception {
        Path m = dir.resolve("m");
        java.nio.ByteBuffer state = java.nio.ByteBuffer.wrap(new byte[] {1, 2, 3});
        try (MetaStore store = MetaStore.open(m)) {
            store.apply(new TermIndex(1, 1), new CreateVdisk("a", 1 << 20, 512, 4096, 1));
            assertEquals(new MetaResult.Done(), store.apply(new TermIndex(1, 2), new MetaCommand.SetPrState("a", 0, state)));
            assertTrue(store.apply(new TermIndex(1, 3), new MetaCommand.SetPrState("a", 0, state)) instanceof MetaResult.Rejected,
                    "a compare-and-set at a version that moved on is refused");
        }
        try (MetaStore store = MetaStore.open(m)) {
            assertEquals(java.util.Optional.of(new PrRecord("a", 1, state)), store.state().prState("a"));
            store.apply(new TermIndex(1, 4), new MetaCommand.RemoveVdisk("a"));
        }
        try (MetaStore store = MetaStore.open(m)) {
            assertEquals(java.util.Optional.empty(), store.state().prState("a"));
        }
    }

    @Test
    void opensStoresOfFormatVersions2And3AndRecordsVersion4() throws Exception {
        Path m = dir.resolve("m");
        try (MetaStore store = MetaStore.open(m)) {
            store.apply(new TermIndex(1, 1), new CreateVdisk("a", 1 << 20, 512, 4096, 1));
        }
        try (org.rocksdb.RocksDB db = org.rocksdb.RocksDB.open(m.toString())) {
            db.put(new byte[] {'f'}, new byte[] {2});
        }
        try (MetaStore store = MetaStore.open(m)) {
            assertEquals(1, store.vdisks().size());
        }
        try (org.rocksdb.RocksDB db = org.rocksdb.RocksDB.open(m.toString())) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(new byte[] {4}, db.get(new byte[] {'f'}));
            db.put(new byte[] {'f'}, new byte[] {3});
        }
        try (MetaStore store = MetaStore.open(m)) {
            assertEquals(1, store.vdisks().size());
        }
        try (org.rocksdb.RocksDB db = org.rocksdb.RocksDB.open(m.toString())) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(new byte[] {4}, db.get(new byte[] {'f'}));
        }
    }

    @Test
    void configRecordsAreComparedAndSetListedByPrefixAndSurviveAReopen() {
        Path m = dir.resolve("m");
        java.nio.ByteBuffer spec = java.nio.ByteBuffer.wrap(new byte[] {7, 8});
        try (MetaStore store = MetaStore.open(m)) {
            assertEquals(new MetaResult.Done(), store.apply(new TermIndex(1, 1), putConfig("vm/web", 0, spec)));
            assertEquals(new MetaResult.Done(), store.apply(new TermIndex(1, 2), putConfig("vm/web", 1, spec)));
            MetaResult stale = store.apply(new TermIndex(1, 3), putConfig("vm/web", 1, spec));
            assertTrue(stale instanceof MetaResult.Rejected r && r.message().contains("at version 2"), "stale compare-and-set: " + stale);
            store.apply(new TermIndex(1, 4), putConfig("vm/db", 0, spec));
            store.apply(new TermIndex(1, 5), putConfig("vmx", 0, spec));
            store.apply(new TermIndex(1, 6), putConfig("host/h1", 0, spec));
        }
        try (MetaStore store = MetaStore.open(m)) {
            assertEquals(List.of("vm/db", "vm/web"), store.state().configsUnder("vm").stream().map(ConfigRecord::key).toList(),
                    "'vm' lists vm/..., not vmx");
            assertEquals(2, store.state().config("vm/web").orElseThrow().version());
            assertEquals(4, store.state().configsUnder("").size());
            assertEquals(new MetaResult.Done(), store.apply(new TermIndex(1, 7),
                    new MetaCommand.PutConfig("vm/web", 2, java.util.Optional.empty())));
        }
        try (MetaStore store = MetaStore.open(m)) {
            assertEquals(java.util.Optional.empty(), store.state().config("vm/web"), "removed by an empty value");
        }
    }

    @Test
    void aConfigValueTooLargeIsRefusedNamingItsSize() {
        try (MetaStore store = MetaStore.open(dir.resolve("m"))) {
            MetaResult r = store.apply(new TermIndex(1, 1),
                    putConfig("vm/big", 0, java.nio.ByteBuffer.allocate(ConfigRecord.VALUE_BYTES_MAX + 1)));
            assertTrue(r instanceof MetaResult.Rejected rej && rej.message().contains(String.valueOf(ConfigRecord.VALUE_BYTES_MAX + 1)),
                    "refusal: " + r);
            assertEquals(List.of(), store.state().configsUnder(""));
        }
    }

    @Test
    void aConfigKeyOutsideThePatternIsRefusedNamingIt() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> putConfig("vm//x", 0, java.nio.ByteBuffer.allocate(1)));
        assertTrue(e.getMessage().contains("'vm//x'"), e.getMessage());
    }

    private static MetaCommand putConfig(String key, long expected, java.nio.ByteBuffer value) {
        return new MetaCommand.PutConfig(key, expected, java.util.Optional.of(value));
    }
}
