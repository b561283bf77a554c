package io.basalt.lock;

import static io.basalt.lock.LockMode.EXCLUSIVE;
import static io.basalt.lock.LockMode.MULTI_WRITER;
import static io.basalt.lock.LockMode.SHARED_READ;

import io.basalt.lock.LockResult.Grant;
import io.basalt.lock.LockResult.Reason;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;
import net.jqwik.api.Tuple;
import net.jqwik.api.Tuple.Tuple2;

/**
 * The lock table, its leader's lease timers and its clients' lease keepers, driven together by
 * random steps over one explicit clock and checked after every step against an independent model
 * and the promises of issue 20:
 *
 * <ol type="a">
 *   <li>holders are compatible (one exclusive at most, never with a multi-writer);
 *   <li>every new token of a vdisk (grant, hand-off, re-token) is above every earlier one;
 *   <li>the fence never goes down, and once a writer stops holding with a token (release,
 *       downgrade, close, expiry, hand-off, break, re-token) the fence is above that token for good;
 *   <li>every writer's token is at least the fence, and a token a client was given but no longer
 *       holds is below it; a multi-writer joining moves neither the fence nor the others' tokens;
 *   <li>the leader never expires a session while its client's {@link LeaseKeeper} still says valid:
 *       renewals are sent, applied and acknowledged with delays, leaders' clocks run up to 10 %
 *       fast or 5 % slow from their own origins, and an expiry is applied a lag after it is decided
 *       (so a renewal can overtake it and make it stale); and every session that is not renewed
 *       is expired within its lease (plus the lag) on the current leader's clock;
 *   <li>the table, its commands passed through {@link LockCodec} as log entries and restored now and
 *       then from its records (a replica restarting), agrees with the model on every outcome, on who holds what in which mode, and on
 *       each session's renewal index.
 * </ol>
 *
 * The steps are records, so a failure shrinks to a short readable list: the step list and the
 * clocks are printed, and the failing check names the step number.
 *
 * <p>Mutations tried by hand (issue 20's acceptance), each run against this property alone and
 * reverted; every one was caught, the check that caught it in brackets:
 *
 * <ul>
 *   <li>{@code LockTable.without}: a writer leaving does not raise the fence (c).
 *   <li>{@code LockTable.endSession}: an expired session stays open and can renew (f).
 *   <li>{@code LockTable.renewSession}: a renewal of an unknown session re-creates it (f).
 *   <li>{@code LockTable.expireSession}: no staleness check, an expiry overtaken by a renewal ends
 *       the session anyway (f).
 *   <li>{@code LockTable.handoff}: the fence stays where it was (c).
 *   <li>{@code LockTable.breakLock}: the fence stays where it was (c).
 *   <li>{@code LockMode.coexistsWith}: exclusive coexists with multi-writer: the table's own
 *       invariant check throws; with that check off as well, (f).
 *   <li>{@code LockTable.with}: a multi-writer joining raises the fence: the table's invariant check
 *       throws; with it off, (d).
 *   <li>{@code LockTable.acquire}: a new holder gets the vdisk's last token, not the index: the
 *       table's invariant check; with it off, (d).
 *   <li>{@code LockTable.without}: writers that stay are not re-tokened: the table's invariant
 *       check; with it off, (d).
 *   <li>{@code LeaseTimers.renewed}: the leader times 90 % of the lease, which its fast clock makes
 *       shorter than the client's view (e).
 *   <li>{@code LeaseTimers.restartAll}: keeps the deadlines it had from an earlier term: an expiry
 *       of an older renewal is refused as stale and the session is never expired (liveness).
 *   <li>{@code LeaseKeeper}: no drift margin, against a leader clock running fast (e).
 *   <li>The client counts its lease from the acknowledgement, not from the sending (in this test's
 *       client, {@code renew}) (e).
 * </ul>
 */
