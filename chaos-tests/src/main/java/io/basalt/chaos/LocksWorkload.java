package io.basalt.chaos;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

import io.basalt.cluster.ClusterConfig;
import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.client.ClusterVdisk;
import io.basalt.cluster.client.LeaseUnconfirmedException;
import io.basalt.lock.HoldState;
import io.basalt.lock.HostSessionClient;
import io.basalt.lock.LockMode;
import io.basalt.lock.LockRefusedException;
import io.basalt.lock.LockResult;
import io.basalt.vdisk.FencedException;

/**
 * The locks-and-fencing workload: {@link #HOSTS} simulated hosts, each its own cluster client
 * and its own host session (lease {@link #LEASE_MS}), contend for the exclusive locks of
 * {@link #VDISKS} vdisks. A host takes a lock, raises the fence on every PG (the two steps of
 * {@code ClusterLocks.acquireAndFence}, recorded apart), writes and reads a few of the vdisk's
 * {@link #SLOTS} blocks with its token, each block stamped with (host, token, sequence)
 * ({@link LocksCheck.Stamp}), then either releases the lock or <em>freezes</em>: its heartbeat
 * stops, it sleeps {@link #PAUSE} (past its lease, so another host takes the lock over and
 * raises the fence), and wakes to send the write it had cleared before it froze, still
 * carrying its old token and believing it holds the lock (a host frozen between its lease check
 * and the send, as a long GC pause or a paused VM does). That write must be refused at the PG;
 * the host reads the block back and starts again with a new session. The nemesis's node faults
 * meanwhile make renewals, acquires and writes fail or time out, so leases run out by
 * themselves too.
 *
 * <p>Every acquire, fence, write, read, release and freeze is in the history; the check is
 * {@link LocksCheck}. After the heal every block is read once more.
 */
final class LocksWorkload {
    static final String NAME = "locks";
    static final String VDISK_PREFIX = "chaos-locks-";
    static final int VDISKS = 2;
    static final int SLOTS = 8;
    static final int HOSTS = 3;
    static final int KEY_BYTES = 4096;
    static final int BLOCK_BYTES = 512;
    static final long VDISK_BYTES = 16L << 20;
    /** Each host's lease: short, so frozen hosts lose their locks within the run (the table's minimum is 1 s). */
    static final long LEASE_MS = 2_000;
    /** A frozen host sleeps two leases and a second: its session expires and another host has time to take over. */
    static final Duration PAUSE = Duration.ofMillis(2 * LEASE_MS + 1_000);
    /** Operations a holder does on a vdisk before it lets go: 4 to 4 + OPS_SPREAD - 1. */
    static final int OPS_MIN = 4;
    static final int OPS_SPREAD = 12;
    /** One hold in FREEZE_ONE_IN ends with a freeze instead of a release. */
    static final int FREEZE_ONE_IN = 2;
    static final int RAISE_FENCE_TRIES = 3;
    /** Extra wait of a host that did not get a lock, before it tries again (after the workers' back-off). */
    static final Duration CONFLICT_PAUSE = Duration.ofMillis(150);
    static final Duration FINAL_READ_WAIT = Duration.ofSeconds(120);
    static final int FIRST_PROCESS = 201;

    private final History history;
    private final Workers workers = new Workers();
    private final List<ClusterClient> clients = new ArrayList<>();
    private final List<Host> hosts = new ArrayList<>();
    private final List<LocksCheck.Grant> grants = new CopyOnWriteArrayList<>();
    private final List<LocksCheck.Fence> fences = new CopyOnWriteArrayList<>();
    private final List<LocksCheck.Write> writes = new CopyOnWriteArrayList<>();
    private final List<LocksCheck.Read> reads = new CopyOnWriteArrayList<>();
    private final AtomicLong freezes = new AtomicLong();
    /** Frozen hosts' writes sent after the pause: refused by a PG's fence, acknowledged, or other. */
    private final AtomicLong staleRefusedAtPg = new AtomicLong();
    private final AtomicLong staleAcknowledged = new AtomicLong();

    LocksWorkload(History history) {
        this.history = history;
    }

    static String vdiskName(int vdisk) {
        return VDISK_PREFIX + vdisk;
    }

    static void setUp(ClusterClient admin) {
        for (int v = 0; v < VDISKS; v++) {
            if (admin.vdisk(vdiskName(v)).isEmpty()) {
                admin.createVdisk(vdiskName(v), VDISK_BYTES, BLOCK_BYTES, KEY_BYTES);
            }
        }
    }

