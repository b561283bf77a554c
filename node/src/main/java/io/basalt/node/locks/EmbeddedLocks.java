package io.basalt.node.locks;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.function.LongSupplier;

import io.basalt.lock.LeaseTimers;
import io.basalt.lock.LockCodec;
import io.basalt.lock.LockCommand;
import io.basalt.lock.LockResult;
import io.basalt.lock.LockService;
import io.basalt.lock.LockTable;
import io.basalt.lock.Session;
import io.basalt.lock.VdiskLock;
import io.basalt.vdisk.store.EntryBatch;
import io.basalt.vdisk.store.Vdisk;
import io.basalt.vdisk.store.VdiskStore;

/**
 * The lock table of the embedded single-node store (docs/architecture.md, "Locks and fencing"):
 * the same {@link LockTable} a cluster's meta group hosts, persisted in the store itself as the
 * records of a replicated log named {@value #LOG}. Each command is one step of that log: applied
 * at the next index (so tokens are indexes and grow across restarts), its changed sessions and
 * locks written with the applied index in one RocksDB write, the WAL fsync'd, and only then
 * answered (a grant a crash could forget would hand its token out twice).
 *
 * <p>Fences: after every command, each changed lock's fence is raised on the engine's vdisk
 * ({@link Vdisk#raiseFence}, itself synced) before the answer, so a holder that lost its lock
 * (expired, broken, released, handed off) is refused by the engine from that moment, even before a
 * new holder comes; a grant's fence is in the engine before its first write. Opening reconciles
 * both (a crash between the two writes leaves the engine behind the table).
 *
 * <p>Leases: this process is the one "leader". With {@link #startLeaseMonitor} a daemon thread
 * proposes the expiries {@link LeaseTimers} finds every {@link #MONITOR_PERIOD}, on the monotonic
 * clock given; timers start afresh at open, so a restart gives every persisted session a full
 * lease from then. Thread-safe: commands are applied one at a time.
 */
public final class EmbeddedLocks implements LockService, AutoCloseable {
    /** The name of the lock log in the store (its applied index and records). */
    public static final String LOG = "locks";
    /** How often the lease monitor looks for expired sessions. */
    public static final Duration MONITOR_PERIOD = Duration.ofMillis(200);
    /**
     * Test switch: when set (to "true") at open, the engine's fences are never raised, so the
     * engine admits every token: shows that the engine's check is what refuses a zombie.
     */
    static final String SKIP_ENGINE_FENCES_PROPERTY = "basalt.test.skipEngineFences";

    private static final System.Logger log = System.getLogger(EmbeddedLocks.class.getName());
    private static final byte SESSION_KEY = 's';
    private static final byte LOCK_KEY = 'l';

    private final VdiskStore store;
    private final LongSupplier nanoClock;
    private final LockTable table = new LockTable();
    private final LeaseTimers timers = new LeaseTimers();
    private final boolean skipEngineFences;
    private Thread monitor;
    private volatile boolean closed;

    private EmbeddedLocks(VdiskStore store, LongSupplier nanoClock) {
        this.store = store;
        this.nanoClock = nanoClock;
        this.skipEngineFences = Boolean.getBoolean(SKIP_ENGINE_FENCES_PROPERTY);
    }

    /** The lock table persisted in {@code store}, leases timed on {@code System.nanoTime()}. */
    public static EmbeddedLocks open(VdiskStore store) {
        return open(store, System::nanoTime);
    }

    /** As {@link #open(VdiskStore)}, leases timed on {@code nanoClock} (tests drive it). */
    public static EmbeddedLocks open(VdiskStore store, LongSupplier nanoClock) {
        EmbeddedLocks locks = new EmbeddedLocks(store, nanoClock);
        locks.restore();
        return locks;
    }

    /** What the table has applied since this process opened it, by kind (metrics). */
    public io.basalt.lock.LockEvents events() {
        return table.events();
    }

    /** Starts the daemon thread that expires sessions whose lease ran out; {@link #close} stops it. */
    public synchronized EmbeddedLocks startLeaseMonitor() {
        if (monitor != null) {
            throw new IllegalStateException("lease monitor of " + store.directory() + " already started");
        }
        monitor = Thread.ofPlatform().daemon().name("basalt-lease-monitor").start(this::monitorLoop);
        return this;
    }

    @Override
    public synchronized LockResult submit(LockCommand command) {
        if (closed) {
            throw new IllegalStateException("lock table of " + store.directory() + " is closed");
        }
        if (command instanceof LockCommand.Acquire a && !store.exists(a.vdisk())) {
            return new LockResult.Refused(LockResult.Reason.INVALID, "vdisk: " + a.vdisk() + " (expected: an existing vdisk)");
        }
        long index = table.lastIndex() + 1;
        LockResult result = table.apply(index, command);
        LockTable.Changes changes = table.drainChanges();
        persist(index, changes);
        track(command, result);
        changes.vdisks().forEach(v -> table.lock(v).ifPresent(this::raiseEngineFence));
        return result;
    }

