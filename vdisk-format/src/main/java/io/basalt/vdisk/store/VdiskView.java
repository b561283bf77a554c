package io.basalt.vdisk.store;

import java.util.Optional;

/**
 * What one {@link Vdisk} handle looks at: a vdisk's shared state in a store, read at its head
 * or at one of its snapshots.
 *
 * @param name the vdisk's name, with {@code @snapshot} for a snapshot: for messages
 */
record VdiskView(StoreDb db, VdiskState state, Optional<SnapshotInfo> snapshot, String name) {
    /** The epoch reads see: the snapshot's, or the head's as of now. */
    long readEpoch() {
        return snapshot.map(SnapshotInfo::epoch).orElseGet(() -> state.info().headEpoch());
    }

    /** The size seen: the snapshot's, or the head's as of now. */
    long sizeBytes() {
        return snapshot.map(SnapshotInfo::sizeBytes).orElseGet(() -> state.info().sizeBytes());
    }

    VdiskInfo info() {
        return state.info();
    }
}
