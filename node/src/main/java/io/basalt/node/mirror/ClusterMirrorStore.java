package io.basalt.node.mirror;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;

import io.basalt.cluster.client.ClusterClient;
import io.basalt.cluster.client.ClusterVdisk;
import io.basalt.cluster.meta.ConfigRecord;
import io.basalt.cluster.meta.VdiskRecord;
import io.basalt.lock.HoldState;
import io.basalt.lock.VdiskLock;
import io.basalt.replication.MirrorSnapshots;
import io.basalt.replication.MirrorStore;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.Extent;
import io.basalt.vdisk.store.SnapshotInfo;

/**
 * {@link MirrorStore} on a cluster, through its client (a gateway's): snapshots, rollback and
 * the diff are the cluster's (O(changed) per placement group, merged), reads from a snapshot go
 * through a snapshot view.
 *
 * <p><b>The replica mark</b> is a config record in the meta group, {@code mirror/replica/NAME}:
 * the vdisk's id (u64; -1 while a replica is being created) and the replication module's
 * {@code ReplicaRecord}. It holds for the vdisk of that id only, so a vdisk removed and made
 * again under the name is not a replica. Guests are kept off it where they open vdisks: a
 * gateway's {@code LockedStore} serves a marked vdisk read-only (READ_ONLY, which the target
 * answers WRITE PROTECTED); a vdisk is demoted only while no host holds its lock
 * ({@link #markReplica}), so no writer opened before the mark is left writing.
 *
 * <p><b>The replica writer</b> writes with the vdisk's current fence as its token (a replica
 * has no lock holder; one that had a holder while it was a primary has a fence above 0, which
 * would refuse unfenced writes). Its snapshot and record are two meta entries, the snapshot first:
 * a crash between leaves a snapshot newer than the record, which the next apply removes.
 *
 * <p><b>Snapshots</b> are taken through the vdisks' lock holder (a {@link Snapshotter}: {@code ConsistentSnapshots}):
 * a host agent pauses its guest for one, so it is crash-consistent across placement groups; a
 * vdisk written by anything else (an initiator through a gateway) fails its round, saying so.
 * A consistency group's snapshot ({@link #createSnapshots}) is the same call for all its vdisks:
 * the agent of the one VM that has them all pauses it once for the whole set; when nothing holds
 * them, the store takes them and the locks are read again after (a writer that came in undoes all
 * of them). The instant comes from the writers, because each placement group freezes at its own
 * point in its log (docs/decisions/mirror-on-a-cluster.md, decision 5).
 *
 * <p>On the replica side a group round is its members' snapshots, each committed with its record;
 * the group's round is the newest one every member's record counts ({@code MirrorGroups.consistentRound}),
 * so a snapshot a crash left above its record is not part of it.
 */
public final class ClusterMirrorStore implements MirrorStore {
    /** Config keys of replica marks: {@code mirror/replica/NAME}. */
    static final String MARK_PREFIX = "mirror/replica/";
    /** A mark written before its vdisk exists (a replica being created): it holds for whatever vdisk has the name. */
    static final long ID_PENDING = -1;

    private static final System.Logger log = System.getLogger(ClusterMirrorStore.class.getName());

    private final ClusterClient client;
    private final Snapshotter snapshots;

    /** How a round's snapshot is taken: through the vdisks' writer ({@code ConsistentSnapshots.mirrorSnapshots} in the host package). */
    @FunctionalInterface
    public interface Snapshotter {
        /** Snapshot {@code snap} of every one of {@code vdisks} at one instant, or an exception saying why not. */
        String take(List<String> vdisks, String snap) throws java.io.IOException, InterruptedException;
    }

    /** A site on the cluster whose rounds take their snapshots with {@code snapshots}. */
    public ClusterMirrorStore(ClusterClient client, Snapshotter snapshots) {
        this.client = client;
        this.snapshots = snapshots;
    }

    /** A view of a cluster's mirrors that takes no snapshot (status, records): a round through it is refused. */
    public static ClusterMirrorStore readOnly(ClusterClient client) {
        return new ClusterMirrorStore(client, (vdisks, snap) -> {
            throw new IllegalStateException("snapshot " + snap + " of " + vdisks + ": this view of cluster " + client.config().name()
                    + " takes no snapshots (expected: the site's mirroring gateway, basalt serve --cluster --mirror-port)");
        });
    }

    @Override
    public String describe() {
        return "cluster " + client.config().name();
    }

    @Override
    public boolean exists(String vdisk) {
        return client.vdisk(vdisk).isPresent();
    }

