package io.basalt.cluster.client;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.basalt.cluster.meta.MetaCodec;
import io.basalt.cluster.meta.MetaCommand;
import io.basalt.cluster.meta.MetaQuery;
import io.basalt.cluster.meta.MetaResult;
import io.basalt.cluster.meta.VdiskRecord;
import io.basalt.cluster.pg.PgOp;
import io.basalt.cluster.pg.PgResult;
import io.basalt.lock.HostSessionClient;
import io.basalt.lock.LockCommand;
import io.basalt.lock.LockMode;
import io.basalt.lock.LockResult;
import io.basalt.lock.LockService;
import io.basalt.lock.Session;
import io.basalt.lock.VdiskLock;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.FencedException;

/**
 * The cluster's lock table, which lives in the meta group (docs/architecture.md, "Locks and
 * fencing"), as a {@link LockService}, and the fences on the placement groups.
 *
 * <p>A new holder must raise the vdisk's fence on every PG before its first write:
 * {@link #acquireAndFence} and {@link #handoffAndFence} do both steps. The fence is raised on
 * every PG of the cluster because every vdisk has stripes on all of them. After a break this
 * client raises the fences at once (best effort: the next holder raises them anyway).
 */
public final class ClusterLocks implements LockService {
    private static final Logger log = LoggerFactory.getLogger(ClusterLocks.class);

    private final ClusterClient client;

    ClusterLocks(ClusterClient client) {
        this.client = client;
    }

    /** Applies {@code command} in the meta group; a transport failure or timeout throws (outcome unknown). */
    @Override
    public LockResult submit(LockCommand command) {
        MetaResult r = MetaCodec.decodeResult(client.metaWrite(new MetaCommand.Lock(command)));
        LockResult result = switch (r) {
            case MetaResult.LockApplied applied -> applied.result();
            case MetaResult.Rejected rejected -> new LockResult.Refused(LockResult.Reason.INVALID, rejected.message());
            default -> throw new IllegalStateException("meta answered " + r + " to " + command + " (expected: a lock result)");
        };
        if (result instanceof LockResult.Broken b) {
            raiseFenceQuietly(b.after());
        }
        return result;
    }

    @Override
    public Collection<Session> sessions() {
        return MetaQuery.decodeSessions(client.metaRead(new MetaQuery.ListSessions()));
    }

    @Override
    public Collection<VdiskLock> locks() {
        return MetaQuery.decodeLocks(client.metaRead(new MetaQuery.ListLocks()));
    }

    @Override
    public Optional<VdiskLock> lock(String vdisk) {
        return MetaQuery.decodeLocks(client.metaRead(new MetaQuery.LockOf(vdisk))).stream().findFirst();
    }

    /**
     * Takes {@code vdisk} for {@code session} in {@code mode}, then raises its fence on every PG
     * to the grant's: once this returns, the session may write with its token and no older
     * holder can. A refusal throws {@link io.basalt.lock.LockRefusedException}.
     */
    public LockResult.Grant acquireAndFence(HostSessionClient session, String vdisk, LockMode mode) {
        FutureTask<VdiskRecord> record = lookUpMeanwhile(vdisk);
        LockResult.Grant grant = session.acquire(vdisk, mode);
        raiseFence(joined(record), grant.fence());
        return grant;
    }

    /**
     * Hands {@code from}'s exclusive lock on {@code vdisk} to session {@code toSessionId}, then
     * raises the fence on every PG to the receiver's grant: once this returns the giver's writes
     * are refused everywhere and the receiver may write, once it has the grant (passed on to
     * {@link HostSessionClient#received}, or learned by {@link HostSessionClient#renewNow}).
     * Two Raft commits in a row, the meta group's then the PGs' (in parallel): the hand-off's
     * share of a live migration's downtime.
     */
    public LockResult.Grant handoffAndFence(HostSessionClient from, String vdisk, long toSessionId) {
        FutureTask<VdiskRecord> record = lookUpMeanwhile(vdisk);
        LockResult.Grant grant = from.handoff(vdisk, toSessionId);
        raiseFence(joined(record), grant.fence());
        return grant;
    }

    /**
     * Raises the fence of {@code vdiskName} to {@code fence} on every PG and waits for all of
     * them: from then on every PG refuses a mutation of it carrying a lower token. A PG that
     * cannot be reached within the I/O timeout fails the call (it may be raised elsewhere:
     * raising again is harmless).
     */
    public void raiseFence(String vdiskName, long fence) {
        raiseFence(existing(vdiskName), fence);
    }

    private void raiseFence(VdiskRecord v, long fence) {
        String vdiskName = v.name();
        List<CompletableFuture<PgResult>> results = new ArrayList<>();
        for (int pg = 0; pg < client.config().pgCount(); pg++) {
            results.add(client.pg(pg).submit(new PgOp.RaiseFence(v.id(), fence)));
        }
        for (int pg = 0; pg < results.size(); pg++) {
            PgResult r = client.await(results.get(pg), "raise fence of " + vdiskName + " to " + fence + " on pg-" + pg);
            if (r instanceof PgResult.Failed f) {
                throw new BlockDeviceException(f.kind() == null ? BlockDeviceException.Kind.IO : f.kind(),
                        "raise fence of " + vdiskName + " to " + fence + " on pg-" + pg + ": " + f.message());
            }
        }
    }

    private VdiskRecord existing(String vdiskName) {
        return client.vdisk(vdiskName)
                .orElseThrow(() -> new IllegalArgumentException("vdisk: " + vdiskName + " (expected: an existing vdisk)"));
    }

    /** Looks {@code vdiskName} up on a virtual thread while the caller commits the lock change: the fence step then waits for nothing else. */
    private FutureTask<VdiskRecord> lookUpMeanwhile(String vdiskName) {
        FutureTask<VdiskRecord> lookup = new FutureTask<>(() -> existing(vdiskName));
        Thread.ofVirtual().name("basalt-fence-lookup").start(lookup);
        return lookup;
    }

    private static VdiskRecord joined(FutureTask<VdiskRecord> lookup) {
        try {
            return lookup.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockDeviceException(BlockDeviceException.Kind.IO, "interrupted while looking up a vdisk to fence", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    /** The fence a lock change left, pushed to the PGs now; a failure is logged (the next holder raises it). */
    void raiseFenceQuietly(VdiskLock after) {
        if (after.fence() == 0) {
            return;
        }
        try {
            raiseFence(after.vdisk(), after.fence());
        } catch (RuntimeException e) {
            log.info("raising the fence of {} to {} on the PGs failed (its next holder raises it): {}", after.vdisk(), after.fence(), e.toString());
        }
    }

    /** Refuses, before anything is recorded, a snapshot whose token the vdisk's fence would refuse on the PGs. */
    void checkToken(String vdisk, long token) {
        Optional<VdiskLock> lock = lock(vdisk);
        if (lock.isPresent() && token < lock.get().fence()) {
            throw new FencedException(vdisk, token, lock.get().fence());
        }
    }
}
