package io.basalt.lock;

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
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The lock table: host sessions and the locks they hold on vdisks, as a deterministic state
 * machine. {@link #apply} is the only mutator; the same commands at the same indexes give the same
 * table on every replica. Time does not exist here: leases are timed by {@link LeaseTimers} on the
 * leader, which proposes {@link ExpireSession} when one runs out.
 *
 * <p>Tokens and fences (docs/architecture.md, "Locks and fencing"). Every grant and hand-off
 * returns a token equal to the index of its command, so tokens of a vdisk strictly grow. The
 * vdisk's fence is the lowest token a write may carry. It rises to the current index when a
 * writer comes in alone (its own grant shuts out every older writer) and when a writer leaves
 * (release, downgrade, close, expiry, hand-off, break); it does not move when a multi-writer joins
 * others, so joining never shuts out the current holders. Writers that stay while another leaves
 * (multi-writers) are given the new fence as their token; they learn it from their next renewal.
 *
 * <p>Invariants, checked after every change (a violation is a bug and stops the table): at most
 * one exclusive holder and never together with a multi-writer; every holder's session is open;
 * every writer's token is at least the fence; no token or fence above the vdisk's last token, nor
 * that above the last applied index.
 *
 * <p>Not thread-safe: the host serialises calls (a Raft state machine applies in log order).
 */
public final class LockTable {
    /** The lease a host session gets unless it asks for another: 8 s, a few missed heartbeats. */
    public static final long DEFAULT_LEASE_MS = 8_000;
    /** Leases shorter than this would expire between two heartbeats of a healthy host. */
    public static final long LEASE_MS_MIN = 1_000;
    /** Leases longer than this keep a dead host's disks locked for too long. */
    public static final long LEASE_MS_MAX = 600_000;

    private final TreeMap<Long, Session> sessions = new TreeMap<>();
    private final TreeMap<String, VdiskLock> locks = new TreeMap<>();
    private final Set<Long> changedSessions = new TreeSet<>();
    private final Set<String> changedLocks = new TreeSet<>();
    private final LockEvents events = new LockEvents();
    private long lastIndex;

    /**
     * The keys changed since the last {@link #drainChanges}, for the host to persist (absent now =
     * delete). Sorted, so that a host iterating them writes in the same order on every replica.
     */
    public record Changes(Set<Long> sessionIds, Set<String> vdisks) {
        public Changes {
            sessionIds = Collections.unmodifiableSortedSet(new TreeSet<>(sessionIds));
            vdisks = Collections.unmodifiableSortedSet(new TreeSet<>(vdisks));
        }

        public boolean isEmpty() {
            return sessionIds.isEmpty() && vdisks.isEmpty();
        }
    }

    /** Applies one command at {@code index}, which must be above every index applied before. */
    public LockResult apply(long index, LockCommand command) {
        if (index <= lastIndex) {
            throw new IllegalStateException("index: " + index + " (expected: > last applied " + lastIndex + ")");
        }
        lastIndex = index;
        LockResult result = switch (command) {
            case OpenSession c -> openSession(index, c);
            case RenewSession c -> renewSession(index, c);
            case CloseSession c -> endSession(index, c.sessionId(), false);
            case ExpireSession c -> expireSession(index, c);
            case Acquire c -> acquire(index, c);
            case Release c -> release(index, c);
            case Handoff c -> handoff(index, c);
            case Break c -> breakLock(index, c);
            case Forget c -> forget(c);
        };
        events.count(result);
        return result;
    }

    /** What this table has applied since it was made, by kind (for metrics). */
    public LockEvents events() {
        return events;
    }

    public long lastIndex() {
        return lastIndex;
    }

    public Optional<Session> session(long id) {
        return Optional.ofNullable(sessions.get(id));
    }

    public Collection<Session> sessions() {
        return List.copyOf(sessions.values());
    }

    public Optional<VdiskLock> lock(String vdisk) {
        return Optional.ofNullable(locks.get(vdisk));
    }

    public Collection<VdiskLock> locks() {
        return List.copyOf(locks.values());
    }

    /** The session's current locks, as grants (token and fence to use). */
    public List<Grant> grantsOf(long sessionId) {
        List<Grant> grants = new ArrayList<>();
        for (VdiskLock lock : locks.values()) {
            lock.holding(sessionId).ifPresent(h -> grants.add(grant(lock, h)));
        }
        return grants;
    }

    public Changes drainChanges() {
        Changes changes = new Changes(changedSessions, changedLocks);
        changedSessions.clear();
        changedLocks.clear();
        return changes;
    }

    /**
     * Loads persisted state into an empty table (after a restart or a snapshot install). The state
     * is checked whole, with the invariants {@link #apply} keeps, before the table takes it: a
     * refused restore (a saved record repeated, an index or token above {@code lastIndex}, holders
     * that may not coexist) throws and leaves the table empty.
     */
    public void restore(long lastIndex, Collection<Session> savedSessions, Collection<VdiskLock> savedLocks) {
        if (this.lastIndex != 0 || !sessions.isEmpty() || !locks.isEmpty()) {
            throw new IllegalStateException("restore into a table that is not empty: lastIndex=" + this.lastIndex);
        }
        if (lastIndex < 0) {
            throw new IllegalArgumentException("restore: lastIndex " + lastIndex + " (expected: >= 0)");
        }
        try {
            this.lastIndex = lastIndex;
            savedSessions.forEach(this::restoreSession);
            savedLocks.forEach(this::restoreLock);
        } catch (RuntimeException e) {
            this.lastIndex = 0;
            sessions.clear();
            locks.clear();
            throw e;
        }
    }

    private void restoreSession(Session s) {
        if (s.renewedAtIndex() < s.id() || s.renewedAtIndex() > lastIndex) {
            throw new IllegalStateException("restore: session " + s.id() + " renewed at index " + s.renewedAtIndex()
                    + " (expected: " + s.id() + ".." + lastIndex + ")");
        }
        if (sessions.putIfAbsent(s.id(), s) != null) {
            throw new IllegalStateException("restore: session " + s.id() + " saved twice");
        }
    }

    private void restoreLock(VdiskLock lock) {
        if (locks.putIfAbsent(lock.vdisk(), lock) != null) {
            throw new IllegalStateException("restore: vdisk " + lock.vdisk() + " saved twice");
        }
        checkInvariants(lock);
    }

    private LockResult openSession(long index, OpenSession c) {
        if (c.host() == null || c.host().isBlank()) {
            return refused(Reason.INVALID, "host: '" + c.host() + "' (expected: a non-blank name)");
        }
        if (c.leaseMs() < LEASE_MS_MIN || c.leaseMs() > LEASE_MS_MAX) {
            return refused(Reason.INVALID, "leaseMs: " + c.leaseMs() + " (expected: " + LEASE_MS_MIN + ".." + LEASE_MS_MAX + ") host=" + c.host());
        }
        Session s = new Session(index, c.host(), c.leaseMs(), c.nowMs(), c.nowMs(), index);
        putSession(s);
        return new LockResult.SessionOpened(s);
    }

    private LockResult renewSession(long index, RenewSession c) {
        Session s = sessions.get(c.sessionId());
        if (s == null) {
            return noSession(c.sessionId());
        }
        Session renewed = s.renewedAt(index, c.nowMs());
        putSession(renewed);
        return new LockResult.SessionRenewed(renewed, grantsOf(renewed.id()));
    }

    private LockResult expireSession(long index, ExpireSession c) {
        Session s = sessions.get(c.sessionId());
        if (s == null) {
            return noSession(c.sessionId());
        }
        if (s.renewedAtIndex() != c.renewedAtIndex()) {
            return refused(Reason.STALE, "session " + s.id() + " was renewed at index " + s.renewedAtIndex()
                    + " after the expiry was decided (at renewal index " + c.renewedAtIndex() + ")");
        }
        return endSession(index, s.id(), true);
    }

    private LockResult endSession(long index, long sessionId, boolean expired) {
        if (!sessions.containsKey(sessionId)) {
            return noSession(sessionId);
        }
        List<VdiskLock> changed = new ArrayList<>();
        for (VdiskLock lock : List.copyOf(locks.values())) {
            Optional<Holding> held = lock.holding(sessionId);
            if (held.isPresent()) {
                changed.add(putLock(without(lock, held.get(), index)));
            }
        }
        sessions.remove(sessionId);
        changedSessions.add(sessionId);
        return new LockResult.SessionEnded(sessionId, expired, changed);
    }

    private LockResult acquire(long index, Acquire c) {
        if (!sessions.containsKey(c.sessionId())) {
            return noSession(c.sessionId());
        }
        if (c.vdisk() == null || c.vdisk().isBlank() || c.mode() == null) {
            return refused(Reason.INVALID, "acquire: vdisk '" + c.vdisk() + "' mode " + c.mode() + " (expected: a vdisk name and a mode)");
        }
        VdiskLock lock = locks.getOrDefault(c.vdisk(), new VdiskLock(c.vdisk(), List.of(), 0, 0));
        for (Holding other : lock.holders()) {
            if (other.sessionId() != c.sessionId() && !c.mode().coexistsWith(other.mode())) {
                return refused(Reason.CONFLICT, "vdisk " + c.vdisk() + " is held " + other.mode().cliName() + " by session "
                        + other.sessionId() + " (host " + sessions.get(other.sessionId()).host() + "); "
                        + c.mode().cliName() + " does not coexist with it");
            }
        }
        Optional<Holding> existing = lock.holding(c.sessionId());
        if (existing.isPresent() && existing.get().mode() == c.mode()) {
            return new LockResult.Granted(grant(lock, existing.get()));   // already held so: nothing changes
        }
        VdiskLock base = existing.map(h -> without(lock, h, index)).orElse(lock);
        VdiskLock after = putLock(with(base, new Holding(c.sessionId(), c.mode(), index), index));
        return new LockResult.Granted(grant(after, after.holding(c.sessionId()).orElseThrow()));
    }

    private LockResult release(long index, Release c) {
        VdiskLock lock = locks.get(c.vdisk());
        Optional<Holding> held = lock == null ? Optional.empty() : lock.holding(c.sessionId());
        if (held.isEmpty()) {
            return refused(Reason.NOT_HOLDER, "session " + c.sessionId() + " does not hold vdisk " + c.vdisk());
        }
        VdiskLock after = putLock(without(lock, held.get(), index));
        return new LockResult.Released(c.vdisk(), c.sessionId(), after);
    }

    private LockResult handoff(long index, Handoff c) {
        if (c.fromSessionId() == c.toSessionId()) {
            return refused(Reason.INVALID, "hand-off of vdisk " + c.vdisk() + " from session " + c.fromSessionId() + " to itself");
        }
        if (!sessions.containsKey(c.fromSessionId())) {
            return noSession(c.fromSessionId());
        }
        if (!sessions.containsKey(c.toSessionId())) {
            return noSession(c.toSessionId());
        }
        VdiskLock lock = locks.get(c.vdisk());
        Optional<Holding> from = lock == null ? Optional.empty() : lock.holding(c.fromSessionId());
        if (from.isEmpty() || from.get().mode() != LockMode.EXCLUSIVE) {
            return refused(Reason.NOT_HOLDER, "session " + c.fromSessionId() + " does not hold vdisk " + c.vdisk() + " exclusive");
        }
        Optional<Holding> to = lock.holding(c.toSessionId());
        VdiskLock base = without(lock, from.get(), index);
        if (to.isPresent()) {
            base = without(base, to.get(), index);     // a shared-read destination becomes the writer
        }
        VdiskLock after = putLock(with(base, new Holding(c.toSessionId(), LockMode.EXCLUSIVE, index), index));
        return new LockResult.HandedOff(grant(after, after.holding(c.toSessionId()).orElseThrow()), c.fromSessionId(), after);
    }

    private LockResult breakLock(long index, Break c) {
        VdiskLock lock = locks.get(c.vdisk());
        if (lock == null || lock.holders().isEmpty()) {
            return refused(Reason.NOT_HOLDER, "vdisk " + c.vdisk() + " is not locked");
        }
        List<Long> broken = lock.holders().stream().map(Holding::sessionId).toList();
        VdiskLock after = putLock(new VdiskLock(c.vdisk(), List.of(), index, index));
        return new LockResult.Broken(c.vdisk(), broken, after);
    }

    private LockResult forget(Forget c) {
        VdiskLock lock = locks.get(c.vdisk());
        if (lock != null && !lock.holders().isEmpty()) {
            return refused(Reason.CONFLICT, "vdisk " + c.vdisk() + " is still locked by " + lock.holders().size() + " session(s)");
        }
        if (lock != null) {
            locks.remove(c.vdisk());
            changedLocks.add(c.vdisk());
        }
        return new LockResult.Forgotten(c.vdisk());
    }

    /** The lock without {@code gone}; a leaving writer raises the fence to {@code index} and re-tokens the writers who stay. */
    private static VdiskLock without(VdiskLock lock, Holding gone, long index) {
        List<Holding> rest = lock.holders().stream().filter(h -> h.sessionId() != gone.sessionId()).toList();
        if (!gone.mode().writes()) {
            return new VdiskLock(lock.vdisk(), rest, lock.fence(), lock.lastToken());
        }
        List<Holding> retokened = rest.stream()
                .map(h -> h.mode().writes() ? new Holding(h.sessionId(), h.mode(), index) : h)
                .toList();
        return new VdiskLock(lock.vdisk(), retokened, index, index);
    }

    /** The lock with {@code added} (token {@code index}); a writer that comes in alone raises the fence to its token. */
    private static VdiskLock with(VdiskLock lock, Holding added, long index) {
        List<Holding> holders = new ArrayList<>(lock.holders());
        holders.add(added);
        holders.sort((a, b) -> Long.compare(a.sessionId(), b.sessionId()));
        boolean otherWriters = lock.holders().stream().anyMatch(h -> h.mode().writes());
        long fence = added.mode().writes() && !otherWriters ? index : lock.fence();
        return new VdiskLock(lock.vdisk(), holders, fence, index);
    }

    private static Grant grant(VdiskLock lock, Holding h) {
        return new Grant(lock.vdisk(), h.sessionId(), h.mode(), h.token(), lock.fence());
    }

    private void putSession(Session s) {
        sessions.put(s.id(), s);
        changedSessions.add(s.id());
    }

    private VdiskLock putLock(VdiskLock lock) {
        VdiskLock before = locks.get(lock.vdisk());
        if (before != null && lock.lastToken() < before.lastToken()) {
            throw new IllegalStateException("vdisk " + lock.vdisk() + ": last token went down from " + before.lastToken() + " to " + lock.lastToken());
        }
        if (before != null && lock.fence() < before.fence()) {
            throw new IllegalStateException("vdisk " + lock.vdisk() + ": fence went down from " + before.fence() + " to " + lock.fence());
        }
        checkInvariants(lock);
        if (lock.fence() > (before == null ? 0 : before.fence())) {
            events.fenceRaised();
        }
        locks.put(lock.vdisk(), lock);
        changedLocks.add(lock.vdisk());
        return lock;
    }

    private void checkInvariants(VdiskLock lock) {
        long exclusive = lock.holders().stream().filter(h -> h.mode() == LockMode.EXCLUSIVE).count();
        long multi = lock.holders().stream().filter(h -> h.mode() == LockMode.MULTI_WRITER).count();
        if (exclusive > 1 || (exclusive == 1 && multi > 0)) {
            throw new IllegalStateException("vdisk " + lock.vdisk() + ": incompatible holders " + lock.holders());
        }
        long previous = 0;
        for (Holding h : lock.holders()) {
            if (h.sessionId() <= previous) {
                throw new IllegalStateException("vdisk " + lock.vdisk() + ": holders not in session order or repeated " + lock.holders());
            }
            previous = h.sessionId();
            if (!sessions.containsKey(h.sessionId())) {
                throw new IllegalStateException("vdisk " + lock.vdisk() + ": holder session " + h.sessionId() + " is not open");
            }
            if (h.mode().writes() && h.token() < lock.fence()) {
                throw new IllegalStateException("vdisk " + lock.vdisk() + ": writer " + h + " below fence " + lock.fence());
            }
            if (h.token() > lock.lastToken()) {
                throw new IllegalStateException("vdisk " + lock.vdisk() + ": token " + h.token() + " above last token " + lock.lastToken());
            }
        }
        if (lock.lastToken() > lastIndex) {
            // Tokens are command indexes: one above the last applied index would be issued again.
            throw new IllegalStateException("vdisk " + lock.vdisk() + ": last token " + lock.lastToken() + " above last applied index " + lastIndex);
        }
    }

    private static LockResult noSession(long sessionId) {
        return refused(Reason.NO_SESSION, "session " + sessionId + " is not open (expired, closed or never opened); open a new one");
    }

    private static LockResult refused(Reason reason, String message) {
        return new Refused(reason, message);
    }
}
