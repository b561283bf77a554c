package io.basalt.cluster.meta;

/**
 * A change to the cluster namespace: one meta-group log entry. Time, when it matters, is stamped
 * into the command by the proposer ({@code nowMs}) so that applying it is deterministic.
 */
public sealed interface MetaCommand {

    /** Creates a vdisk; the meta store allocates its cluster-wide id. */
    record CreateVdisk(String name, long sizeBytes, int blockSizeBytes, int grainSizeBytes, long nowMs) implements MetaCommand {}

    /** Removes a vdisk; refused while it has snapshots or clones. */
    record RemoveVdisk(String name) implements MetaCommand {}

    /** Changes a vdisk's recorded size (the PGs change theirs in their own entries). */
    record ResizeVdisk(String name, long newSizeBytes) implements MetaCommand {}

    /** Records a snapshot of a vdisk. */
    record CreateSnapshot(String vdiskName, String snapName, long nowMs) implements MetaCommand {}

    /** Forgets a snapshot; refused while a clone depends on it. */
    record RemoveSnapshot(String vdiskName, String snapName) implements MetaCommand {}

    /** Creates a linked clone of {@code parentName@snapName}. */
    record CloneVdisk(String parentName, String snapName, String childName, long nowMs) implements MetaCommand {}

    /**
     * A change to the lock table (host sessions, locks, fences: {@link io.basalt.lock.LockTable}).
     * Session ids and tokens are the log index of the entry that carries the command.
     */
    record Lock(io.basalt.lock.LockCommand command) implements MetaCommand {
        public Lock {
            if (command == null) {
                throw new IllegalArgumentException("lock command: null");
            }
        }
    }

    /** Records (or moves) node {@code id} in the node registry. */
    record RegisterNode(int id, String host, int port) implements MetaCommand {}

    /** Drops node {@code id} from the registry (idempotent). */
    record UnregisterNode(int id) implements MetaCommand {}

    /** Cuts a clone's link to its parent snapshot, after every PG copied its inherited grains in. */
    record FlattenVdisk(String name) implements MetaCommand {}

    /** Node {@code space.nodeId()} reports its disk space (periodically, and when it crosses its reserve). */
    record ReportSpace(NodeSpace space) implements MetaCommand {}

    /**
     * Marks a rollback of {@code vdiskName} to {@code snapName} as under way, before any
     * placement group rolls back (an earlier unfinished one is replaced: the new one, once
     * finished, makes every PG read as its snapshot).
     */
    record BeginRollback(String vdiskName, String snapName) implements MetaCommand {}

    /** Every placement group rolled back: clears the mark and takes the snapshot's size. */
    record EndRollback(String vdiskName, String snapName) implements MetaCommand {}

    /**
     * Sets the persistent-reservation state of a vdisk's LUN (bytes its iSCSI gateways encode) to
     * {@code state} at version {@code expectedVersion + 1}, if it is at {@code expectedVersion} (0:
     * never set); refused otherwise, so a gateway that read an older state reads again.
     */
    record SetPrState(String vdisk, long expectedVersion, java.nio.ByteBuffer state) implements MetaCommand {
        public SetPrState {
            if (state == null) {
                throw new IllegalArgumentException("pr state: null vdisk=" + vdisk);
            }
            state = state.asReadOnlyBuffer();
        }
    }

    /**
     * Sets config record {@code key} to {@code value} (empty: removes it) at version
     * {@code expectedVersion + 1}, if it is at {@code expectedVersion} (0: absent); refused
     * otherwise, so a writer that read an older record reads again.
     */
    record PutConfig(String key, long expectedVersion, java.util.Optional<java.nio.ByteBuffer> value) implements MetaCommand {
        public PutConfig {
            ConfigRecord.checkKey(key);
            if (value == null) {
                throw new IllegalArgumentException("config value: null key=" + key);
            }
            value = value.map(java.nio.ByteBuffer::asReadOnlyBuffer);
        }
    }
}