    @Override
    public Shape info(String vdisk) {
        VdiskRecord v = record(vdisk);
        return new Shape(v.id(), v.sizeBytes(), v.blockSizeBytes(), v.grainSizeBytes());
    }

    @Override
    public List<String> names() {
        return client.vdisks().stream().map(VdiskRecord::name).toList();
    }

    @Override
    public List<SnapshotInfo> snapshots(String vdisk) {
        VdiskRecord v = record(vdisk);
        return v.snapshots().stream().map(s -> info(v, s)).toList();
    }

    @Override
    public SnapshotInfo snapshot(String vdisk, String snap) {
        VdiskRecord v = record(vdisk);
        return info(v, v.snapshot(snap).orElseThrow(() -> new IllegalArgumentException("snapshot: " + vdisk + "@" + snap
                + " (expected: one of " + v.snapshots().stream().map(VdiskRecord.SnapshotRecord::name).toList() + ")")));
    }

    @Override
    public boolean hasClones(String vdisk, String snap) {
        long id = record(vdisk).id();
        return client.vdisks().stream().anyMatch(v -> v.parent().filter(p -> p.vdiskId() == id && p.snapName().equals(snap)).isPresent());
    }

    @Override
    public SnapshotInfo createSnapshot(String vdisk, String snap) {
        take(List.of(vdisk), snap);
        VdiskRecord v = record(vdisk);
        return info(v, v.snapshot(snap).orElseThrow());
    }

    @Override
    public void createSnapshots(List<String> vdisks, String snap) {
        take(vdisks, snap);
    }

