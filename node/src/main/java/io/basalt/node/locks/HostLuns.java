package io.basalt.node.locks;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import io.basalt.iscsi.scsi.Initiator;
import io.basalt.iscsi.scsi.LunSource;
import io.basalt.iscsi.scsi.PrStateStore;
import io.basalt.iscsi.session.InitiatorSession;
import io.basalt.iscsi.session.SessionListener;
import io.basalt.iscsi.session.TargetSettings;
import io.basalt.lock.HoldState;
import io.basalt.lock.HostSessionClient;
import io.basalt.lock.LockCommand;
import io.basalt.lock.LockMode;
import io.basalt.lock.LockRefusedException;
import io.basalt.lock.LockResult;
import io.basalt.lock.LockService;
import io.basalt.lock.Session;
import io.basalt.lock.VdiskLock;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.CompareResult;
import io.basalt.vdisk.FencedException;
import io.basalt.vdisk.LbaStatus;

/**
 * Binds iSCSI initiators to host sessions of a lock table: a target that serves a vdisk for a host
 * holds that host's lock (docs/operating.md, "Locks and fencing").
 *
 * <ul>
 *   <li>An initiator's name (its IQN) is the host. A host gets one session of the lock table,
 *       shared by all its iSCSI sessions and LUNs, opened at its first write. Its heartbeat
 *       ({@link HostSessionClient}) is sent only while one of the host's iSCSI sessions is open and
 *       was heard from (a command, or an answer to the target's NOP-In ping) within the lease; a
 *       frozen or cut-off initiator therefore loses its lease, and the lock table expires it. When
 *       the host's last iSCSI session ends, its session is closed: its locks are released.</li>
 *   <li>Each iSCSI session reads and writes a LUN through its own device. Reads need no lock. At
 *       the session's first mutation the host takes the vdisk's lock exclusive; the device keeps
 *       the grant's token for the rest of the iSCSI session. When the lock is lost (expired,
 *       broken) the token is stale and the store refuses the session's writes (FencedException:
 *       CHECK CONDITION, DATA PROTECT / WRITE PROTECTED), until the initiator logs in again.</li>
 *   <li>A host that registers a persistent-reservation key on the LUN declares itself cluster-aware
 *       (failover clusters arbitrate their writers with SCSI-3 PR): it takes the lock multi-writer,
 *       or switches to it when it holds it exclusive, and the reservation arbitrates among the
 *       registrants. Hosts that never registered take it exclusive, so a plain VM disk keeps one
 *       writer, and an exclusive holder and a multi-writer still refuse each other. A multi-writer
 *       whose write the fence refused (another writer left and the fence rose) renews, adopts its
 *       new token and sends the write once more (docs/decisions/pr-registrants-multi-writer.md).</li>
 *   <li>When another host holds the lock, the mutation fails the same way (DATA PROTECT) and the
 *       next mutation asks for the lock again. Not BUSY: initiators retry BUSY for their whole
 *       command timeout, and a disk in use by another host is not a passing condition; DATA
 *       PROTECT is reported at once and not re-issued (docs/decisions/fenced-writes-over-iscsi.md).</li>
 *   <li>A snapshot LUN ({@code VDISK@SNAP}) is read-only and needs no lock.</li>
 * </ul>
 *
 * <p>Lock-table calls block (a synced write, a Raft round trip); they run on one thread of this
 * class, never on the target's event loops. Register this as the target's {@link SessionListener}
 * and give it {@link #targetSettings} so an idle live initiator is pinged well within its lease.
 */
public final class HostLuns implements SessionListener, AutoCloseable {
    private static final System.Logger log = System.getLogger(HostLuns.class.getName());
    /** Pings per lease: an idle initiator is pinged this often, so a live one is always heard within its lease. */
    static final int PINGS_PER_LEASE = 4;

    private final LockedStore store;
    private final long leaseMs;
    private final ExecutorService lockWork = Executors.newSingleThreadExecutor(
            r -> Thread.ofPlatform().daemon().name("basalt-host-locks").unstarted(r));
    private final Map<String, Host> hosts = new ConcurrentHashMap<>();

