package io.basalt.lock;

import io.basalt.lock.LockResult.Grant;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * One host's session against a {@link LockService}: opens it, keeps it alive with a heartbeat
 * every lease / {@value #HEARTBEATS_PER_LEASE} on its own daemon thread (one renewal covers every
 * lock the session holds), and knows the session's grants, for the tokens its writes carry.
 *
 * <p>Self-fencing: the lease is counted by a {@link LeaseKeeper} from the moment each renewal was
 * <em>sent</em>, on {@code nanoClock}; once it runs out (the service could not be reached in
 * time, or the session was expired) {@link #valid} is false and {@link #token} empty, so a writer
 * asking for its token fails its I/O instead of sending it. The storage's fence check does not
 * depend on this (a delayed packet is refused there); this only stops a cut-off host early.
 *
 * <p>Grants: a renewal returns the session's locks as the table holds them at that index (a
 * multi-writer's token rises when another writer leaves). A renewal answer never overrides what an
 * acquire, release or hand-off of this client that completed after the renewal was sent said: each
 * such call marks its vdisk when it starts and when it ends, and the renewal leaves marked vdisks
 * alone; nor does an older renewal's answer override a newer one's. Thread-safe.
 */
public final class HostSessionClient implements AutoCloseable {
    /** The lease when none is given: a dead host's disks are free again about 8 s after it died. */
    public static final long LEASE_MS_DEFAULT = 8_000;
    /** Heartbeats per lease: three may be lost or slow before the lease runs out. */
    public static final int HEARTBEATS_PER_LEASE = 4;

    private static final System.Logger log = System.getLogger(HostSessionClient.class.getName());

    private final LockService service;
    private final LongSupplier nanoClock;
    private final Session session;
    private final LeaseKeeper keeper;
    private final Map<String, Grant> grants = new ConcurrentHashMap<>();
    /** Per vdisk, the {@link #localOps} value of the last local call that touched it (start or end). */
    private final Map<String, Long> lastLocalOp = new ConcurrentHashMap<>();
    private final AtomicLong localOps = new AtomicLong();
    /** The log index of the renewal whose grants were adopted last (guarded by this). */
    private long lastRenewalIndex;
    private final Thread heartbeat;
    private volatile boolean heartbeating = true;
    /** Closed, or the service said the session is gone (expired): nothing will make it valid again. */
    private volatile boolean ended;

    private HostSessionClient(LockService service, Session session, LongSupplier nanoClock, long openSentNanos) {
        this.service = service;
        this.session = session;
        this.nanoClock = nanoClock;
        this.keeper = new LeaseKeeper(session.leaseMs());
        keeper.renewed(openSentNanos);
        this.heartbeat = Thread.ofPlatform().daemon().name("basalt-session-" + session.id()).unstarted(this::beat);
    }

    /** Opens a session for {@code host} with the default lease, on the system's monotonic clock. */
    public static HostSessionClient open(LockService service, String host) {
        return open(service, host, LEASE_MS_DEFAULT, System::nanoTime);
    }

    /**
     * Opens a session for {@code host} with a lease of {@code leaseMs}; its validity is judged on
     * {@code nanoClock} (tests drive it). A refusal (bad host name, lease out of range) throws
     * {@link LockRefusedException}.
     */
    public static HostSessionClient open(LockService service, String host, long leaseMs, LongSupplier nanoClock) {
        long sent = nanoClock.getAsLong();
        LockResult r = service.submit(new LockCommand.OpenSession(host, leaseMs, System.currentTimeMillis()));
        Session s = switch (r) {
            case LockResult.SessionOpened o -> o.session();
            case LockResult.Refused f -> throw new LockRefusedException(f);
            default -> throw unexpected("open session for " + host, r);
        };
        HostSessionClient c = new HostSessionClient(service, s, nanoClock, sent);
        c.heartbeat.start();
        return c;
    }

    public long sessionId() {
        return session.id();
    }

    public String host() {
        return session.host();
    }

    public Duration lease() {
        return Duration.ofMillis(session.leaseMs());
    }

    /** Whether this host may still send writes: its lease, as it counts it, has not run out. */
    public boolean valid() {
        if (ended) {
            return false;
        }
        long now = nanoClock.getAsLong();
        synchronized (keeper) {
            return keeper.valid(now);
        }
    }

    /** Where this session stands on {@code vdisk}: held with a confirmed lease, held but unconfirmed, or lost. */
    public HoldState hold(String vdisk) {
        if (ended || !grants.containsKey(vdisk)) {
            return HoldState.LOST;
        }
        return valid() ? HoldState.HELD : HoldState.UNCONFIRMED;
    }

    /** The token writes to {@code vdisk} carry; empty when it is not held or the lease is lost. */
    public OptionalLong token(String vdisk) {
        Grant g = grants.get(vdisk);
        return g == null || !valid() ? OptionalLong.empty() : OptionalLong.of(g.token());
    }

    /** This session's grant on {@code vdisk} as last learned (whether or not the lease is still valid). */
    public Optional<Grant> grant(String vdisk) {
        return Optional.ofNullable(grants.get(vdisk));
    }

    /** Takes, or changes the mode of, this session's lock on {@code vdisk}; a refusal throws {@link LockRefusedException}. */
    public Grant acquire(String vdisk, LockMode mode) {
        LockResult r = local(vdisk, new LockCommand.Acquire(session.id(), vdisk, mode));
        if (r instanceof LockResult.Granted g) {
            grants.put(vdisk, g.grant());
            return g.grant();
        }
        throw unexpected("acquire " + vdisk, r);
    }

    /** Gives this session's lock on {@code vdisk} up (the fence rises when a writer leaves). */
    public VdiskLock release(String vdisk) {
        LockResult r = local(vdisk, new LockCommand.Release(session.id(), vdisk));
        if (r instanceof LockResult.Released rel) {
            grants.remove(vdisk);
            return rel.after();
        }
        throw unexpected("release " + vdisk, r);
    }

    /**
     * Hands this session's exclusive lock on {@code vdisk} to session {@code toSessionId} in one
     * step; returns the receiver's grant, whose fence the receiver raises before its first write.
     */
    public Grant handoff(String vdisk, long toSessionId) {
        LockResult r = local(vdisk, new LockCommand.Handoff(vdisk, session.id(), toSessionId));
        if (r instanceof LockResult.HandedOff h) {
            grants.remove(vdisk);
            return h.grant();
        }
        throw unexpected("hand-off of " + vdisk + " to session " + toSessionId, r);
    }

    /**
     * Takes a grant that was handed to this session, as a live migration's source passes the
     * hand-off's answer to its destination: writes carry its token at once, without a round trip
     * to learn it. The lock table stays the authority: a grant that is no longer current is refused
     * by the fences like any stale token, and the next renewal replaces it.
     */
    public void received(Grant grant) {
        if (grant.sessionId() != session.id()) {
            throw new IllegalArgumentException("grant: " + grant + " (expected: a grant to session " + session.id() + ")");
        }
        if (ended) {
            throw new IllegalStateException("session " + session.id() + " of " + session.host() + " has ended");
        }
        lastLocalOp.put(grant.vdisk(), localOps.incrementAndGet());
        grants.merge(grant.vdisk(), grant, (held, handed) -> handed.token() >= held.token() ? handed : held);
    }

    /**
     * Renews the session now (the heartbeat does this on its own) and returns its grants as the
     * table holds them: how a hand-off's receiver learns its token when nobody passes it the grant
     * ({@link #received}).
     */
    public List<Grant> renewNow() {
        if (ended) {
            throw new IllegalStateException("session " + session.id() + " of " + session.host() + " has ended");
        }
        long sent = nanoClock.getAsLong();
        long opsAtSend = localOps.get();
        LockResult r = service.submit(new LockCommand.RenewSession(session.id(), System.currentTimeMillis()));
        switch (r) {
            case LockResult.SessionRenewed renewed -> {
                synchronized (keeper) {
                    keeper.renewed(sent);
                }
                adopt(renewed.session().renewedAtIndex(), renewed.grants(), opsAtSend);
                return renewed.grants();
            }
            case LockResult.Refused f -> {
                if (f.reason() == LockResult.Reason.NO_SESSION) {
                    ended = true;
                    grants.clear();
                }
                throw new LockRefusedException(f);
            }
            default -> throw unexpected("renew session " + session.id(), r);
        }
    }

    /**
     * For tests only: stops renewing, so the lease runs out and the service expires the session,
     * as it would for a host that froze or was cut off.
     */
    public void stopHeartbeatingForTests() {
        heartbeating = false;
    }

    /**
     * Stops the heartbeat and closes the session: every lock it holds is released (fences
     * raised). When the service cannot be reached this throws, and the session ends when its
     * lease runs out instead.
     */
    @Override
    public void close() {
        heartbeating = false;
        heartbeat.interrupt();
        try {
            heartbeat.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (ended) {
            return;
        }
        ended = true;
        grants.clear();
        LockResult r = service.submit(new LockCommand.CloseSession(session.id()));
        if (r instanceof LockResult.Refused f && f.reason() != LockResult.Reason.NO_SESSION) {
            throw new LockRefusedException(f);
        }
    }

    /**
     * The renewal's view of each vdisk, except those a local call touched since it was sent; a
     * renewal answered after a later one (heartbeat and {@link #renewNow} overlap) is ignored.
     */
    private synchronized void adopt(long renewalIndex, List<Grant> renewed, long opsAtSend) {
        if (renewalIndex <= lastRenewalIndex) {
            return;
        }
        lastRenewalIndex = renewalIndex;
        TreeSet<String> vdisks = new TreeSet<>(grants.keySet());
        renewed.forEach(g -> vdisks.add(g.vdisk()));
        for (String vdisk : vdisks) {
            if (lastLocalOp.getOrDefault(vdisk, 0L) > opsAtSend) {
                continue;
            }
            Optional<Grant> now = renewed.stream().filter(g -> g.vdisk().equals(vdisk)).findFirst();
            now.ifPresentOrElse(g -> grants.put(vdisk, g), () -> grants.remove(vdisk));
        }
    }

    /** Submits a call of this client about {@code vdisk}, marking the vdisk before and after; a refusal throws. */
    private LockResult local(String vdisk, LockCommand command) {
        if (ended) {
            throw new IllegalStateException("session " + session.id() + " of " + session.host() + " has ended");
        }
        lastLocalOp.put(vdisk, localOps.incrementAndGet());
        try {
            LockResult r = service.submit(command);
            if (r instanceof LockResult.Refused f) {
                throw new LockRefusedException(f);
            }
            return r;
        } finally {
            lastLocalOp.put(vdisk, localOps.incrementAndGet());
        }
    }

    private void beat() {
        long intervalMs = Math.max(1, session.leaseMs() / HEARTBEATS_PER_LEASE);
        while (!ended) {
            try {
                Thread.sleep(intervalMs);
            } catch (InterruptedException e) {
                return;
            }
            if (!heartbeating || ended) {
                continue;
            }
            try {
                renewNow();
            } catch (LockRefusedException e) {
                log.log(System.Logger.Level.WARNING, "session {0} of {1} ended: {2}", session.id(), session.host(), e.getMessage());
                return;
            } catch (RuntimeException e) {
                // Not reached (no quorum, timeout): the next beat tries again; the lease says how long that may go on.
                log.log(System.Logger.Level.INFO, "session {0} of {1}: renewal failed, trying again: {2}", session.id(), session.host(), e.toString());
            }
        }
    }

    private static IllegalStateException unexpected(String what, LockResult r) {
        return new IllegalStateException(what + ": the lock table answered " + r);
    }
}
