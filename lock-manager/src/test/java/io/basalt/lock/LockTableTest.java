package io.basalt.lock;

import static io.basalt.lock.LockMode.EXCLUSIVE;
import static io.basalt.lock.LockMode.MULTI_WRITER;
import static io.basalt.lock.LockMode.SHARED_READ;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.basalt.lock.LockCommand.Acquire;
import io.basalt.lock.LockCommand.Break;
import io.basalt.lock.LockCommand.CloseSession;
import io.basalt.lock.LockCommand.ExpireSession;
import io.basalt.lock.LockCommand.Forget;
import io.basalt.lock.LockCommand.Handoff;
import io.basalt.lock.LockCommand.OpenSession;
import io.basalt.lock.LockCommand.Release;
import io.basalt.lock.LockCommand.RenewSession;
import io.basalt.lock.LockResult.Grant;
import io.basalt.lock.LockResult.Reason;
import io.basalt.lock.LockResult.Refused;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LockTableTest {
    private final LockTable table = new LockTable();
    private long index;

    private LockResult apply(LockCommand c) {
        return table.apply(++index, c);
    }

    private long open(String host) {
        return ((LockResult.SessionOpened) apply(new OpenSession(host, LockTable.DEFAULT_LEASE_MS, 0))).session().id();
    }

    private Grant acquire(long session, String vdisk, LockMode mode) {
        LockResult r = apply(new Acquire(session, vdisk, mode));
        return assertInstanceOf(LockResult.Granted.class, r, r::toString).grant();
    }

    private Refused refused(LockCommand c, Reason reason) {
        LockResult r = apply(c);
        Refused refused = assertInstanceOf(Refused.class, r, r::toString);
        assertEquals(reason, refused.reason(), refused.message());
        return refused;
    }

    private VdiskLock lock(String vdisk) {
        return table.lock(vdisk).orElseThrow();
    }

    private long tokenOf(long session, String vdisk) {
        return lock(vdisk).holding(session).orElseThrow().token();
    }

    @Test
    void exclusiveAndSharedReadCoexist() {
        long a = open("a");
        long b = open("b");
        Grant writer = acquire(a, "web", EXCLUSIVE);
        Grant reader = acquire(b, "web", SHARED_READ);
        assertEquals(List.of(new Holding(a, EXCLUSIVE, writer.token()), new Holding(b, SHARED_READ, reader.token())), lock("web").holders());
        assertEquals(writer.token(), lock("web").fence(), "a reader joining does not fence the writer");
    }

    @Test
    void secondExclusiveIsRefusedNamingTheHolder() {
        long a = open("host-a");
        long b = open("host-b");
        acquire(a, "web", EXCLUSIVE);
        Refused r = refused(new Acquire(b, "web", EXCLUSIVE), Reason.CONFLICT);
        assertEquals("vdisk web is held exclusive by session " + a + " (host host-a); exclusive does not coexist with it", r.message());
        refused(new Acquire(b, "web", MULTI_WRITER), Reason.CONFLICT);
    }

    @Test
    void exclusiveAndMultiWriterDoNotCoexist() {
        long a = open("a");
        long b = open("b");
        acquire(a, "web", MULTI_WRITER);
        Refused r = refused(new Acquire(b, "web", EXCLUSIVE), Reason.CONFLICT);
        assertTrue(r.message().contains("held multi-writer by session " + a), r.message());
    }

    @Test
    void multiWriterJoinDoesNotRaiseTheFence() {
        long a = open("a");
        long b = open("b");
        Grant first = acquire(a, "web", MULTI_WRITER);
        Grant second = acquire(b, "web", MULTI_WRITER);
        assertEquals(first.token(), lock("web").fence());
        assertEquals(first.token(), second.fence());
        assertEquals(first.token(), tokenOf(a, "web"), "the first holder keeps writing with its token");
        assertTrue(second.token() > first.token());
    }

    @Test
    void aLeavingMultiWriterRaisesTheFenceAndRetokensTheOthers() {
        long a = open("a");
        long b = open("b");
        long c = open("c");
        Grant ga = acquire(a, "web", MULTI_WRITER);
        acquire(b, "web", MULTI_WRITER);
        acquire(c, "web", SHARED_READ);
        long readerToken = tokenOf(c, "web");
        LockResult.Released released = assertInstanceOf(LockResult.Released.class, apply(new Release(b, "web")));
        long fence = released.after().fence();
        assertEquals(index, fence, "the fence rises to the release's index");
        assertEquals(fence, tokenOf(a, "web"), "the staying writer writes at the new fence");
        assertEquals(readerToken, tokenOf(c, "web"), "a reader is not re-tokened");
        LockResult.SessionRenewed renewed = assertInstanceOf(LockResult.SessionRenewed.class, apply(new RenewSession(a, 0)));
        assertEquals(List.of(new Grant("web", a, MULTI_WRITER, fence, fence)), renewed.grants(), "the renewal tells the writer its new token");
        assertTrue(fence > ga.token());
    }

    @Test
    void aLeavingReaderMovesNoFence() {
        long a = open("a");
        long b = open("b");
        Grant writer = acquire(a, "web", EXCLUSIVE);
        acquire(b, "web", SHARED_READ);
        apply(new Release(b, "web"));
        assertEquals(writer.token(), lock("web").fence());
        assertEquals(writer.token(), tokenOf(a, "web"));
    }

    @Test
    void upgradeFromSharedReadToExclusiveGivesANewTokenAndFence() {
        long a = open("a");
        Grant read = acquire(a, "web", SHARED_READ);
        assertEquals(0, read.fence(), "a reader alone fences nothing");
        Grant write = acquire(a, "web", EXCLUSIVE);
        assertEquals(index, write.token());
        assertEquals(write.token(), write.fence());
    }

    @Test
    void downgradeToSharedReadFencesTheOldWriteToken() {
        long a = open("a");
        long b = open("b");
        Grant write = acquire(a, "web", EXCLUSIVE);
        Grant read = acquire(a, "web", SHARED_READ);
        assertTrue(read.fence() > write.token(), "writes with the exclusive token are refused from now on");
        assertEquals(List.of(new Holding(a, SHARED_READ, read.token())), lock("web").holders());
        acquire(b, "web", EXCLUSIVE);
    }

    @Test
    void multiWriterUpgradesToExclusiveOnlyWhenAlone() {
        long a = open("a");
        long b = open("b");
        Grant multi = acquire(a, "web", MULTI_WRITER);
        acquire(b, "web", MULTI_WRITER);
        refused(new Acquire(a, "web", EXCLUSIVE), Reason.CONFLICT);
        apply(new Release(b, "web"));
        Grant exclusive = acquire(a, "web", EXCLUSIVE);
        assertTrue(exclusive.fence() > multi.token());
        assertEquals(exclusive.token(), exclusive.fence());
    }

    @Test
    void reacquiringInTheSameModeChangesNothing() {
        long a = open("a");
        Grant first = acquire(a, "web", EXCLUSIVE);
        table.drainChanges();
        assertEquals(first, acquire(a, "web", EXCLUSIVE), "a retried acquire gets the lock it already has");
        assertTrue(table.drainChanges().isEmpty());
    }

    @Test
    void handoffGivesTheReceiverAHigherTokenAndRaisesTheFence() {
        long src = open("src");
        long dst = open("dst");
        Grant before = acquire(src, "web", EXCLUSIVE);
        LockResult.HandedOff h = assertInstanceOf(LockResult.HandedOff.class, apply(new Handoff("web", src, dst)));
        assertEquals(new Grant("web", dst, EXCLUSIVE, index, index), h.grant());
        assertTrue(h.grant().token() > before.token());
        assertEquals(List.of(new Holding(dst, EXCLUSIVE, index)), h.after().holders(), "the source holds nothing after");
        assertEquals(h.after(), lock("web"));
    }

    @Test
    void handoffToASharedReadHolderMakesItTheWriter() {
        long src = open("src");
        long dst = open("dst");
        long backup = open("backup");
        acquire(src, "web", EXCLUSIVE);
        acquire(dst, "web", SHARED_READ);
        Grant backupRead = acquire(backup, "web", SHARED_READ);
        LockResult.HandedOff h = assertInstanceOf(LockResult.HandedOff.class, apply(new Handoff("web", src, dst)));
        assertEquals(List.of(new Holding(dst, EXCLUSIVE, index), new Holding(backup, SHARED_READ, backupRead.token())), h.after().holders());
        assertEquals(index, h.after().fence());
    }

    @Test
    void handoffNeedsAnExclusiveSourceAndTwoOpenSessions() {
        long a = open("a");
        long b = open("b");
        acquire(a, "web", MULTI_WRITER);
        refused(new Handoff("web", a, b), Reason.NOT_HOLDER);
        refused(new Handoff("web", a, a), Reason.INVALID);
        refused(new Handoff("web", a, 999), Reason.NO_SESSION);
        refused(new Handoff("db", b, a), Reason.NOT_HOLDER);
    }

    @Test
    void expiryDecidedBeforeARenewalIsStale() {
        long a = open("a");
        acquire(a, "web", EXCLUSIVE);
        long timedAt = table.session(a).orElseThrow().renewedAtIndex();
        apply(new RenewSession(a, 5));
        Refused r = refused(new ExpireSession(a, timedAt), Reason.STALE);
        assertTrue(r.message().contains("renewed at index " + (index - 1)), r.message());
        assertTrue(table.session(a).isPresent());
        assertEquals(1, table.grantsOf(a).size());
    }

    @Test
    void expiryReleasesEveryLockOfTheSessionAndFencesItsWrites() {
        long a = open("a");
        long b = open("b");
        Grant web = acquire(a, "web", EXCLUSIVE);
        Grant db = acquire(a, "db", MULTI_WRITER);
        acquire(b, "db", MULTI_WRITER);
        acquire(a, "logs", SHARED_READ);
        LockResult.SessionEnded ended = assertInstanceOf(LockResult.SessionEnded.class,
                apply(new ExpireSession(a, table.session(a).orElseThrow().renewedAtIndex())));
        assertTrue(ended.expired());
        assertEquals(3, ended.changed().size());
        assertTrue(lock("web").fence() > web.token());
        assertTrue(lock("db").fence() > db.token());
        assertEquals(lock("db").fence(), tokenOf(b, "db"));
        assertTrue(lock("logs").holders().isEmpty());
        assertTrue(table.grantsOf(a).isEmpty());
    }

    @Test
    void expiredSessionCannotRenew() {
        long a = open("a");
        apply(new ExpireSession(a, a));
        refused(new RenewSession(a, 0), Reason.NO_SESSION);
        refused(new Acquire(a, "web", EXCLUSIVE), Reason.NO_SESSION);
        refused(new ExpireSession(a, a), Reason.NO_SESSION);
        assertTrue(table.session(a).isEmpty());
    }

    @Test
    void closedSessionReleasesItsLocksAndCannotRenew() {
        long a = open("a");
        Grant g = acquire(a, "web", EXCLUSIVE);
        LockResult.SessionEnded ended = assertInstanceOf(LockResult.SessionEnded.class, apply(new CloseSession(a)));
        assertFalse(ended.expired());
        assertTrue(lock("web").fence() > g.token());
        refused(new RenewSession(a, 0), Reason.NO_SESSION);
        refused(new CloseSession(a), Reason.NO_SESSION);
    }

    @Test
    void operatorBreakFencesEveryHolder() {
        long a = open("a");
        long b = open("b");
        long c = open("c");
        acquire(a, "web", MULTI_WRITER);
        acquire(b, "web", MULTI_WRITER);
        acquire(c, "web", SHARED_READ);
        LockResult.Broken broken = assertInstanceOf(LockResult.Broken.class, apply(new Break("web")));
        assertEquals(List.of(a, b, c), broken.sessionIds());
        assertEquals(new VdiskLock("web", List.of(), index, index), broken.after());
        assertTrue(table.session(a).isPresent(), "the sessions stay open; only this vdisk is taken");
        refused(new Break("web"), Reason.NOT_HOLDER);
        Grant next = acquire(a, "web", EXCLUSIVE);
        assertTrue(next.token() > broken.after().fence());
    }

    @Test
    void forgetDropsOnlyAnUnheldRecordAndTokensStillGrow() {
        long a = open("a");
        Grant first = acquire(a, "web", EXCLUSIVE);
        refused(new Forget("web"), Reason.CONFLICT);
        apply(new Release(a, "web"));
        assertInstanceOf(LockResult.Forgotten.class, apply(new Forget("web")));
        assertTrue(table.lock("web").isEmpty());
        assertInstanceOf(LockResult.Forgotten.class, apply(new Forget("web")), "forgetting twice is harmless");
        assertTrue(acquire(a, "web", EXCLUSIVE).token() > first.token(), "tokens are indexes: a new record's are higher still");
    }

    @Test
    void openRefusesALeaseOutOfBoundsAndABlankHost() {
        refused(new OpenSession("a", LockTable.LEASE_MS_MIN - 1, 0), Reason.INVALID);
        refused(new OpenSession("a", LockTable.LEASE_MS_MAX + 1, 0), Reason.INVALID);
        Refused r = refused(new OpenSession(" ", 8_000, 0), Reason.INVALID);
        assertEquals("host: ' ' (expected: a non-blank name)", r.message());
        assertTrue(LockTable.LEASE_MS_MIN <= LockTable.DEFAULT_LEASE_MS && LockTable.DEFAULT_LEASE_MS <= LockTable.LEASE_MS_MAX);
    }

    @Test
    void indexesMustGrow() {
        table.apply(5, new OpenSession("a", 8_000, 0));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> table.apply(5, new OpenSession("b", 8_000, 0)));
        assertEquals("index: 5 (expected: > last applied 5)", e.getMessage());
    }

    @Test
    void changesNameEveryKeyTouchedInOrder() {
        long a = open("a");
        long b = open("b");
        acquire(b, "web", EXCLUSIVE);
        acquire(a, "db", EXCLUSIVE);
        LockTable.Changes changes = table.drainChanges();
        assertEquals(List.of(a, b), List.copyOf(changes.sessionIds()));
        assertEquals(List.of("db", "web"), List.copyOf(changes.vdisks()));
        apply(new CloseSession(b));
        assertEquals(new LockTable.Changes(Set.of(b), Set.of("web")), table.drainChanges());
    }

    @Test
    void restoreGivesTheSameTable() {
        long a = open("a");
        long b = open("b");
        acquire(a, "web", MULTI_WRITER);
        acquire(b, "web", MULTI_WRITER);
        acquire(b, "db", EXCLUSIVE);
        LockTable copy = new LockTable();
        copy.restore(table.lastIndex(), table.sessions(), table.locks());
        assertEquals(table.sessions(), copy.sessions());
        assertEquals(table.locks(), copy.locks());
        long next = index + 1;
        assertEquals(apply(new Release(a, "web")), copy.apply(next, new Release(a, "web")));
    }

    @Test
    void restoreRefusesABrokenInvariant() {
        Session a = new Session(1, "a", 8_000, 0, 0, 1);
        Session b = new Session(2, "b", 8_000, 0, 0, 2);
        VdiskLock twoWriters = new VdiskLock("web", List.of(new Holding(1, EXCLUSIVE, 3), new Holding(2, MULTI_WRITER, 4)), 3, 4);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> table.restore(4, List.of(a, b), List.of(twoWriters)));
        assertTrue(e.getMessage().startsWith("vdisk web: incompatible holders"), e.getMessage());
        assertTrue(table.sessions().isEmpty() && table.locks().isEmpty() && table.lastIndex() == 0, "a refused restore leaves the table empty");

        VdiskLock orphan = new VdiskLock("web", List.of(new Holding(7, EXCLUSIVE, 3)), 3, 3);
        assertThrows(IllegalStateException.class, () -> table.restore(4, List.of(a), List.of(orphan)));
        VdiskLock belowFence = new VdiskLock("web", List.of(new Holding(1, EXCLUSIVE, 3)), 4, 4);
        assertThrows(IllegalStateException.class, () -> table.restore(4, List.of(a), List.of(belowFence)));
        VdiskLock ahead = new VdiskLock("web", List.of(new Holding(1, EXCLUSIVE, 9)), 9, 9);
        e = assertThrows(IllegalStateException.class, () -> table.restore(4, List.of(a), List.of(ahead)));
        assertEquals("vdisk web: last token 9 above last applied index 4", e.getMessage());
        e = assertThrows(IllegalStateException.class, () -> table.restore(4, List.of(a, a), List.of()));
        assertEquals("restore: session 1 saved twice", e.getMessage());
        e = assertThrows(IllegalStateException.class, () -> table.restore(1, List.of(b), List.of()));
        assertEquals("restore: session 2 renewed at index 2 (expected: 2..1)", e.getMessage());
        table.restore(4, List.of(a, b), List.of());
        assertEquals(4, table.lastIndex());
    }
}