class LockTableModelProperties {
    private static final int CLIENTS = 3;
    private static final int NODES = 3;
    private static final List<String> VDISKS = List.of("v0", "v1");
    private static final long TICK_MS = 10;
    private static final long MS = 1_000_000L;

    // ---- steps ----

    sealed interface Step {}

    record Open(int client, long leaseMs) implements Step {}

    record Renew(int client, int sendDelayMs, int ackDelayMs) implements Step {}

    record Close(int client) implements Step {}

    record Advance(int ms) implements Step {}

    record LeaderChange(int node) implements Step {}

    record Acquire(int client, int vdisk, LockMode mode) implements Step {}

    record Release(int client, int vdisk) implements Step {}

    record Handoff(int vdisk, int fromClient, int toClient) implements Step {}

    record Break(int vdisk) implements Step {}

    record Forget(int vdisk) implements Step {}

    /** The table's replica restarts: it restores from its persisted records (through {@link LockCodec}) and carries on. */
    record Restart() implements Step {}

    /** A node's clocks: its monotonic clock starts at {@code originMs} and runs at {@code ratePermille}/1000 of true time. */
    record NodeClock(long originMs, int ratePermille, long wallSkewMs) {}

    record Scenario(List<NodeClock> nodes, int expiryLagMs, List<Step> steps) {}

    @Property(tries = 1000)
    void lockTableKeepsItsPromisesUnderRandomSteps(@ForAll("scenarios") Scenario scenario) {
        new Run(scenario).run();
    }

    // ---- the run ----

    /** Client, leader and table on one explicit clock ({@code nowMs}, true time). */
    static final class Run {
        private final Scenario scenario;
        private LockTable table = new LockTable();
        private final Model model = new Model();
        private final LeaseTimers[] timers = new LeaseTimers[NODES];
        private final long[] currentSession = new long[CLIENTS];
        private final long[] latestSession = new long[CLIENTS];
        private final Map<Long, LeaseKeeper> keepers = new HashMap<>();
        /** When the current leader's timer for a session last started (its open, renewal, or the leader's start). */
        private final Map<Long, Long> timerStartMs = new HashMap<>();
        private final List<Pending> pendingExpiries = new ArrayList<>();
        private final Map<String, Long> maxToken = new HashMap<>();
        private final Map<String, Long> fenceFloor = new HashMap<>();
        private final Map<String, Long> retiredWriterTokenMax = new HashMap<>();
        /** The write token each session was last told for each vdisk (grant, hand-off, renewal). */
        private final Map<String, Map<Long, Long>> toldWriterToken = new HashMap<>();
        private long nowMs;
        private long index;
        private int leader;
        private long leaderSinceMs;
        private int stepNumber;
        private Step step;

        record Pending(long applyAtMs, LockCommand.ExpireSession expire) {}

        Run(Scenario scenario) {
            this.scenario = scenario;
            for (int n = 0; n < NODES; n++) {
                timers[n] = new LeaseTimers();
            }
            timers[0].restartAll(table.sessions(), leaderNanos());
        }

        void run() {
            for (Step s : scenario.steps()) {
                stepNumber++;
                step = s;
                perform(s);
                checkLiveness();
            }
        }

        private void perform(Step s) {
            switch (s) {
                case Open o -> open(o);
                case Renew r -> renew(r);
                case Close c -> {
                    if (submit(new LockCommand.CloseSession(sessionOf(c.client()))) instanceof LockResult.SessionEnded) {
                        currentSession[c.client()] = 0;
                    }
                }
                case Advance a -> advanceTo(nowMs + a.ms());
                case LeaderChange l -> {
                    leader = l.node();
                    leaderSinceMs = nowMs;
                    timers[leader].restartAll(table.sessions(), leaderNanos());
                }
                case Acquire a -> submit(new LockCommand.Acquire(sessionOf(a.client()), VDISKS.get(a.vdisk()), a.mode()));
                case Release r -> submit(new LockCommand.Release(sessionOf(r.client()), VDISKS.get(r.vdisk())));
                case Handoff h -> submit(new LockCommand.Handoff(VDISKS.get(h.vdisk()), sessionOf(h.fromClient()), sessionOf(h.toClient())));
                case Break b -> submit(new LockCommand.Break(VDISKS.get(b.vdisk())));
                case Forget f -> submit(new LockCommand.Forget(VDISKS.get(f.vdisk())));
                case Restart r -> restart();
            }
        }

