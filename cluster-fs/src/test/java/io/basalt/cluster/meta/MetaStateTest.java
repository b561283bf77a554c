package io.basalt.cluster.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;

import io.basalt.cluster.meta.MetaCommand.CloneVdisk;
import io.basalt.cluster.meta.MetaCommand.CreateSnapshot;
import io.basalt.cluster.meta.MetaCommand.CreateVdisk;
import io.basalt.cluster.meta.MetaCommand.RemoveSnapshot;
import io.basalt.cluster.meta.MetaCommand.RemoveVdisk;

class MetaStateTest {
    private final MetaState state = new MetaState();
    private long index;

    private MetaResult apply(MetaCommand c) {
        MetaResult r = state.apply(++index, c);
        state.checkInvariants();
        return r;
    }

    private VdiskRecord created(String name) {
        return ((MetaResult.VdiskChanged) apply(new CreateVdisk(name, 1 << 20, 512, 4096, 7))).vdisk();
    }

    @Test
    void createAllocatesGrowingIdsAndIsItsOwnRoot() {
        VdiskRecord a = created("a");
        VdiskRecord b = created("b");
        assertEquals(1, a.id());
        assertEquals(2, b.id());
        assertEquals(a.id(), a.rootId());
        assertEquals(List.of("a", "b"), state.vdisks().stream().map(VdiskRecord::name).toList());
    }

    @Test
    void rejectsDuplicateNameAndBadGeometryNamingTheValue() {
        created("a");
        var dup = assertInstanceOf(MetaResult.Rejected.class, apply(new CreateVdisk("a", 1 << 20, 512, 4096, 0)));
        assertTrue(dup.message().contains("already exists"), dup.message());
        var bad = assertInstanceOf(MetaResult.Rejected.class, apply(new CreateVdisk("c", 1000, 512, 4096, 0)));
        assertTrue(bad.message().contains("sizeBytes: 1000"), bad.message());
        var grain = assertInstanceOf(MetaResult.Rejected.class, apply(new CreateVdisk("c", 1 << 20, 512, 3000, 0)));
        assertTrue(grain.message().contains("grainSizeBytes: 3000"), grain.message());
        var name = assertInstanceOf(MetaResult.Rejected.class, apply(new CreateVdisk("-x", 1 << 20, 512, 4096, 0)));
        assertTrue(name.message().contains("'-x'"), name.message());
        assertEquals(1, state.vdisks().size());
        assertEquals(2, state.nextId(), "a refused create allocates no id");
    }

    /**
     * A rollback is marked before the PGs roll back and cleared after: while marked, the target
     * snapshot cannot be removed and no snapshot taken; finishing takes the snapshot's size; a
     * record with the mark survives its encoding, and one written before the mark existed reads
     * as unmarked.
     */
    @Test
    void anUnfinishedRollbackIsMarkedUntilEndedAndGuardsItsSnapshot() {
        created("a");
        apply(new CreateSnapshot("a", "s1", 1));
        apply(new MetaCommand.ResizeVdisk("a", 2 << 20));
        var noSnap = assertInstanceOf(MetaResult.Rejected.class, apply(new MetaCommand.BeginRollback("a", "nope")));
        assertTrue(noSnap.message().contains("no snapshot a@nope"), noSnap.message());
        var notBegun = assertInstanceOf(MetaResult.Rejected.class, apply(new MetaCommand.EndRollback("a", "s1")));
        assertTrue(notBegun.message().contains("not under way (under way: none)"), notBegun.message());

        VdiskRecord marked = ((MetaResult.VdiskChanged) apply(new MetaCommand.BeginRollback("a", "s1"))).vdisk();
        assertEquals(Optional.of("s1"), marked.rollingBackTo());
        assertEquals(marked, MetaCodec.decodeVdisk(java.nio.ByteBuffer.wrap(MetaCodec.encode(marked))));
        var rm = assertInstanceOf(MetaResult.Rejected.class, apply(new RemoveSnapshot("a", "s1")));
        assertTrue(rm.message().contains("unfinished rollback to a@s1") && rm.message().contains("basalt snap rollback a@s1"), rm.message());
        var snap = assertInstanceOf(MetaResult.Rejected.class, apply(new CreateSnapshot("a", "s2", 2)));
        assertTrue(snap.message().contains("unfinished rollback"), snap.message());

        VdiskRecord done = ((MetaResult.VdiskChanged) apply(new MetaCommand.EndRollback("a", "s1"))).vdisk();
        assertEquals(Optional.empty(), done.rollingBackTo());
        assertEquals(1 << 20, done.sizeBytes(), "the snapshot's size");
        assertInstanceOf(MetaResult.VdiskChanged.class, apply(new RemoveSnapshot("a", "s1")));

        byte[] current = MetaCodec.encode(done);
        byte[] older = java.util.Arrays.copyOf(current, current.length - 1); // the format before the mark: no trailing flag
        assertEquals(done, MetaCodec.decodeVdisk(java.nio.ByteBuffer.wrap(older)));
    }