    /** Slot {@code s}: one grain, slots 1 MiB apart (a stripe each), so they fall on every placement group. */
    static long lbaOf(int slot) {
        return ((long) slot * (1 << 20)) / BLOCK_BYTES;
    }

    /** The history's key of a block: vdisk and slot in one number. */
    static int keyOf(int vdisk, int slot) {
        return vdisk * SLOTS + slot;
    }

    /** Starts the hosts, each with a cluster client of its own, as separate machines would have. */
    void start(ClusterConfig config, long seed) {
        for (int h = 0; h < HOSTS; h++) {
            ClusterClient c = ClusterClient.open(config);
            clients.add(c);
            Host host = new Host(h, c, new Random(seed * 41 + h));
            hosts.add(host);
            workers.start("chaos-" + NAME, FIRST_PROCESS + h, (p, seq) -> host.cycle());
        }
    }

    /** Stops the hosts after their current hold, then closes their sessions (releasing their locks) and clients. */
    void stop() throws InterruptedException {
        try {
            workers.stop();
        } finally {
            hosts.forEach(Host::endSession);
            hosts.clear();
            for (ClusterClient c : clients) {
                try {
                    c.close();
                } catch (RuntimeException e) {
                    // Nothing is lost: every operation is recorded already.
                }
            }
            clients.clear();
        }
    }

    /** One simulated host: its session, and one hold of a lock per {@link #cycle}. */
    private final class Host {
        private final int index;
        private final int process;
        private final ClusterClient client;
        private final Random random;
        private HostSessionClient session;
        private long seq;
        /** The slot of this host's last write. */
        private int lastSlot;
        /** Why this host's last write failed (the innermost FencedException or LeaseUnconfirmedException when refused). */
        private Throwable lastFailure;

        Host(int index, ClusterClient client, Random random) {
            this.index = index;
            this.process = FIRST_PROCESS + index;
            this.client = client;
            this.random = random;
        }

        /** Takes a lock, raises its fence, uses it, then releases it or freezes. Returns false when it got no lock. */
        boolean cycle() throws InterruptedException {
            if (session == null && !openSession()) {
                return false;
            }
            int v = random.nextInt(VDISKS);
            LockResult.Grant grant = acquire(v);
            if (grant == null) {
                Thread.sleep(CONFLICT_PAUSE.toMillis()); // held by another host: each try is a meta-group commit
                return false;
            }
            if (!raiseFence(v, grant)) {
                release(v);
                return false;
            }
            String name = vdiskName(v);
            long token = grant.token();
            HostSessionClient s = session;
            try (ClusterVdisk disk = client.open(name, () -> token, () -> s.hold(name))) {
                int ops = OPS_MIN + random.nextInt(OPS_SPREAD);
                for (int i = 0; i < ops && !workers.stopping(); i++) {
                    if (random.nextInt(4) == 0) {
                        read(disk, v, random.nextInt(SLOTS));
                    } else if (write(disk, v, token) == History.Type.fail) {
                        break; // fenced or its lease is lost: the lock is gone
                    }
                }
            } catch (RuntimeException e) { // the open's metadata round trip failed
                history.complete(History.Type.fail, history.invoke(NAME, process, "open", v, 0, token), NAME, process, "open", v, 0, token, Workers.why(e));
            }
            if (!workers.stopping() && random.nextInt(FREEZE_ONE_IN) == 0) {
                freeze(v, token);
            } else {
                release(v);
            }
            return true;
        }

        private boolean openSession() {
            try {
                session = HostSessionClient.open(client.locks(), "chaos-host-" + index, LEASE_MS, System::nanoTime);
                return true;
            } catch (RuntimeException e) {
                return false; // no quorum in the meta group: the worker backs off and tries again
            }
        }