        private void open(Open o) {
            long sentNanos = clientNanos();
            LockResult r = submit(new LockCommand.OpenSession("host" + o.client(), o.leaseMs(), wallMs()));
            if (r instanceof LockResult.SessionOpened opened) {
                long id = opened.session().id();
                LeaseKeeper keeper = new LeaseKeeper(o.leaseMs());
                keeper.renewed(sentNanos);
                keepers.put(id, keeper);
                currentSession[o.client()] = id;
                latestSession[o.client()] = id;
            }
        }

        private void restart() {
            LockTable restored = new LockTable();
            restored.restore(table.lastIndex(),
                    table.sessions().stream().map(s -> LockCodec.decodeSession(LockCodec.encode(s))).toList(),
                    table.locks().stream().map(l -> LockCodec.decodeLock(LockCodec.encode(l))).toList());
            check(restored.sessions().equals(table.sessions()) && restored.locks().equals(table.locks()), "restored table differs");
            table = restored;
        }

        /**
         * One heartbeat: sent now, applied after the send delay, acknowledged after the ack delay. A
         * client told its session is gone (expired while it was away, or closed) opens a new one.
         */
        private void renew(Renew r) {
            long session = sessionOf(r.client());
            long sentNanos = clientNanos();
            advanceTo(nowMs + r.sendDelayMs());
            LockResult result = submit(new LockCommand.RenewSession(session, wallMs()));
            advanceTo(nowMs + r.ackDelayMs());
            if (result instanceof LockResult.SessionRenewed) {
                keepers.get(session).renewed(sentNanos);
            } else {
                currentSession[r.client()] = 0;
                open(new Open(r.client(), LockTable.DEFAULT_LEASE_MS));   // a host whose session is gone opens another
            }
        }

        /** The client's session: its open one, else its last (closed or expired: the table must refuse it), else none. */
        private long sessionOf(int client) {
            return currentSession[client] != 0 ? currentSession[client] : latestSession[client] != 0 ? latestSession[client] : 999_990 + client;
        }

        /** Time passes in ticks; at each the leader proposes what its timers say ran out, and due proposals are applied. */
        private void advanceTo(long targetMs) {
            while (nowMs < targetMs) {
                nowMs = Math.min(targetMs, nowMs + TICK_MS);
                for (LockCommand.ExpireSession e : timers[leader].expired(leaderNanos())) {
                    if (pendingExpiries.stream().noneMatch(p -> p.expire().equals(e))) {
                        pendingExpiries.add(new Pending(nowMs + scenario.expiryLagMs(), e));
                    }
                }
                for (Pending p : List.copyOf(pendingExpiries)) {
                    if (p.applyAtMs() <= nowMs) {
                        pendingExpiries.remove(p);
                        submit(p.expire());
                    }
                }
            }
        }

        // ---- one command through table and model, then every check ----

        private LockResult submit(LockCommand c) {
            Map<String, VdiskLock> before = locksByName();
            long applied = ++index;
            Model.Outcome expected = model.apply(applied, c);
            LockResult result = table.apply(applied, LockCodec.decodeCommand(LockCodec.encode(c)));   // as a log entry
            leaderSees(c, result);
            check(outcomeOf(result).equals(expected.kind()) && Objects.equals(reasonOf(result), expected.reason()),
                    "outcome of " + c + " at index " + applied + ": " + result + " (model: " + expected + ")");
            Statistics.label("outcomes").collect(c.getClass().getSimpleName() + " -> " + outcomeOf(result)
                    + (reasonOf(result) == null ? "" : " " + reasonOf(result)));
            Map<String, VdiskLock> after = locksByName();
            checkAgainstModel();
            checkTokens(c, applied, result, before, after);
            return result;
        }