    @Test
    void cloneSharesRootAndPinsParentSnapshot() {
        VdiskRecord tmpl = created("tmpl");
        apply(new CreateSnapshot("tmpl", "v1", 9));
        VdiskRecord web = ((MetaResult.VdiskChanged) apply(new CloneVdisk("tmpl", "v1", "web", 10))).vdisk();
        assertEquals(tmpl.id(), web.rootId());
        assertEquals(Optional.of(new VdiskRecord.ParentLink(tmpl.id(), "v1")), web.parent());
        apply(new CreateSnapshot("web", "s", 11));
        VdiskRecord grand = ((MetaResult.VdiskChanged) apply(new CloneVdisk("web", "s", "grand", 12))).vdisk();
        assertEquals(tmpl.id(), grand.rootId(), "root is the oldest ancestor");

        var snapBusy = assertInstanceOf(MetaResult.Rejected.class, apply(new RemoveSnapshot("tmpl", "v1")));
        assertTrue(snapBusy.message().contains("has clones [web]"), snapBusy.message());
        var vdiskBusy = assertInstanceOf(MetaResult.Rejected.class, apply(new RemoveVdisk("tmpl")));
        assertTrue(vdiskBusy.message().contains("snapshots"), vdiskBusy.message());
    }

    @Test
    void removeAfterSnapshotsAndClonesAreGone() {
        created("tmpl");
        apply(new CreateSnapshot("tmpl", "v1", 0));
        apply(new CloneVdisk("tmpl", "v1", "web", 0));
        assertInstanceOf(MetaResult.VdiskChanged.class, apply(new RemoveVdisk("web")));
        assertInstanceOf(MetaResult.VdiskChanged.class, apply(new RemoveSnapshot("tmpl", "v1")));
        assertInstanceOf(MetaResult.VdiskChanged.class, apply(new RemoveVdisk("tmpl")));
        assertTrue(state.vdisks().isEmpty());
        assertEquals(List.of(new MetaState.Key.Vdisk(1)), state.touched());
    }

    @Test
    void cloneChainDepthIsBounded() {
        created("d0");
        for (int i = 0; i < MetaState.CLONE_DEPTH_MAX; i++) {
            apply(new CreateSnapshot("d" + i, "s", 0));
            assertInstanceOf(MetaResult.VdiskChanged.class, apply(new CloneVdisk("d" + i, "s", "d" + (i + 1), 0)));
        }
        String last = "d" + MetaState.CLONE_DEPTH_MAX;
        apply(new CreateSnapshot(last, "s", 0));
        var r = assertInstanceOf(MetaResult.Rejected.class, apply(new CloneVdisk(last, "s", "too-deep", 0)));
        assertTrue(r.message().contains("clone chain depth: 17 (expected: <= 16)"), r.message());
    }

    private io.basalt.lock.LockResult lock(io.basalt.lock.LockCommand c) {
        return assertInstanceOf(MetaResult.LockApplied.class, apply(new MetaCommand.Lock(c))).result();
    }

    @Test
    void aLockIsTakenOnlyOnAnExistingVdiskWithTheLogIndexAsItsToken() {
        created("web");
        var opened = assertInstanceOf(io.basalt.lock.LockResult.SessionOpened.class, lock(new io.basalt.lock.LockCommand.OpenSession("host1", 5000, 100)));
        assertEquals(index, opened.session().id());
        var missing = assertInstanceOf(io.basalt.lock.LockResult.Refused.class,
                lock(new io.basalt.lock.LockCommand.Acquire(opened.session().id(), "nope", io.basalt.lock.LockMode.EXCLUSIVE)));
        assertTrue(missing.message().contains("vdisk: nope (expected: an existing vdisk)"), missing.message());
        var granted = assertInstanceOf(io.basalt.lock.LockResult.Granted.class,
                lock(new io.basalt.lock.LockCommand.Acquire(opened.session().id(), "web", io.basalt.lock.LockMode.EXCLUSIVE)));
        assertEquals(index, granted.grant().token());
        assertEquals(index, granted.grant().fence());
    }

    @Test
    void aLockedVdiskIsNotRemovedAndRemovingItForgetsItsLock() {
        created("web");
        long session = ((io.basalt.lock.LockResult.SessionOpened) lock(new io.basalt.lock.LockCommand.OpenSession("h", 5000, 1))).session().id();
        lock(new io.basalt.lock.LockCommand.Acquire(session, "web", io.basalt.lock.LockMode.EXCLUSIVE));
        var r = assertInstanceOf(MetaResult.Rejected.class, apply(new RemoveVdisk("web")));
        assertTrue(r.message().contains("vdisk web is locked by session(s) [" + session + " (exclusive)]"), r.message());
        lock(new io.basalt.lock.LockCommand.Release(session, "web"));
        assertTrue(state.lock("web").isPresent(), "an unheld lock keeps its fence");
        assertInstanceOf(MetaResult.VdiskChanged.class, apply(new RemoveVdisk("web")));
        assertEquals(Optional.empty(), state.lock("web"));
        assertEquals(0, state.drainLockChanges().vdisks().stream().filter(v -> state.lock(v).isPresent()).count());
    }
}
