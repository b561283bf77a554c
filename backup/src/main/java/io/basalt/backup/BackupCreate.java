package io.basalt.backup;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.LongConsumer;

import io.basalt.vdisk.BlockDevice;

/**
 * {@code basalt backup create}: snapshots the vdisk, reads what changed since the backup before
 * (the engine's diff between that backup's snapshot and the new one) or, for the first, every
 * chunk holding mapped blocks, and stores each chunk not yet in the repository. Chunks nobody
 * changed are taken from the parent manifest without reading them.
 *
 * <p>The vdisk keeps one backup snapshot per repository: the newest, the diff base of the next
 * backup. Older ones this repository's backups made are removed once the new manifest is in place;
 * a failed backup removes its own snapshot and leaves the repository as it was (plus perhaps a
 * pack nothing uses yet).
 */
public final class BackupCreate {
    static final String SNAPSHOT_PREFIX = "backup-";
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmssSSS'Z'").withZone(ZoneOffset.UTC);

    /** What a backup did: bytes read from the vdisk, new chunks and their stored bytes, older snapshots removed. */
    public record Result(Manifest manifest, long readBytes, long chunkCountRead, long newChunkCount, long newStoredBytes,
                         List<String> removedSnapshots, Duration elapsed) {
        /** Bytes read per byte stored: deduplication and compression together (infinite when nothing new was stored). */
        public double reductionRatio() {
            return newStoredBytes == 0 ? Double.POSITIVE_INFINITY : (double) readBytes / newStoredBytes;
        }
    }

    private BackupCreate() {}

    /**
     * Backs {@code vdisk} up into {@code repo} at {@code now}; {@code progress} hears the bytes of
     * chunks handled so far, {@code plannedBytes} first the bytes it will read.
     */
    public static Result create(Repository repo, VdiskAccess access, String vdisk, Instant now, LongConsumer plannedBytes, LongConsumer progress) {
        String snap = snapshotName(now);
        access.createSnapshot(vdisk, snap);
        return create(repo, access, vdisk, snap, true, now, plannedBytes, progress);
    }

    /** The name of the snapshot a backup taken at {@code now} takes ({@code backup-yyyyMMddTHHmmssSSSZ}). */
    public static String snapshotName(Instant now) {
        return SNAPSHOT_PREFIX + STAMP.format(now);
    }

    /**
     * Backs snapshot {@code vdisk@snap} up into {@code repo}. {@code owned}: the backup took it
     * (named {@link #snapshotName}), so a failed backup removes it and a backup in place removes
     * this repository's earlier backup snapshots of the vdisk; otherwise it is the operator's
     * snapshot, which the backup neither removes nor lets go of any other. The diff base is the
     * newest earlier backup of the vdisk whose snapshot is older than {@code snap} and still there.
     */
    public static Result create(Repository repo, VdiskAccess access, String vdisk, String snap, boolean owned, Instant now,
                                LongConsumer plannedBytes, LongConsumer progress) {
        long start = System.nanoTime();
        boolean done = false;
        try {
            VdiskAccess.Vdisk v = access.info(vdisk);
            String id = vdisk + "-" + STAMP.format(now);
            Optional<Manifest> parent = parent(repo, access, v, snap);
            Result r = backUp(repo, access, v, snap, id, now, parent, plannedBytes, progress, start);
            done = true;
            return owned ? withRemovedSnapshots(r, removeOlderSnapshots(repo, access, v, snap)) : r;
        } finally {
            if (!done && owned) {
                access.removeSnapshot(vdisk, snap);
            }
        }
    }

    /**
     * The newest backup of this very vdisk (same id) whose snapshot it still has and is older than
     * {@code snap}: the diff base.
     */
    static Optional<Manifest> parent(Repository repo, VdiskAccess access, VdiskAccess.Vdisk v, String snap) {
        List<String> snaps = access.snapshots(v.name());
        int at = snaps.indexOf(snap);
        if (at < 0) {
            throw new IllegalArgumentException("snapshot: " + v.name() + "@" + snap + " (expected: one of " + snaps + ")");
        }
        List<String> older = snaps.subList(0, at);
        List<Manifest> mine = repo.manifests().stream()
                .filter(m -> m.vdisk().equals(v.name()) && m.vdiskId() == v.id() && m.chunkBytes() == repo.chunkBytes()).toList();
        for (int i = mine.size() - 1; i >= 0; i--) {
            if (older.contains(mine.get(i).snapshot())) {
                return Optional.of(mine.get(i));
            }
        }
        return Optional.empty();
    }