        /** What the leader does with the results it applies: time leases, check and end expiries. */
        private void leaderSees(LockCommand c, LockResult result) {
            switch (result) {
                case LockResult.SessionOpened o -> startTimer(o.session());
                case LockResult.SessionRenewed r -> startTimer(r.session());
                case LockResult.SessionEnded e -> {
                    timers[leader].ended(e.sessionId());
                    timerStartMs.remove(e.sessionId());
                    if (e.expired()) {
                        LeaseKeeper keeper = keepers.get(e.sessionId());
                        check(!keeper.valid(clientNanos()), "(e) session " + e.sessionId() + " expired at " + nowMs
                                + " ms while its client's lease is valid for " + keeper.remainingNanos(clientNanos()) / MS + " ms more");
                    }
                }
                case LockResult.Refused r when c instanceof LockCommand.ExpireSession x && r.reason() == Reason.NO_SESSION ->
                        timers[leader].ended(x.sessionId());
                default -> {}
            }
        }

        private void startTimer(Session s) {
            timers[leader].renewed(s, leaderNanos());
            timerStartMs.put(s.id(), nowMs);
        }

        private void checkAgainstModel() {
            Map<String, Map<Long, LockMode>> actual = new TreeMap<>();
            for (VdiskLock lock : table.locks()) {
                Map<Long, LockMode> holders = new TreeMap<>();
                lock.holders().forEach(h -> holders.put(h.sessionId(), h.mode()));
                if (!holders.isEmpty()) {
                    actual.put(lock.vdisk(), holders);
                }
            }
            check(actual.equals(model.holders()), "(f) holders " + actual + " (model: " + model.holders() + ")");
            Map<Long, Long> sessions = new TreeMap<>();
            table.sessions().forEach(s -> sessions.put(s.id(), s.renewedAtIndex()));
            check(sessions.equals(model.sessions()), "(f) sessions " + sessions + " (model: " + model.sessions() + ")");
            for (VdiskLock lock : table.locks()) {
                long exclusive = lock.holders().stream().filter(h -> h.mode() == EXCLUSIVE).count();
                long multi = lock.holders().stream().filter(h -> h.mode() == MULTI_WRITER).count();
                check(exclusive <= 1 && (exclusive == 0 || multi == 0), "(a) incompatible holders " + lock);
            }
        }

        private void checkTokens(LockCommand c, long applied, LockResult result, Map<String, VdiskLock> before, Map<String, VdiskLock> after) {
            if (result instanceof LockResult.Forgotten f) {
                // The vdisk is gone; a record made for the name later starts over (tokens still grow: they are indexes).
                fenceFloor.remove(f.vdisk());
                retiredWriterTokenMax.remove(f.vdisk());
                toldWriterToken.remove(f.vdisk());
            }
            for (VdiskLock lock : after.values()) {
                VdiskLock old = before.get(lock.vdisk());
                checkNewTokens(lock, old);
                retireWritersThatLeft(lock, old);
                checkFence(lock);
            }
            checkJoin(c, before, after);
            collectEvents(c, result, before);
            switch (result) {
                case LockResult.Granted g -> {
                    told(g.grant());
                    boolean alreadyHeld = before.containsKey(g.grant().vdisk())
                            && before.get(g.grant().vdisk()).holding(g.grant().sessionId()).map(h -> h.mode() == g.grant().mode()).orElse(false);
                    check(alreadyHeld || g.grant().token() == applied, "(b) a new grant's token is its index: " + g);
                }
                case LockResult.HandedOff h -> {
                    told(h.grant());
                    check(h.grant().token() == applied, "(b) a hand-off's token is its index: " + h);
                }
                case LockResult.SessionRenewed r -> {
                    check(r.grants().equals(table.grantsOf(r.session().id())), "(d) renewal grants " + r.grants());
                    r.grants().forEach(this::told);
                }
                default -> {}
            }
            checkToldTokens(after);
        }