        private LockResult.Grant acquire(int v) {
            long t0 = history.invoke(NAME, process, "acquire", v, 0);
            try {
                LockResult.Grant g = session.acquire(vdiskName(v), LockMode.EXCLUSIVE);
                long t1 = history.complete(History.Type.ok, t0, NAME, process, "acquire", v, g.token(), g.fence(), null);
                grants.add(new LocksCheck.Grant(index, v, g.token(), t1 - history.startNs()));
                return g;
            } catch (LockRefusedException e) {
                history.complete(History.Type.fail, t0, NAME, process, "acquire", v, 0, null, e.reason() + ": " + e.getMessage());
                if (e.reason() == LockResult.Reason.NO_SESSION) {
                    endSession();
                }
                return null;
            } catch (RuntimeException e) {
                // Maybe granted: a new session, so this host holds nothing it does not know of.
                history.complete(History.Type.info, t0, NAME, process, "acquire", v, 0, null, Workers.why(e));
                endSession();
                return null;
            }
        }

        /** Raises the grant's fence on every PG, trying again a few times; true once it completed. */
        private boolean raiseFence(int v, LockResult.Grant g) {
            for (int i = 0; i < RAISE_FENCE_TRIES && !workers.stopping(); i++) {
                long t0 = history.invoke(NAME, process, "fence", v, g.fence(), g.token());
                try {
                    client.locks().raiseFence(vdiskName(v), g.fence());
                    long t1 = history.complete(History.Type.ok, t0, NAME, process, "fence", v, g.fence(), g.token(), null);
                    fences.add(new LocksCheck.Fence(index, v, g.fence(), t1 - history.startNs()));
                    return true;
                } catch (RuntimeException e) {
                    history.complete(History.Type.info, t0, NAME, process, "fence", v, g.fence(), g.token(), Workers.why(e));
                }
            }
            return false;
        }

        private void release(int v) {
            if (session == null) {
                return;
            }
            long t0 = history.invoke(NAME, process, "release", v, 0);
            try {
                session.release(vdiskName(v));
                history.complete(History.Type.ok, t0, NAME, process, "release", v, 0, null);
            } catch (LockRefusedException e) {
                history.complete(History.Type.fail, t0, NAME, process, "release", v, 0, e.reason() + ": " + e.getMessage());
            } catch (RuntimeException e) {
                history.complete(History.Type.info, t0, NAME, process, "release", v, 0, Workers.why(e));
                endSession(); // it may still hold the lock: its session must end for others to get it
            }
        }

        /**
         * The host freezes past its lease with a write cleared to go, then sends it with its old
         * token as if it still held the lock, and reads the block back. Its session is gone after.
         */
        private void freeze(int v, long token) throws InterruptedException {
            String name = vdiskName(v);
            session.stopHeartbeatingForTests();
            try (ClusterVdisk stale = client.open(name, () -> token, () -> HoldState.HELD)) {
                long t0 = history.invoke(NAME, process, "freeze", v, PAUSE.toMillis(), token);
                Thread.sleep(PAUSE.toMillis());
                history.complete(History.Type.ok, t0, NAME, process, "freeze", v, PAUSE.toMillis(), token, null);
                freezes.incrementAndGet();
                History.Type outcome = write(stale, v, token);
                if (outcome == History.Type.ok) {
                    staleAcknowledged.incrementAndGet();
                } else if (outcome == History.Type.fail && lastFailure instanceof FencedException f && f.fence() != Long.MAX_VALUE) {
                    staleRefusedAtPg.incrementAndGet(); // not self-fenced (that one names fence Long.MAX_VALUE): a PG refused it
                }
                LocksWorkload.this.read(stale, process, v, lastSlot);
            } catch (RuntimeException e) { // the open's metadata round trip failed: it sends nothing
                history.complete(History.Type.fail, history.invoke(NAME, process, "open", v, 0, token), NAME, process, "open", v, 0, token, Workers.why(e));
            } finally {
                endSession();
            }
        }

        /** Writes a random slot of vdisk {@code v} stamped with this host, {@code token} and the next sequence number; returns the outcome. */
        private History.Type write(ClusterVdisk disk, int v, long token) throws InterruptedException {
            int slot = random.nextInt(SLOTS);
            lastSlot = slot;
            LocksCheck.Stamp stamp = new LocksCheck.Stamp(index, token, ++seq);
            long value = Workers.uniqueValue(process, seq);
            long t0 = history.invoke(NAME, process, "write", keyOf(v, slot), value, token);
            History.Type outcome;
            long t1;
            try {
                disk.write(lbaOf(slot), LocksCheck.encode(stamp, KEY_BYTES), false).get();
                outcome = History.Type.ok;
                t1 = history.complete(outcome, t0, NAME, process, "write", keyOf(v, slot), value, token, null);
            } catch (ExecutionException | RuntimeException e) {
                // Refused by a PG's fence, or not sent (lease lost or unconfirmed): certainly not applied. Anything else may land.
                lastFailure = refusal(e);
                outcome = lastFailure != null ? History.Type.fail : History.Type.info;
                t1 = history.complete(outcome, t0, NAME, process, "write", keyOf(v, slot), value, token, Workers.why(e));
                if (outcome == History.Type.info) {
                    t1 = Long.MAX_VALUE;
                }
            }
            writes.add(new LocksCheck.Write(v, slot, stamp, t0 - history.startNs(), t1 == Long.MAX_VALUE ? t1 : t1 - history.startNs(), outcome));
            return outcome;
        }