    private static Result backUp(Repository repo, VdiskAccess access, VdiskAccess.Vdisk v, String snap, String id, Instant now,
                                 Optional<Manifest> parent, LongConsumer plannedBytes, LongConsumer progress, long start) {
        int chunkBytes = repo.chunkBytes();
        TreeMap<Long, String> chunks = new TreeMap<>();
        long[] counts = new long[3]; // chunks read, new chunks, bytes handled
        try (BlockDevice device = access.open(v.name() + "@" + snap); PackWriter writer = repo.packWriter()) {
            long size = device.sizeBytes();
            long chunkCount = (size + chunkBytes - 1) / chunkBytes;
            ChunkRuns toRead = toRead(access, v.name(), snap, device, parent, chunkBytes, chunkCount);
            plannedBytes.accept(Math.min(toRead.chunkCount() * chunkBytes, size));
            parent.ifPresent(p -> p.chunks().stream()
                    .filter(c -> c.offsetBytes() < size && !toRead.contains(c.offsetBytes() / chunkBytes))
                    .forEach(c -> chunks.put(c.offsetBytes(), c.hash())));
            long readBytes = ChunkReader.read(device, toRead, chunkBytes, (offset, data, length) -> {
                for (Encoded e : encode(writer, data, length, chunkBytes)) {
                    counts[0]++;
                    if (e != null && e.hash() != null) {
                        if (writer.addEncoded(e.hash(), e.record()) > 0) {
                            counts[1]++;
                        }
                        chunks.put(offset + e.at(), e.hash());
                    }
                }
                counts[2] += length;
                progress.accept(counts[2]);
            });
            writer.finish(); // every new chunk durable before the manifest that names it
            Manifest m = new Manifest(id, v.name(), v.id(), snap, parent.map(Manifest::id), now, size, device.logicalBlockSizeBytes(),
                    v.grainSizeBytes(), chunkBytes, readBytes, writer.storedBytes(),
                    chunks.entrySet().stream().map(e -> new Manifest.ChunkRef(e.getKey(), e.getValue())).toList());
            repo.writeManifest(m);
            return new Result(m, readBytes, counts[0], counts[1], writer.storedBytes(), List.of(), Duration.ofNanos(System.nanoTime() - start));
        }
    }

    /** A chunk of a batch: its place in the batch, its hash (null: all zeros, a hole), its pack record (null: stored already). */
    private record Encoded(int at, String hash, byte[] record) {}

    /**
     * Hashes the batch's chunks and compresses those the repository lacks, on every core: SHA-256
     * and LZ4 are the cost of a backup, and chunks are independent. Nothing is added to the
     * repository here; the caller adds the records in order.
     */
    private static Encoded[] encode(PackWriter writer, byte[] data, int length, int chunkBytes) {
        int count = (length + chunkBytes - 1) / chunkBytes;
        Encoded[] out = new Encoded[count];
        java.util.stream.IntStream.range(0, count).parallel().forEach(i -> {
            int at = i * chunkBytes;
            int n = Math.min(chunkBytes, length - at);
            if (Chunks.isZero(data, at, n)) {
                out[i] = new Encoded(at, null, null);
                return;
            }
            String hash = Chunks.hash(data, at, n);
            out[i] = new Encoded(at, hash, writer.has(hash) ? null : Chunks.encode(hash, data, at, n));
        });
        return out;
    }

    /** An incremental reads the chunks the diff touches (and the old last chunk if the size changed); a full one every mapped chunk. */
    private static ChunkRuns toRead(VdiskAccess access, String vdisk, String snap, BlockDevice device, Optional<Manifest> parent,
                                    int chunkBytes, long chunkCount) {
        if (parent.isEmpty()) {
            return ChunkRuns.ofMapped(device, chunkBytes);
        }
        Manifest p = parent.get();
        long resizedEdge = p.sizeBytes() == device.sizeBytes() ? -1 : Math.min(p.sizeBytes(), device.sizeBytes()) / chunkBytes;
        return ChunkRuns.ofExtents(access.diff(vdisk, p.snapshot(), snap), resizedEdge, chunkBytes, chunkCount);
    }

    /**
     * Removes the snapshots of this repository's earlier backups of {@code v} that backups took
     * ({@value #SNAPSHOT_PREFIX}...): the new one is the next diff base. An operator's snapshot a
     * backup was made of ({@code backup create VDISK@SNAP}) stays.
     */
    private static List<String> removeOlderSnapshots(Repository repo, VdiskAccess access, VdiskAccess.Vdisk v, String keep) {
        List<String> snaps = access.snapshots(v.name());
        List<String> removed = new ArrayList<>();
        for (Manifest m : repo.manifests()) {
            if (m.vdisk().equals(v.name()) && m.vdiskId() == v.id() && !m.snapshot().equals(keep) && snaps.contains(m.snapshot())
                    && m.snapshot().startsWith(SNAPSHOT_PREFIX)
                    && !removed.contains(m.snapshot())) {
                try {
                    access.removeSnapshot(v.name(), m.snapshot());
                    removed.add(m.snapshot());
                } catch (RuntimeException e) {
                    // The backup is in place; an old base that cannot go (a clone was made of it) only costs space. Kept.
                    removed.add(m.snapshot() + " (kept: " + e.getMessage() + ")");
                }
            }
        }
        return removed;
    }

    private static Result withRemovedSnapshots(Result r, List<String> removed) {
        return new Result(r.manifest(), r.readBytes(), r.chunkCountRead(), r.newChunkCount(), r.newStoredBytes(), List.copyOf(removed), r.elapsed());
    }
}