        /** Which interesting cases the run reached (printed by jqwik), so a quiet generator shows. */
        private void collectEvents(LockCommand c, LockResult result, Map<String, VdiskLock> before) {
            String event = switch (result) {
                case LockResult.Granted g when c instanceof LockCommand.Acquire a && before.containsKey(a.vdisk()) -> {
                    Optional<Holding> had = before.get(a.vdisk()).holding(a.sessionId());
                    boolean othersWrite = before.get(a.vdisk()).holders().stream().anyMatch(h -> h.sessionId() != a.sessionId() && h.mode().writes());
                    yield had.isPresent() && had.get().mode() != a.mode() ? "mode change " + had.get().mode() + " -> " + a.mode()
                            : had.isEmpty() && othersWrite && a.mode() == MULTI_WRITER ? "multi-writer joins a writer" : null;
                }
                case LockResult.Released r when before.get(r.vdisk()).holders().stream()
                        .anyMatch(h -> h.sessionId() != r.sessionId() && h.mode() == MULTI_WRITER) -> "writer leaves, others re-tokened";
                case LockResult.HandedOff h when before.get(h.grant().vdisk()).holding(h.grant().sessionId()).isPresent() -> "hand-off to a reader";
                case LockResult.SessionEnded e when e.expired() && !e.changed().isEmpty() -> "expiry of a holder";
                default -> null;
            };
            if (event != null) {
                Statistics.label("events").collect(event);
            }
        }

        /** (b): a token that was not there before is above every earlier token of the vdisk. */
        private void checkNewTokens(VdiskLock lock, VdiskLock old) {
            long earlierMax = maxToken.getOrDefault(lock.vdisk(), 0L);
            long max = earlierMax;
            for (Holding h : lock.holders()) {
                boolean same = old != null && old.holding(h.sessionId()).map(o -> o.token() == h.token()).orElse(false);
                if (!same) {
                    check(h.token() > earlierMax, "(b) new token " + h + " not above the earlier max " + earlierMax + " of " + lock.vdisk());
                }
                max = Math.max(max, h.token());
            }
            maxToken.put(lock.vdisk(), max);
        }

        private void retireWritersThatLeft(VdiskLock lock, VdiskLock old) {
            if (old == null) {
                return;
            }
            for (Holding h : old.holders()) {
                boolean stays = h.mode().writes() && lock.holding(h.sessionId()).filter(n -> n.mode() == h.mode() && n.token() == h.token()).isPresent();
                if (h.mode().writes() && !stays) {
                    retiredWriterTokenMax.merge(lock.vdisk(), h.token(), Math::max);
                }
            }
        }

        /** (c) and (d). */
        private void checkFence(VdiskLock lock) {
            long floor = fenceFloor.getOrDefault(lock.vdisk(), 0L);
            check(lock.fence() >= floor, "(c) fence of " + lock.vdisk() + " went down from " + floor + " to " + lock.fence());
            fenceFloor.put(lock.vdisk(), lock.fence());
            long retired = retiredWriterTokenMax.getOrDefault(lock.vdisk(), 0L);
            check(retired == 0 || lock.fence() > retired, "(c) a writer left " + lock.vdisk() + " with token " + retired + " but the fence is " + lock.fence());
            for (Holding h : lock.holders()) {
                check(!h.mode().writes() || h.token() >= lock.fence(), "(d) writer " + h + " below the fence " + lock.fence() + " of " + lock.vdisk());
            }
        }