        private void read(ClusterVdisk disk, int v, int slot) throws InterruptedException {
            LocksWorkload.this.read(disk, process, v, slot);
        }

        private void endSession() {
            HostSessionClient s = session;
            session = null;
            if (s != null) {
                try {
                    s.close();
                } catch (RuntimeException e) {
                    // Not reached: the session ends when its lease runs out.
                }
            }
        }
    }

    /** The fence refusal or unconfirmed lease among {@code e}'s first causes, or null: then the write may still land. */
    private static Throwable refusal(Throwable e) {
        Throwable c = e;
        for (int depth = 0; c != null && depth < 8; depth++, c = c.getCause()) {
            if (c instanceof FencedException || c instanceof LeaseUnconfirmedException) {
                return c;
            }
        }
        return null;
    }

    /** One line of what happened, for the run's output. */
    String describe() {
        long ok = writes.stream().filter(w -> w.outcome() == History.Type.ok).count();
        return grants.size() + " locks granted, " + fences.size() + " fences raised on every PG, " + writes.size() + " writes (" + ok + " ok), "
                + reads.size() + " reads; " + freezes.get() + " hosts froze past their lease: " + staleRefusedAtPg.get()
                + " stale writes refused by a PG's fence, " + staleAcknowledged.get() + " acknowledged";
    }

    long staleRefusedAtPg() {
        return staleRefusedAtPg.get();
    }

    /** Reads one block and records what it holds; false when the read failed. */
    private boolean read(ClusterVdisk disk, int process, int v, int slot) throws InterruptedException {
        int key = keyOf(v, slot);
        long t0 = history.invoke(NAME, process, "read", key, 0);
        try {
            ByteBuffer b = disk.read(lbaOf(slot), KEY_BYTES / BLOCK_BYTES).get();
            LocksCheck.Seen seen = LocksCheck.decode(b);
            long value = seen.stamp().map(s -> Workers.uniqueValue(FIRST_PROCESS + s.host(), s.seq())).orElse(seen.zero() ? 0L : -1L);
            Long token = seen.stamp().map(LocksCheck.Stamp::token).orElse(null);
            long t1 = history.complete(History.Type.ok, t0, NAME, process, "read", key, value, token, seen.zero() || seen.stamp().isPresent() ? null : "torn");
            reads.add(new LocksCheck.Read(v, slot, seen, t0 - history.startNs(), t1 - history.startNs()));
            return true;
        } catch (ExecutionException | RuntimeException e) {
            history.complete(History.Type.fail, t0, NAME, process, "read", key, 0, Workers.why(e));
            return false;
        }
    }

    /** After the heal: every block of every vdisk read once more, each retried until it succeeds. */
    void finalReads(ClusterClient client, int process) throws InterruptedException, TimeoutException {
        for (int v = 0; v < VDISKS; v++) {
            try (ClusterVdisk disk = Workers.openAfterFaults(client, vdiskName(v), FINAL_READ_WAIT)) {
                for (int slot = 0; slot < SLOTS; slot++) {
                    long deadline = System.nanoTime() + FINAL_READ_WAIT.toNanos();
                    while (!read(disk, process, v, slot)) {
                        if (System.nanoTime() > deadline) {
                            throw new TimeoutException("read of " + vdiskName(v) + " slot " + slot + " after the heal failed for "
                                    + FINAL_READ_WAIT.toSeconds() + " s");
                        }
                        TimeUnit.MILLISECONDS.sleep(Workers.BACKOFF.toMillis());
                    }
                }
            }
        }
    }

    LocksCheck.Result check() {
        return LocksCheck.check(new ArrayList<>(grants), new ArrayList<>(fences), new ArrayList<>(writes), new ArrayList<>(reads));
    }
}