    public HostLuns(LockedStore store, Duration lease) {
        long ms = lease.toMillis();
        if (ms < io.basalt.lock.LockTable.LEASE_MS_MIN || ms > io.basalt.lock.LockTable.LEASE_MS_MAX) {
            throw new IllegalArgumentException("lease: " + lease + " (expected: " + io.basalt.lock.LockTable.LEASE_MS_MIN + ".."
                    + io.basalt.lock.LockTable.LEASE_MS_MAX + " ms)");
        }
        this.store = store;
        this.leaseMs = ms;
    }

    public HostLuns(LockedStore store) {
        this(store, Duration.ofMillis(HostSessionClient.LEASE_MS_DEFAULT));
    }

    /** {@code base} with NOP-In pings after a quarter of the lease of silence: a live idle initiator keeps its lease. */
    public TargetSettings targetSettings(TargetSettings base) {
        Duration interval = Duration.ofMillis(leaseMs / PINGS_PER_LEASE);
        return new TargetSettings(base.maxRecvDataSegmentLength(), base.maxBurstLength(), base.firstBurstLength(), base.initialR2t(),
                base.maxOutstandingR2t(), base.commandWindowCountMax(), interval, base.nopInTimeout(), base.loginTimeout());
    }

    /** The source of a LUN serving {@code spec} ({@code VDISK}, or {@code VDISK@SNAP} read-only); its identity device is opened now. */
    public LunSource lun(String spec) {
        BlockDevice identity = store.open(spec);
        return spec.indexOf('@') >= 0 ? new SnapshotLun(identity) : new HeadLun(spec, identity);
    }

    @Override
    public void started(InitiatorSession session) {
        host(session.initiator().name()).iscsiSessions.add(session);
    }

    @Override
    public void ended(InitiatorSession session) {
        Host h = host(session.initiator().name());
        h.iscsiSessions.remove(session);
        lockWork.execute(h::closeIfIdle);
    }