        /** (d): a multi-writer joining others moves neither the fence nor their tokens. */
        private void checkJoin(LockCommand c, Map<String, VdiskLock> before, Map<String, VdiskLock> after) {
            if (!(c instanceof LockCommand.Acquire a) || a.mode() != MULTI_WRITER || !before.containsKey(a.vdisk())) {
                return;
            }
            VdiskLock old = before.get(a.vdisk());
            VdiskLock now = after.get(a.vdisk());
            boolean wasWriter = old.holding(a.sessionId()).map(h -> h.mode().writes()).orElse(false);
            boolean othersWrite = old.holders().stream().anyMatch(h -> h.sessionId() != a.sessionId() && h.mode() == MULTI_WRITER);
            if (wasWriter || !othersWrite || now.holding(a.sessionId()).isEmpty()) {
                return;
            }
            check(now.fence() == old.fence(), "(d) a multi-writer joining moved the fence of " + a.vdisk() + " from " + old.fence() + " to " + now.fence());
            for (Holding h : old.holders()) {
                if (h.sessionId() != a.sessionId()) {
                    check(now.holding(h.sessionId()).equals(Optional.of(h)), "(d) a multi-writer joining changed " + h + " to " + now.holding(h.sessionId()));
                }
            }
        }

        private void told(Grant g) {
            check(g.token() >= g.fence() || !g.mode().writes(), "(d) grant below its own fence: " + g);
            VdiskLock lock = table.lock(g.vdisk()).orElseThrow();
            check(lock.holding(g.sessionId()).map(Holding::token).orElse(-1L) == g.token() && lock.fence() == g.fence(),
                    "(d) grant " + g + " is not what the table holds: " + lock);
            if (g.mode().writes()) {
                toldWriterToken.computeIfAbsent(g.vdisk(), v -> new HashMap<>()).put(g.sessionId(), g.token());
            }
        }

        /** (d): a write token a client was told and no longer holds (zombie) is below the fence. */
        private void checkToldTokens(Map<String, VdiskLock> after) {
            toldWriterToken.forEach((vdisk, told) -> told.forEach((session, token) -> {
                VdiskLock lock = after.get(vdisk);
                boolean holds = lock.holding(session).filter(h -> h.mode().writes() && h.token() == token).isPresent();
                check(holds || token < lock.fence(), "(d) session " + session + " was told write token " + token + " for " + vdisk
                        + ", no longer holds it, and the fence is only " + lock.fence());
            }));
        }

        /** A session the leader has timed for its whole lease (on its own clock) must be gone, give or take a tick and the lag. */
        private void checkLiveness() {
            int rate = scenario.nodes().get(leader).ratePermille();
            for (Session s : table.sessions()) {
                long startMs = Math.max(timerStartMs.getOrDefault(s.id(), leaderSinceMs), leaderSinceMs);
                long leaseTrueMs = (s.leaseMs() * 1000 + rate - 1) / rate;
                long latestMs = startMs + leaseTrueMs + 2 * TICK_MS + scenario.expiryLagMs();   // decided at a tick, applied at one
                check(nowMs <= latestMs, "liveness: session " + s.id() + " timed from " + startMs + " ms is still open at " + nowMs + " ms");
            }
        }

        // ---- clocks ----

        private long clientNanos() {
            return nowMs * MS;
        }

        private long leaderNanos() {
            NodeClock clock = scenario.nodes().get(leader);
            return (clock.originMs() * MS) + nowMs * 1_000L * clock.ratePermille();
        }

        private long wallMs() {
            return 1_780_000_000_000L + nowMs + scenario.nodes().get(leader).wallSkewMs();
        }

        private Map<String, VdiskLock> locksByName() {
            Map<String, VdiskLock> m = new TreeMap<>();
            table.locks().forEach(l -> m.put(l.vdisk(), l));
            return m;
        }

        private void check(boolean ok, String what) {
            if (!ok) {
                throw new AssertionError("step " + stepNumber + " " + step + " at " + nowMs + " ms: " + what);
            }
        }

        private static String outcomeOf(LockResult r) {
            return r.getClass().getSimpleName();
        }

