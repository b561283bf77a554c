package io.basalt.replication;

import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import io.basalt.replication.stream.MirrorException;
import io.basalt.replication.stream.MirrorException.Reason;
import io.basalt.replication.stream.MirrorFrame;
import io.basalt.replication.stream.MirrorExtent;
import io.basalt.replication.stream.MirrorStreamReader;
import io.basalt.vdisk.store.SnapshotInfo;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.VdiskStore;

/**
 * The secondary side: applies a mirror stream to a read-only replica in this site's store, and
 * only once the end frame checked out takes the stream's snapshot there, together with the
 * replica's new {@link ReplicaRecord} in one batch. So a replica always holds complete snapshots
 * only: a stream refused or cut anywhere leaves its last complete snapshot as it was (its head
 * may hold part of the refused stream; no snapshot ever shows it).
 *
 * <p>Applying again is always safe. Before it writes, an apply makes the replica's head read as
 * its last complete snapshot again (an engine rollback, O(what an earlier, interrupted apply
 * wrote)), or, when no sync ever completed, recreates the replica empty; the stream's extents then
 * cover every byte that differs between its two snapshots. A stream whose snapshot the replica
 * already holds is recognised by its round and snapshot name and refused as ALREADY_APPLIED
 * before anything is written (docs/decisions/mirror-streams-and-replicas.md).
 *
 * <p>One receiver applies one stream at a time per replica; the caller (the link to the peer)
 * keeps it that way.
 */
public final class MirrorReceiver {
    /** Writes to the replica in flight at once: enough to keep the engine's pool busy, bounded. */
    static final int WRITES_INFLIGHT_MAX = 32;

    /** What one applied stream brought. */
    public record Result(MirrorFrame.Header header, MirrorFrame.End end, long streamBytes, SnapshotInfo snapshot) {}

    private final MirrorStore store;

    public MirrorReceiver(VdiskStore store) {
        this(MirrorStore.of(store));
    }

    public MirrorReceiver(MirrorStore store) {
        this.store = store;
    }

    /**
     * Reads one stream from {@code in} and applies it to replica {@code replicaName} (created,
     * read-only, by a first full sync).
     *
     * @throws MirrorException refused (the reason and the bad value named); the replica is left at its last complete snapshot
     */
    public Result receive(InputStream in, String replicaName) {
        MirrorStreamReader reader = new MirrorStreamReader(in);
        MirrorFrame.Header h = reader.header();
        ReplicaRecord record = admit(h, replicaName);
        try (MirrorStore.Writer writer = prepare(h, record)) {
            apply(reader, writer.head());
            SnapshotInfo snap = writer.commitSnapshot(h.toSnapshot(), record.completed(h).encode());
            return new Result(h, reader.end(), reader.streamBytes(), snap);
        }
    }

    /**
     * Checks, writing nothing, that the stream {@code h} heads may be applied to replica
     * {@code replicaName} now: what {@link #receive} checks before it writes. The network link
     * asks this before it takes the stream's bytes, so a replay is refused before it is sent.
     *
     * @throws MirrorException refused (ALREADY_APPLIED, STALE, WRONG_BASE, WRONG_SOURCE, GEOMETRY), naming why
     */
    public void check(MirrorFrame.Header h, String replicaName) {
        admit(h, replicaName);
    }

    /** The replica's record when {@code h} may be applied to it; refuses naming why when not. */
    private ReplicaRecord admit(MirrorFrame.Header h, String replicaName) {
        if (!h.vdiskName().equals(replicaName)) {
            throw new MirrorException(Reason.WRONG_SOURCE, "stream " + h.streamId() + " is for vdisk " + h.vdiskName() + " of site "
                    + h.sourceSite() + " (expected: " + replicaName + ")");
        }
        String name = h.vdiskName();
        if (!store.exists(name)) {
            checkBase(h, ReplicaRecord.fresh(h.sourceSite(), h.sourceVdiskId()));
            return ReplicaRecord.fresh(h.sourceSite(), h.sourceVdiskId());
        }
        byte[] stored = store.replicaRecord(name).orElseThrow(() -> new MirrorException(Reason.WRONG_SOURCE,
                "vdisk " + name + " exists here and is not a replica; stream " + h.streamId() + " from site " + h.sourceSite() + " refused"));
        ReplicaRecord r = ReplicaRecord.decode(name, stored);
        if (!r.sourceSite().equals(h.sourceSite()) || r.sourceVdiskId() != h.sourceVdiskId()) {
            throw new MirrorException(Reason.WRONG_SOURCE, "stream " + h.streamId() + " is for vdisk " + name + " id " + h.sourceVdiskId()
                    + " of site " + h.sourceSite() + " (expected: id " + r.sourceVdiskId() + " of site " + r.sourceSite() + ", which replica " + name + " mirrors)");
        }
        if (r.lastSequence() == h.sequence() && r.lastSnapshot().equals(Optional.of(h.toSnapshot()))) {
            throw new MirrorException(Reason.ALREADY_APPLIED, "stream " + h.streamId() + ": replica " + name + " already holds snapshot "
                    + h.toSnapshot() + " (round " + h.sequence() + ", applied by stream " + r.lastStreamId().orElseThrow() + ")");
        }
        if (h.sequence() <= r.lastSequence()) {
            throw new MirrorException(Reason.STALE, "stream " + h.streamId() + " round: " + h.sequence() + " (" + h.toSnapshot()
                    + ") (expected: > " + r.lastSequence() + ", replica " + name + " holds " + r.lastSnapshot().orElseThrow() + ")");
        }
        checkBase(h, r);
        MirrorStore.Shape v = store.info(name);
        if (v.blockSizeBytes() != h.blockSizeBytes() || v.grainSizeBytes() != h.grainSizeBytes()) {
            throw new MirrorException(Reason.GEOMETRY, "stream " + h.streamId() + " block/grain size: " + h.blockSizeBytes() + "/"
                    + h.grainSizeBytes() + " (expected: " + v.blockSizeBytes() + "/" + v.grainSizeBytes() + ", replica " + name + ")");
        }
        return r;
    }

