package io.basalt.vdisk.store;

/**
 * The mirror applier's privileged path into one read-only replica ({@link VdiskStore#createReplica}):
 * a head handle whose writes the replica mark does not refuse, and the namespace operations an
 * applier needs (rollback to its last complete snapshot, resize, a snapshot committed together
 * with the applier's new record, pruning snapshots). Everyone else gets READ_ONLY.
 *
 * <p>Owns its head handle: closing the writer closes it. Whoever holds a writer is the replica's
 * only writer; the engine does not count writers, the replicating module keeps one per replica.
 */
public final class ReplicaWriter implements AutoCloseable {
    private final VdiskStore store;
    private final Vdisk head;
    private final String name;

    ReplicaWriter(VdiskStore store, Vdisk head) {
        this.store = store;
        this.head = head;
        this.name = head.info().name();
    }

    /**
     * The replica's head, writable through this handle only (writes, unmaps, write-zeroes). Its
     * {@code resize} goes through the store and is refused like anyone's: use {@link #resize}.
     */
    public Vdisk head() {
        return head;
    }

    /** {@link VdiskStore#rollback}: drops what an interrupted apply wrote since {@code snapName}. */
    public void rollback(String snapName) {
        store.snapshotOps().rollback(name, snapName);
    }

    /** {@link VdiskStore#resize}, for a source vdisk that was resized between two snapshots. */
    public VdiskInfo resize(long newSizeBytes) {
        return store.namespaceOps().resize(name, newSizeBytes);
    }

    /**
     * Takes snapshot {@code snapName} of the head and stores {@code newRecord} as the replica's
     * record in the same fsync'd batch: after a crash either both are there or neither.
     */
    public SnapshotInfo commitSnapshot(String snapName, byte[] newRecord) {
        if (newRecord == null) {
            throw new IllegalArgumentException("replica record for snapshot " + name + "@" + snapName + ": null (expected: bytes)");
        }
        return store.snapshotOps().create(name, snapName, newRecord);
    }

    /** {@link VdiskStore#removeSnapshot}: prunes a mirror snapshot the replica no longer needs. */
    public void removeSnapshot(String snapName) {
        store.snapshotOps().remove(name, snapName);
    }

    @Override
    public void close() {
        head.close();
    }
}