        private static Reason reasonOf(LockResult r) {
            return r instanceof LockResult.Refused refused ? refused.reason() : null;
        }
    }

    // ---- the model: who holds what, by the rules, with nothing of LockTable in it ----

    static final class Model {
        record Outcome(String kind, Reason reason) {
            static Outcome ok(String kind) {
                return new Outcome(kind, null);
            }

            static Outcome refused(Reason reason) {
                return new Outcome("Refused", reason);
            }
        }

        private final Map<Long, Long> sessions = new TreeMap<>();
        private final Map<String, Map<Long, LockMode>> holders = new TreeMap<>();

        Map<Long, Long> sessions() {
            return sessions;
        }

        Map<String, Map<Long, LockMode>> holders() {
            return holders;
        }

        static boolean compatible(LockMode a, LockMode b) {
            return a == SHARED_READ || b == SHARED_READ || (a == MULTI_WRITER && b == MULTI_WRITER);
        }

        Outcome apply(long index, LockCommand c) {
            return switch (c) {
                case LockCommand.OpenSession o -> {
                    if (o.leaseMs() < LockTable.LEASE_MS_MIN || o.leaseMs() > LockTable.LEASE_MS_MAX) {
                        yield Outcome.refused(Reason.INVALID);
                    }
                    sessions.put(index, index);
                    yield Outcome.ok("SessionOpened");
                }
                case LockCommand.RenewSession r -> {
                    if (!sessions.containsKey(r.sessionId())) {
                        yield Outcome.refused(Reason.NO_SESSION);
                    }
                    sessions.put(r.sessionId(), index);
                    yield Outcome.ok("SessionRenewed");
                }
                case LockCommand.CloseSession x -> end(x.sessionId());
                case LockCommand.ExpireSession e -> {
                    if (sessions.containsKey(e.sessionId()) && sessions.get(e.sessionId()) != e.renewedAtIndex()) {
                        yield Outcome.refused(Reason.STALE);
                    }
                    yield end(e.sessionId());
                }
                case LockCommand.Acquire a -> acquire(a);
                case LockCommand.Release r -> {
                    Map<Long, LockMode> held = holders.get(r.vdisk());
                    if (held == null || !held.containsKey(r.sessionId())) {
                        yield Outcome.refused(Reason.NOT_HOLDER);
                    }
                    remove(r.vdisk(), r.sessionId());
                    yield Outcome.ok("Released");
                }
                case LockCommand.Handoff h -> handoff(h);
                case LockCommand.Break b -> {
                    if (holders.remove(b.vdisk()) == null) {
                        yield Outcome.refused(Reason.NOT_HOLDER);
                    }
                    yield Outcome.ok("Broken");
                }
                case LockCommand.Forget f -> holders.containsKey(f.vdisk()) ? Outcome.refused(Reason.CONFLICT) : Outcome.ok("Forgotten");
            };
        }

        private Outcome end(long session) {
            if (sessions.remove(session) == null) {
                return Outcome.refused(Reason.NO_SESSION);
            }
            for (String vdisk : List.copyOf(holders.keySet())) {
                remove(vdisk, session);
            }
            return Outcome.ok("SessionEnded");
        }

        private Outcome acquire(LockCommand.Acquire a) {
            if (!sessions.containsKey(a.sessionId())) {
                return Outcome.refused(Reason.NO_SESSION);
            }
            Map<Long, LockMode> held = holders.getOrDefault(a.vdisk(), Map.of());
            for (Map.Entry<Long, LockMode> other : held.entrySet()) {
                if (other.getKey() != a.sessionId() && !compatible(a.mode(), other.getValue())) {
                    return Outcome.refused(Reason.CONFLICT);
                }
            }
            holders.computeIfAbsent(a.vdisk(), v -> new TreeMap<>()).put(a.sessionId(), a.mode());
            return Outcome.ok("Granted");
        }