    private static void checkBase(MirrorFrame.Header h, ReplicaRecord r) {
        if (!Objects.equals(h.fromSnapshot(), r.lastSnapshot())) {
            throw new MirrorException(Reason.WRONG_BASE, "stream " + h.streamId() + " from-snapshot: "
                    + h.fromSnapshot().orElse("(none: a full sync)") + " (expected: " + r.lastSnapshot().orElse("(none: a full sync)")
                    + ", the last complete mirror snapshot of replica " + h.vdiskName() + ")");
        }
    }

    /**
     * Opens the replica's writer with its head at its last complete snapshot (or empty, created
     * when missing) and its size the stream's.
     */
    private MirrorStore.Writer prepare(MirrorFrame.Header h, ReplicaRecord record) {
        String name = h.vdiskName();
        if (record.lastSnapshot().isEmpty()) {
            if (store.exists(name)) {
                // A first sync that never completed: drop what it wrote (it has no snapshot to roll back to).
                // The removal takes the replica mark with it, and the creation brings it back in one batch.
                store.remove(name);
            }
            store.createReplica(name, h.sizeBytes(), h.blockSizeBytes(), h.grainSizeBytes(), record.encode());
        }
        MirrorStore.Writer writer = store.openReplicaWriter(name);
        try {
            removeUncommitted(writer, name, record);
            record.lastSnapshot().ifPresent(writer::rollback);
            resize(writer, h);
            return writer;
        } catch (RuntimeException e) {
            writer.close();
            throw e;
        }
    }

    /**
     * Removes the replica's mirror snapshots of a round above its record's: where a store commits
     * the snapshot and then the record (a cluster), a crash between leaves one, which the record
     * does not count as complete and the stream about to be applied will take again.
     */
    private void removeUncommitted(MirrorStore.Writer writer, String name, ReplicaRecord record) {
        for (var s : store.snapshots(name).reversed()) {
            OptionalLong round = MirrorSnapshots.sequenceOf(s.name());
            if (round.isPresent() && round.getAsLong() > record.lastSequence()) {
                writer.removeSnapshot(s.name());
            }
        }
    }

    /** Grows, or unmaps the tail and shrinks, to the stream's size. */
    private static void resize(MirrorStore.Writer writer, MirrorFrame.Header h) {
        BlockDevice head = writer.head();
        long size = head.sizeBytes();
        if (h.sizeBytes() < size) {
            int block = h.blockSizeBytes();
            head.writeZeroes(h.sizeBytes() / block, (size - h.sizeBytes()) / block, true).join();
        }
        if (h.sizeBytes() != size) {
            writer.resize(h.sizeBytes());
        }
    }

    /** Writes every data frame's extents to the head, at most {@link #WRITES_INFLIGHT_MAX} at once, all done and flushed on return. */
    private static void apply(MirrorStreamReader reader, BlockDevice head) {
        int block = head.logicalBlockSizeBytes();
        ArrayDeque<CompletableFuture<Void>> inflight = new ArrayDeque<>();
        try {
            for (MirrorFrame.Data d = reader.next(); d != null; d = reader.next()) {
                for (MirrorExtent e : d.extents()) {
                    while (inflight.size() >= WRITES_INFLIGHT_MAX) {
                        inflight.removeFirst().join();
                    }
                    long lba = e.offsetBytes() / block;
                    inflight.addLast(e.data().map(bytes -> head.write(lba, bytes, false))
                            .orElseGet(() -> head.writeZeroes(lba, e.lengthBytes() / block, true)));
                }
            }
            while (!inflight.isEmpty()) {
                inflight.removeFirst().join();
            }
            head.flush().join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        } finally {
            // A refused stream still waits for its writes: the writer closes only once none is in flight.
            inflight.forEach(f -> f.exceptionally(t -> null).join());
        }
    }
}
