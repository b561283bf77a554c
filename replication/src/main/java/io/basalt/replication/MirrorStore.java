package io.basalt.replication;

import java.util.List;
import java.util.Optional;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.Extent;
import io.basalt.vdisk.store.SnapshotInfo;
import io.basalt.vdisk.store.VdiskStore;

/**
 * What mirroring needs of a site's storage, so a site may be the embedded store
 * ({@link #of(VdiskStore)}) or a cluster (the node module's adapter over its client): snapshots
 * and the diff between two of them (O(changed) on both), reads from a snapshot, a replica's
 * read-only mark and its privileged writer, rollback, and a snapshot of several vdisks at one
 * instant for consistency groups.
 *
 * <p>Implementations state how they keep the two promises the replication core relies on: a
 * replica's mark refuses every writer but its {@link Writer}, and a snapshot committed through a
 * writer is never seen without the record it was committed with (after a crash, the record
 * never names a snapshot that is missing; a snapshot newer than the record is removed by the next
 * apply, see {@link Writer#commitSnapshot}).
 */
public interface MirrorStore {

    /** What the stream header and an apply need of a vdisk. */
    record Shape(long id, long sizeBytes, int blockSizeBytes, int grainSizeBytes) {}

    /** What this store is, for messages ("the embedded store", "cluster NAME"). */
    String describe();

    boolean exists(String vdisk);

    /** Refuses, naming it, a vdisk that does not exist. */
    Shape info(String vdisk);

    /** Every vdisk's name. */
    List<String> names();

    /** Oldest first. */
    List<SnapshotInfo> snapshots(String vdisk);

    /** Refuses, naming it, a snapshot that does not exist. */
    SnapshotInfo snapshot(String vdisk, String snap);

    /** Whether any vdisk is a linked clone of {@code vdisk@snap} (such a snapshot is never pruned). */
    boolean hasClones(String vdisk, String snap);

    SnapshotInfo createSnapshot(String vdisk, String snap);

    /**
     * Snapshot {@code snap} of every one of {@code vdisks} at one instant: a write to any of them
     * is in all the snapshots or in none. Refused where the store cannot promise that.
     */
    void createSnapshots(List<String> vdisks, String snap);

    /** Whether {@link #createSnapshots} is offered (consistency groups need it). */
    default boolean groupSnapshots() {
        return true;
    }

    void removeSnapshot(String vdisk, String snap);

    /** Makes {@code vdisk}'s head read as {@code snap} (a primary's; a replica's goes through its writer). */
    void rollback(String vdisk, String snap);

    /** Extents changed after {@code fromSnap} (null: the beginning) up to {@code toSnap}, in offset order. */
    List<Extent> diff(String vdisk, String fromSnap, String toSnap);

    /** {@code vdisk@snap}, read-only; open, it keeps the snapshot from being removed where the store can. */
    BlockDevice openSnapshot(String vdisk, String snap);

    /** The replica record of {@code vdisk} (the bytes of a {@link ReplicaRecord}); empty for an ordinary vdisk. */
    Optional<byte[]> replicaRecord(String vdisk);

    /** Makes existing {@code vdisk} a read-only replica holding {@code record}. */
    void markReplica(String vdisk, byte[] record);

    /** Makes replica {@code vdisk} an ordinary writable vdisk (a promotion). */
    void unmarkReplica(String vdisk);

    /** Creates an empty read-only replica holding {@code record}. */
    void createReplica(String vdisk, long sizeBytes, int blockSizeBytes, int grainSizeBytes, byte[] record);

    /** Removes {@code vdisk} and its mark (a first sync that never completed starts again). */
    void remove(String vdisk);

    /** The one privileged writer of replica {@code vdisk}. */
    Writer openReplicaWriter(String vdisk);

    /** The applier's path into one replica: a head its mark does not refuse, and the namespace operations of an apply. */
    interface Writer extends AutoCloseable {
        BlockDevice head();

        void rollback(String snap);

        void resize(long sizeBytes);

        /**
         * Takes snapshot {@code snap} of the head and stores {@code record} as the replica's
         * record: on the engine in one batch; elsewhere the snapshot first, then the record, so a
         * crash between leaves a snapshot newer than the record, which the next apply removes
         * ({@link MirrorReceiver}) before it writes.
         */
        SnapshotInfo commitSnapshot(String snap, byte[] record);

        void removeSnapshot(String snap);

        @Override
        void close();
    }

    /** The embedded engine. */
    static MirrorStore of(VdiskStore store) {
        return new EngineMirrorStore(store);
    }
}