        private Outcome handoff(LockCommand.Handoff h) {
            if (h.fromSessionId() == h.toSessionId()) {
                return Outcome.refused(Reason.INVALID);
            }
            if (!sessions.containsKey(h.fromSessionId()) || !sessions.containsKey(h.toSessionId())) {
                return Outcome.refused(Reason.NO_SESSION);
            }
            if (holders.getOrDefault(h.vdisk(), Map.of()).get(h.fromSessionId()) != EXCLUSIVE) {
                return Outcome.refused(Reason.NOT_HOLDER);
            }
            remove(h.vdisk(), h.fromSessionId());
            holders.computeIfAbsent(h.vdisk(), v -> new TreeMap<>()).put(h.toSessionId(), EXCLUSIVE);
            return Outcome.ok("HandedOff");
        }

        private void remove(String vdisk, long session) {
            Map<Long, LockMode> held = holders.get(vdisk);
            if (held != null) {
                held.remove(session);
                if (held.isEmpty()) {
                    holders.remove(vdisk);
                }
            }
        }
    }

    // ---- generators ----

    @Provide
    Arbitrary<Scenario> scenarios() {
        Arbitrary<NodeClock> clocks = Combinators.combine(
                Arbitraries.longs().between(0, 1_000_000_000L),
                Arbitraries.oneOf(Arbitraries.just(1000), Arbitraries.just(1100), Arbitraries.integers().between(950, 1100)),
                Arbitraries.longs().between(-5_000, 5_000)).as(NodeClock::new);
        Arbitrary<Integer> lag = Arbitraries.frequencyOf(Tuple.of(1, Arbitraries.just(0)), Tuple.of(3, Arbitraries.integers().between(0, 1_000)));
        return Combinators.combine(clocks.list().ofSize(NODES), lag, steps().list().ofMaxSize(80)).as(Scenario::new);
    }

    private static Tuple2<Integer, Arbitrary<? extends Step>> weighted(int weight, Arbitrary<? extends Step> steps) {
        return Tuple.of(weight, steps);
    }

    @SuppressWarnings("unchecked")   // frequencyOf's varargs of a generic tuple
    private static Arbitrary<Step> steps() {
        Arbitrary<Integer> client = Arbitraries.integers().between(0, CLIENTS - 1);
        Arbitrary<Integer> vdisk = Arbitraries.integers().between(0, VDISKS.size() - 1);
        Arbitrary<Integer> delay = Arbitraries.frequencyOf(
                Tuple.of(1, Arbitraries.just(0)), Tuple.of(3, Arbitraries.integers().between(0, 1_500)), Tuple.of(1, Arbitraries.integers().between(0, 3_000)));
        Arbitrary<Integer> pause = Arbitraries.frequencyOf(
                Tuple.of(4, Arbitraries.integers().between(1, 1_000)), Tuple.of(1, Arbitraries.integers().between(1, 12_000)));
        return Arbitraries.frequencyOf(
                weighted(2, Combinators.combine(client, Arbitraries.of(2_000L, LockTable.DEFAULT_LEASE_MS)).as(Open::new)),
                weighted(8, Combinators.combine(client, delay, delay).as(Renew::new)),
                weighted(1, client.map(Close::new)),
                weighted(4, pause.map(Advance::new)),
                weighted(1, Arbitraries.integers().between(0, NODES - 1).map(LeaderChange::new)),
                weighted(10, Combinators.combine(client, vdisk, Arbitraries.of(LockMode.class)).as(Acquire::new)),
                weighted(3, Combinators.combine(client, vdisk).as(Release::new)),
                weighted(5, Combinators.combine(vdisk, client, Arbitraries.integers().between(1, CLIENTS - 1))
                        .as((v, from, later) -> new Handoff(v, from, (from + later) % CLIENTS))),
                weighted(1, vdisk.map(Break::new)),
                weighted(1, vdisk.map(Forget::new)),
                weighted(1, Arbitraries.just(new Restart())));
    }
}