    /** Expires every session whose lease ran out by {@code nowNanos}; returns how many. What the monitor does. */
    public synchronized int expireDue(long nowNanos) {
        int expired = 0;
        for (LockCommand.ExpireSession e : timers.expired(nowNanos)) {
            LockResult r = submit(e);
            if (r instanceof LockResult.SessionEnded ended) {
                expired++;
                log.log(System.Logger.Level.INFO, "session {0} expired (its lease ran out); fences raised on {1}",
                        ended.sessionId(), ended.changed().stream().map(VdiskLock::vdisk).toList());
            }
        }
        return expired;
    }

    @Override
    public synchronized Collection<Session> sessions() {
        return table.sessions();
    }

    @Override
    public synchronized Collection<VdiskLock> locks() {
        return table.locks();
    }

    @Override
    public synchronized Optional<VdiskLock> lock(String vdisk) {
        return table.lock(vdisk);
    }

    /** The index of the last command applied (the last token handed out is at most this). */
    public synchronized long lastIndex() {
        return table.lastIndex();
    }

    /** Stops the lease monitor; the table's state stays in the store. */
    @Override
    public void close() {
        Thread m;
        synchronized (this) {
            closed = true;
            m = monitor;
        }
        if (m != null) {
            m.interrupt();
            try {
                m.join(Duration.ofSeconds(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void restore() {
        List<Session> sessions = new ArrayList<>();
        List<VdiskLock> locks = new ArrayList<>();
        store.forEachLogRecord(LOG, (key, value) -> {
            switch (key[0]) {
                case SESSION_KEY -> sessions.add(LockCodec.decodeSession(value));
                case LOCK_KEY -> locks.add(LockCodec.decodeLock(value));
                default -> throw new IllegalStateException("lock log record key kind " + key[0] + " (expected: 's' or 'l') in " + store.directory());
            }
        });
        long applied = Math.max(0, store.appliedIndex(LOG));
        table.restore(applied, sessions, locks);
        timers.restartAll(sessions, nanoClock.getAsLong());
        locks.forEach(this::raiseEngineFence);
    }

    /** Writes the changed records with {@code index} as applied, then syncs the WAL: the answer waits for both. */
    private void persist(long index, LockTable.Changes changes) {
        try (EntryBatch batch = store.entryBatch(LOG)) {
            for (long id : changes.sessionIds()) {
                byte[] key = sessionKey(id);
                table.session(id).ifPresentOrElse(s -> batch.putLogRecord(key, LockCodec.encode(s)), () -> batch.deleteLogRecord(key));
            }
            for (String vdisk : changes.vdisks()) {
                byte[] key = lockKey(vdisk);
                table.lock(vdisk).ifPresentOrElse(l -> batch.putLogRecord(key, LockCodec.encode(l)), () -> batch.deleteLogRecord(key));
            }
            batch.commit(index);
        }
        // EntryBatch writes without fsync (kill -9 safe, not power-loss safe); a grant must survive both.
        store.flush();
    }

    /** Keeps the lease timers in step with the table. */
    private void track(LockCommand command, LockResult result) {
        long now = nanoClock.getAsLong();
        switch (result) {
            case LockResult.SessionOpened o -> timers.renewed(o.session(), now);
            case LockResult.SessionRenewed r -> timers.renewed(r.session(), now);
            case LockResult.SessionEnded e -> timers.ended(e.sessionId());
            case LockResult.Refused f when f.reason() == LockResult.Reason.NO_SESSION
                    && command instanceof LockCommand.ExpireSession e -> timers.ended(e.sessionId());
            default -> { }
        }
    }

    /** Raises the engine's fence of {@code lock}'s vdisk to the table's, when it is behind (and the vdisk still exists). */
    private void raiseEngineFence(VdiskLock lock) {
        if (skipEngineFences || lock.fence() == 0 || !store.exists(lock.vdisk())) {
            return;
        }
        try (Vdisk v = store.open(lock.vdisk())) {
            if (v.fence() < lock.fence()) {
                v.raiseFence(lock.fence());
            }
        }
    }

    private void monitorLoop() {
        while (!closed) {
            try {
                Thread.sleep(MONITOR_PERIOD);
            } catch (InterruptedException e) {
                return;
            }
            try {
                if (!closed) {
                    expireDue(nanoClock.getAsLong());
                }
            } catch (RuntimeException e) {
                // The store failed (closed under us, disk error): nothing can be expired safely now; say so and keep looking.
                log.log(System.Logger.Level.WARNING, "lease monitor of " + store.directory() + ": " + e, e);
            }
        }
    }

    static byte[] sessionKey(long id) {
        return ByteBuffer.allocate(9).put(SESSION_KEY).putLong(id).array();
    }

    static byte[] lockKey(String vdisk) {
        byte[] name = vdisk.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(1 + name.length).put(LOCK_KEY).put(name).array();
    }
}