    /** Closes every host session (their locks are released); call after the target has stopped. */
    @Override
    public void close() {
        lockWork.execute(() -> hosts.values().forEach(Host::closeSession));
        lockWork.shutdown();
        try {
            if (!lockWork.awaitTermination(30, TimeUnit.SECONDS)) {
                log.log(System.Logger.Level.WARNING, "host sessions still closing after 30 s; their leases will run out instead");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private Host host(String name) {
        return hosts.computeIfAbsent(name, Host::new);
    }

    /** One host (initiator name): its live iSCSI sessions and its session of the lock table. */
    private final class Host {
        final String name;
        final Set<InitiatorSession> iscsiSessions = ConcurrentHashMap.newKeySet();
        /** Touched only on {@link #lockWork}. */
        private HostSessionClient session;

        Host(String name) {
            this.name = name;
        }

        /** One of its iSCSI sessions is open and was heard from within the lease. */
        boolean heard() {
            return iscsiSessions.stream().anyMatch(s -> !s.ended() && s.silence().toMillis() < leaseMs);
        }

        /** This host's session, opened afresh when it has none or it ended (expired, or its lease ran out here). */
        HostSessionClient session() {
            if (session != null && !session.valid()) {
                closeSession();
            }
            if (session == null) {
                session = HostSessionClient.open(new HeardRenewals(this), name, leaseMs, System::nanoTime);
                log.log(System.Logger.Level.INFO, "host {0}: session {1} opened", name, session.sessionId());
            }
            return session;
        }

        void closeIfIdle() {
            if (iscsiSessions.isEmpty()) {
                closeSession();
            }
        }

        void closeSession() {
            if (session == null) {
                return;
            }
            try {
                session.close();
            } catch (RuntimeException e) {
                // Not reached, or already gone: its lease runs out and the lock table expires it.
                log.log(System.Logger.Level.INFO, "host {0}: closing session {1}: {2}", name, session.sessionId(), e.toString());
            }
            session = null;
        }
    }

    /** The lock table as a host's session sees it: renewals are withheld while the host is not heard from. */
    private final class HeardRenewals implements LockService {
        private final Host host;

        HeardRenewals(Host host) {
            this.host = host;
        }

        @Override
        public LockResult submit(LockCommand command) {
            if (command instanceof LockCommand.RenewSession && !host.heard()) {
                throw new IllegalStateException("host " + host.name + ": no iSCSI session heard from within the lease of "
                        + leaseMs + " ms; renewal withheld");
            }
            return store.locks().submit(command);
        }

        @Override
        public Collection<Session> sessions() {
            return store.locks().sessions();
        }

        @Override
        public Collection<VdiskLock> locks() {
            return store.locks().locks();
        }

        @Override
        public Optional<VdiskLock> lock(String vdisk) {
            return store.locks().lock(vdisk);
        }
    }

    /** Whether {@code t} is, or wraps (futures, device exceptions: a few levels), a refusal by the fence. */
    private static boolean fenced(Throwable t) {
        Throwable c = t;
        for (int depth = 0; c != null && depth < 8; depth++, c = c.getCause()) {
            if (c instanceof FencedException) {
                return true;
            }
        }
        return false;
    }

    /** A snapshot: read-only, every session shares one device, no lock. */
    private record SnapshotLun(BlockDevice device) implements LunSource {
        @Override
        public CompletableFuture<BlockDevice> open(Initiator who) {
            return CompletableFuture.completedFuture(device);
        }

        @Override
        public void closed(Initiator who, BlockDevice d) {
            // Shared; closed with the exporter.
        }
    }

    /**
     * A vdisk head: each session gets a {@link SessionDevice} bound to its host. Knows which hosts
     * registered a persistent-reservation key on the LUN: those take its lock multi-writer.
     */
    private final class HeadLun implements LunSource {
        private final String vdisk;
        private final BlockDevice identity;
        /** The open session devices; touched only on {@link #lockWork}. */
        private final Set<SessionDevice> devices = new java.util.HashSet<>();
        /** Hosts with a PR key registered, as of {@link #registrantsVersion}; touched only on {@link #lockWork}. */
        private Set<String> registrants = Set.of();
        private long registrantsVersion;

        HeadLun(String vdisk, BlockDevice identity) {
            this.vdisk = vdisk;
            this.identity = identity;
        }

        @Override
        public BlockDevice device() {
            return identity;
        }

        @Override
        public PrStateStore prStateStore() {
            return store.prStates(vdisk);
        }

        @Override
        public CompletableFuture<BlockDevice> open(Initiator who) {
            return CompletableFuture.supplyAsync(() -> {
                try {
                    SessionDevice d = new SessionDevice(this, host(who.name()));
                    devices.add(d);
                    return d;
                } catch (BlockDeviceException e) {
                    // A cluster reads the namespace to open a vdisk: without a meta quorum that is unavailable for now,
                    // not for good. BUSY, so the initiator re-issues the command and the next one opens again.
                    throw e.kind() == BlockDeviceException.Kind.UNAVAILABLE
                            ? new BlockDeviceException(BlockDeviceException.Kind.TRANSIENT, "opening " + vdisk + " for " + who.name() + ": " + e.getMessage(), e)
                            : e;
                }
            }, lockWork);
        }

        @Override
        public void closed(Initiator who, BlockDevice device) {
            lockWork.execute(() -> devices.remove(device));
            device.close();
        }

        /**
         * A host that registered holds the lock multi-writer from now on: one that holds it exclusive
         * switches (the lock table re-tokens it; its devices adopt the new token), one that does not
         * takes it multi-writer at its next write. A host that unregistered keeps what it holds until
         * its session ends: going back to exclusive would shut the other registrants out.
         */
        @Override
        public CompletableFuture<Void> registrantsChanged(long version, Set<String> hosts) {
            return CompletableFuture.runAsync(() -> {
                if (version <= registrantsVersion) {
                    return;
                }
                registrantsVersion = version;
                registrants = Set.copyOf(hosts);
                for (String name : registrants) {
                    devices.stream().filter(d -> d.host.name.equals(name) && d.mode == LockMode.EXCLUSIVE && d.token > 0)
                            .findFirst().ifPresent(SessionDevice::switchToMultiWriter);
                }
            }, lockWork);
        }

        /** The mode {@code host} takes this vdisk in: multi-writer once it registered a PR key. */
        LockMode modeFor(Host host) {
            return registrants.contains(host.name) ? LockMode.MULTI_WRITER : LockMode.EXCLUSIVE;
        }

        /** Every device of {@code s}'s host writes with {@code grant} now (a switch to multi-writer, or a re-token). */
        void adopt(HostSessionClient s, LockResult.Grant grant) {
            for (SessionDevice d : devices) {
                if (d.grantedBy == s) {
                    d.mode = grant.mode();
                    d.token = grant.token();
                }
            }
        }
    }

    /**
     * One iSCSI session's device of one vdisk: takes its host's lock at the first mutation and
     * keeps that grant's token until the session ends. A multi-writer's token may rise while it
     * holds the lock (another writer left, or its own switch from exclusive): such a device adopts
     * its session's newer multi-writer token, never a token of another host session.
     */
    private final class SessionDevice implements BlockDevice {
        private final HeadLun lun;
        private final Host host;
        private final String vdisk;
        private final BlockDevice locked;
        /** The grant's token; 0 until the lock is taken. */
        private volatile long token;
        /** The mode the lock is held in; null until it is taken. Written only on {@link #lockWork}. */
        private volatile LockMode mode;
        private volatile HostSessionClient grantedBy;

        SessionDevice(HeadLun lun, Host host) {
            this.lun = lun;
            this.host = host;
            this.vdisk = lun.vdisk;
            this.locked = store.openLocked(vdisk, () -> token, () -> grantedBy == null ? HoldState.LOST : grantedBy.hold(vdisk));
        }

        /**
         * Runs {@code op} once the lock is held: at once when it is, else after taking it on
         * {@link #lockWork}. A multi-writer's mutation refused by the fence is sent once more when its
         * session renews to a newer multi-writer token (a writer left and the fence rose past it).
         */
        private <T> CompletableFuture<T> mutate(Supplier<CompletableFuture<T>> op) {
            CompletableFuture<T> first = token > 0 ? op.get() : CompletableFuture.runAsync(this::takeLock, lockWork).thenCompose(x -> op.get());
            return first.exceptionallyCompose(e -> {
                long used = token;
                if (mode != LockMode.MULTI_WRITER || !fenced(e)) {
                    return CompletableFuture.failedFuture(e);
                }
                return CompletableFuture.supplyAsync(() -> retokened(used), lockWork)
                        .thenCompose(newer -> newer ? op.get() : CompletableFuture.<T>failedFuture(e));
            });
        }

        /** On {@link #lockWork}: whether a renewal gave this multi-writer a token above {@code used} (adopted by every device of its session). */
        private boolean retokened(long used) {
            HostSessionClient s = grantedBy;
            if (s == null || !s.valid()) {
                return false;
            }
            try {
                s.renewNow();
            } catch (RuntimeException e) {
                log.log(System.Logger.Level.INFO, "host {0}: renewing after a fenced write to {1}: {2}", host.name, vdisk, e.toString());
                return false;
            }
            Optional<LockResult.Grant> g = s.grant(vdisk);
            if (g.isEmpty() || g.get().mode() != LockMode.MULTI_WRITER || g.get().token() <= used) {
                return false;
            }
            lun.adopt(s, g.get());
            log.log(System.Logger.Level.INFO, "host {0}: {1} multi-writer re-tokened to {2}", host.name, vdisk, g.get().token());
            return true;
        }

        /**
         * On {@link #lockWork}: the host registered a PR key while holding the vdisk exclusive; it holds it
         * multi-writer now, so the other registrants may write too. The lock table raises the fence to
         * the switch's token; this device and its host's others on the vdisk write with that token.
         */
        void switchToMultiWriter() {
            HostSessionClient s = grantedBy;
            try {
                LockResult.Grant grant = s.acquire(vdisk, LockMode.MULTI_WRITER);
                lun.adopt(s, grant);
                store.raiseFence(vdisk, grant.fence());     // shuts out only the exclusive token this host gave up
                log.log(System.Logger.Level.INFO, "host {0}: registered a PR key; holds {1} multi-writer now, token {2}", host.name, vdisk, grant.token());
            } catch (RuntimeException e) {
                // Kept exclusive: the reservation still stands; the other registrants' writes are refused until this host's session ends.
                log.log(System.Logger.Level.WARNING, "host {0}: switching {1} to multi-writer failed: {2}", host.name, vdisk, e.toString());
            }
        }

        /** On {@link #lockWork}: the host takes the vdisk (exclusive, or multi-writer once registered); another holder fails the mutation as fenced. */
        private void takeLock() {
            if (token > 0) {
                return;
            }
            HostSessionClient s;
            LockResult.Grant grant;
            try {
                s = host.session();
                grant = s.acquire(vdisk, lun.modeFor(host));
            } catch (LockRefusedException e) {
                switch (e.reason()) {
                    case CONFLICT -> {
                        long fence = store.locks().lock(vdisk).map(VdiskLock::fence).orElse(0L);
                        log.log(System.Logger.Level.WARNING, "host {0}: write to {1} refused: {2}", host.name, vdisk, e.getMessage());
                        throw new FencedException(vdisk, 0, Math.max(1, fence));
                    }
                    case NO_SESSION -> throw new BlockDeviceException(BlockDeviceException.Kind.TRANSIENT,
                            "host " + host.name + ": its session ended while taking the lock of " + vdisk + "; the next write opens a new one");
                    default -> throw new BlockDeviceException(BlockDeviceException.Kind.IO,
                            "host " + host.name + ": lock of " + vdisk + " refused: " + e.getMessage());
                }
            } catch (FencedException e) {
                throw e;
            } catch (RuntimeException e) {
                throw unreached(e);
            }
            try {
                store.raiseFence(vdisk, grant.fence());
            } catch (RuntimeException e) {
                throw unreached(e);
            }
            grantedBy = s;
            mode = grant.mode();
            token = grant.token();
            if (grant.mode() == LockMode.MULTI_WRITER) {
                lun.adopt(s, grant);    // a sibling device that held it exclusive was switched by this acquire
            }
            log.log(System.Logger.Level.INFO, "host {0}: took {1} {2}, token {3}", host.name, vdisk, grant.mode().cliName(), grant.token());
        }

        /**
         * The lock table or the storage was not reached, or did not answer in time (a cluster without a quorum): the
         * outcome is unknown and nothing was written. TRANSIENT, answered BUSY, so the initiator re-issues the write
         * (as it does for a write the cluster cannot take now); a store that failed for good keeps its own kind.
         */
        private RuntimeException unreached(RuntimeException e) {
            if (e instanceof BlockDeviceException b && b.kind() != BlockDeviceException.Kind.UNAVAILABLE) {
                return b;
            }
            return new BlockDeviceException(BlockDeviceException.Kind.TRANSIENT, "host " + host.name + ": lock of " + vdisk + ": " + e.getMessage());
        }

        @Override public String name() { return locked.name(); }
        @Override public int logicalBlockSizeBytes() { return locked.logicalBlockSizeBytes(); }
        @Override public long sizeBytes() { return locked.sizeBytes(); }
        @Override public void refreshSize() { locked.refreshSize(); }
        @Override public boolean readOnly() { return locked.readOnly(); }
        @Override public int atomicWriteBytesMax() { return locked.atomicWriteBytesMax(); }
        @Override public int atomicWriteUnitBytes() { return locked.atomicWriteUnitBytes(); }
        @Override public int atomicWriteBoundaryBytes() { return locked.atomicWriteBoundaryBytes(); }
        @Override public CompletableFuture<ByteBuffer> read(long lba, int blockCount) { return locked.read(lba, blockCount); }
        @Override public CompletableFuture<Void> read(long lba, int blockCount, ByteBuffer dst) { return locked.read(lba, blockCount, dst); }
        @Override public CompletableFuture<Void> flush() { return locked.flush(); }
        @Override public CompletableFuture<List<LbaStatus>> getLbaStatus(long lba, long max) { return locked.getLbaStatus(lba, max); }
        @Override public CompletableFuture<Void> writeAtomic(long lba, ByteBuffer data, boolean fua) { return mutate(() -> locked.writeAtomic(lba, data, fua)); }
        @Override public CompletableFuture<Void> write(long lba, ByteBuffer data, boolean fua) { return mutate(() -> locked.write(lba, data, fua)); }
        @Override public CompletableFuture<Void> unmap(long lba, long blockCount) { return mutate(() -> locked.unmap(lba, blockCount)); }
        @Override public CompletableFuture<Void> writeZeroes(long lba, long n, boolean unmap) { return mutate(() -> locked.writeZeroes(lba, n, unmap)); }
        @Override public CompletableFuture<CompareResult> compareAndWrite(long lba, ByteBuffer expected, ByteBuffer data) {
            return mutate(() -> locked.compareAndWrite(lba, expected, data));
        }
        @Override public CompletableFuture<Void> resize(long newSizeBytes) { return mutate(() -> locked.resize(newSizeBytes)); }

        @Override
        public void close() {
            locked.close();
        }
    }
}