    /** Through the vdisks' writer ({@link Snapshotter}); a refusal or a failed agent call fails the round, which is retried. */
    private void take(List<String> vdisks, String snap) {
        try {
            String how = snapshots.take(vdisks, snap);
            log.log(System.Logger.Level.DEBUG, "mirror snapshot {0} of {1} taken {2}", snap, vdisks, how);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("mirror snapshot " + snap + " of " + vdisks + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("mirror snapshot " + snap + " of " + vdisks + ": interrupted", e);
        }
    }

    @Override
    public void removeSnapshot(String vdisk, String snap) {
        client.removeSnapshot(vdisk, snap);
    }

    @Override
    public void rollback(String vdisk, String snap) {
        client.rollback(vdisk, snap);
    }

    @Override
    public List<Extent> diff(String vdisk, String fromSnap, String toSnap) {
        return client.diff(vdisk, fromSnap, toSnap);
    }

    @Override
    public BlockDevice openSnapshot(String vdisk, String snap) {
        return client.openSnapshot(vdisk, snap);
    }

    @Override
    public Optional<byte[]> replicaRecord(String vdisk) {
        return mark(client, vdisk);
    }

    /** The replica record of {@code vdisk} on the cluster of {@code client}; empty for an ordinary vdisk (or none of that name). */
    public static Optional<byte[]> mark(ClusterClient client, String vdisk) {
        Optional<ConfigRecord> r = client.configs().read(MARK_PREFIX + vdisk);
        if (r.isEmpty()) {
            return Optional.empty();
        }
        ByteBuffer b = r.get().value();
        long id = b.getLong(b.position());
        Optional<VdiskRecord> v = client.vdisk(vdisk);
        if (v.isEmpty() || id != ID_PENDING && id != v.get().id()) {
            return Optional.empty(); // a mark of a vdisk removed since: not this one's
        }
        byte[] record = new byte[b.remaining() - Long.BYTES];
        b.get(b.position() + Long.BYTES, record);
        return Optional.of(record);
    }

    /**
     * Marks {@code vdisk} a replica. Refused while a host holds its lock: a writer opened before
     * the mark would go on writing (the gateway checks the mark when it opens a vdisk).
     */
    @Override
    public void markReplica(String vdisk, byte[] record) {
        Optional<VdiskLock> lock = client.locks().lock(vdisk).filter(l -> !l.holders().isEmpty());
        if (lock.isPresent()) {
            throw new IllegalStateException("vdisk " + vdisk + " on " + describe() + " is locked by session(s) "
                    + lock.get().holders().stream().map(h -> String.valueOf(h.sessionId())).toList()
                    + " (expected: no holder; stop its VM first: on a cluster a demotion cannot refuse the writes of a disk already open)");
        }
        putMark(vdisk, record(vdisk).id(), record);
    }

    @Override
    public void unmarkReplica(String vdisk) {
        record(vdisk);
        put(MARK_PREFIX + vdisk, Optional.empty());
    }

    @Override
    public void createReplica(String vdisk, long sizeBytes, int blockSizeBytes, int grainSizeBytes, byte[] record) {
        // The mark first: a crash before the vdisk exists leaves a mark of no vdisk, which the next creation replaces.
        putMark(vdisk, ID_PENDING, record);
        VdiskRecord v = client.createVdisk(vdisk, sizeBytes, blockSizeBytes, grainSizeBytes);
        putMark(vdisk, v.id(), record);
    }

    /** Removes a replica whose first sync never completed: its snapshots (one a crash left between snapshot and record), the vdisk, its mark. */
    @Override
    public void remove(String vdisk) {
        for (SnapshotInfo s : snapshots(vdisk).reversed()) {
            if (MirrorSnapshots.sequenceOf(s.name()).isPresent()) {
                client.removeSnapshot(vdisk, s.name());
            }
        }
        client.removeVdisk(vdisk);
        put(MARK_PREFIX + vdisk, Optional.empty());
    }

    @Override
    public Writer openReplicaWriter(String vdisk) {
        if (replicaRecord(vdisk).isEmpty()) {
            throw new IllegalStateException("vdisk " + vdisk + " on " + describe() + " is not a replica (expected: a mirror's replica)");
        }
        return new ClusterReplicaWriter(vdisk);
    }

    /** The privileged writer of one replica; its head is opened on first use, after a rollback has set the size. */
    private final class ClusterReplicaWriter implements Writer {
        private final String vdisk;
        private ClusterVdisk head;

        ClusterReplicaWriter(String vdisk) {
            this.vdisk = vdisk;
        }

        @Override
        public BlockDevice head() {
            if (head == null) {
                head = client.open(vdisk, this::fence, () -> HoldState.HELD);
            }
            return head;
        }

        /** The vdisk's fence: no lock holder writes a replica, so the applier takes the newest token any holder had. */
        private long fence() {
            return client.locks().lock(vdisk).map(l -> Math.max(l.fence(), l.lastToken())).orElse(0L);
        }

        /**
         * Rolls back only when the head differs from {@code snap} (an interrupted apply wrote, or
         * the size changed): on a cluster a rollback is two meta entries and one per placement
         * group even when there is nothing to drop, where the diff is a read of each group's
         * change index. Every round of a replica starts here.
         */
        @Override
        public void rollback(String snap) {
            VdiskRecord v = record(vdisk);
            boolean same = v.rollingBackTo().isEmpty() && v.snapshot(snap).filter(s -> s.sizeBytes() == v.sizeBytes()).isPresent()
                    && client.diff(vdisk, snap, null).isEmpty();
            if (!same) {
                client.rollback(vdisk, snap);
            }
            if (head != null) {
                head.refreshSize();
            }
        }

        @Override
        public void resize(long sizeBytes) {
            head().resize(sizeBytes).join();
        }

        @Override
        public SnapshotInfo commitSnapshot(String snap, byte[] record) {
            if (head != null) {
                head.flush().join();
            }
            SnapshotInfo s = createSnapshot(vdisk, snap);
            putMark(vdisk, s.vdiskId(), record);
            return s;
        }

        @Override
        public void removeSnapshot(String snap) {
            client.removeSnapshot(vdisk, snap);
        }

        @Override
        public void close() {
            if (head != null) {
                head.close();
            }
        }
    }

    private void putMark(String vdisk, long id, byte[] record) {
        ByteBuffer b = ByteBuffer.allocate(Long.BYTES + record.length).putLong(id).put(record).flip();
        put(MARK_PREFIX + vdisk, Optional.of(b));
    }

    /** Sets (or removes) a record whatever its version: the mark has one writer, the site's mirror service, under the vdisk's round lock. */
    private void put(String key, Optional<ByteBuffer> value) {
        for (int attempt = 0; attempt < 8; attempt++) {
            long version = client.configs().read(key).map(ConfigRecord::version).orElse(0L);
            if (version == 0 && value.isEmpty()) {
                return;
            }
            if (client.configs().compareAndSet(key, version, value.map(ByteBuffer::duplicate))) {
                return;
            }
        }
        throw new IllegalStateException("config record " + key + " on " + describe() + ": changed under 8 attempts to set it (expected: one writer)");
    }

    private VdiskRecord record(String vdisk) {
        return client.vdisk(vdisk).orElseThrow(() -> new IllegalArgumentException("vdisk: " + vdisk + " (expected: an existing vdisk on " + describe() + ")"));
    }

    private static SnapshotInfo info(VdiskRecord v, VdiskRecord.SnapshotRecord s) {
        return new SnapshotInfo(v.id(), s.name(), -1, s.sizeBytes(), s.createdMs());
    }
}
