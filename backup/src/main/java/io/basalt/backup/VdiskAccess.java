package io.basalt.backup;

import java.util.List;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.Extent;

/**
 * What backups and diff streams need of a datastore: the embedded store or a cluster, behind the
 * same calls (the node adapts its {@code Datastore} to this). Names are vdisk names; a snapshot
 * is opened as {@code NAME@SNAP}.
 */
public interface VdiskAccess {
    /** A vdisk as backups see it; {@code id} tells a vdisk from a later one of the same name. */
    record Vdisk(long id, String name, long sizeBytes, int blockSizeBytes, int grainSizeBytes) {}

    Vdisk info(String name);

    boolean exists(String name);

    Vdisk create(String name, long sizeBytes, int blockSizeBytes, int grainSizeBytes);

    void remove(String name);

    /** The vdisk's snapshot names, oldest first. */
    List<String> snapshots(String vdisk);

    void createSnapshot(String vdisk, String snap);

    void removeSnapshot(String vdisk, String snap);

    /** Extents changed after {@code fromSnap} up to {@code toSnap} (both snapshots of {@code vdisk}). */
    List<Extent> diff(String vdisk, String fromSnap, String toSnap);

    /** {@code NAME} (the head) or {@code NAME@SNAP} (read-only). */
    BlockDevice open(String spec);
}
