package io.basalt.vdisk.store;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

import io.basalt.vdisk.frame.BlockFrame;

/**
 * Large aligned writes out of the LSM tree: a write of whole, aligned grains of at least
 * {@link #BYTES_MIN} appends its data to the store's open extent file with one positional write
 * ({@link ExtentFiles#append}), then commits, as any write does, one batch in which each grain's
 * value is an {@link BlockFrame.Kind#EXTENT} pointer (file, offset, length, CRC32C of the data)
 * and its change-index entry. All-zero grains stay {@link BlockFrame.Kind#ZEROS} frames. The
 * fence was checked when the write was admitted, before the append: a fenced writer never
 * appends. Snapshots, clones, diffs and the collector work on keys, so only the value's meaning
 * changes; reads follow the pointer and check the CRC32C ({@link ExtentFiles#read}).
 *
 * <p>Only writes through a {@link Vdisk} handle's I/O path take this path; a replicated log
 * applied through an {@link EntryBatch} (a placement group) keeps the frames in RocksDB, whose
 * checkpoints are what its Raft snapshots copy. Off by default: {@link VdiskStore.Options#extents},
 * or the property {@code basalt.engine.extents=true}, turns it on (docs/decisions/engine-big-writes.md
 * says why it is not on yet); a store reads its extent frames either way.
 */
final class ExtentWrites {
    /** The smallest write that takes the extent path. */
    static final int BYTES_MIN = 64 << 10;
    /** The default of {@link VdiskStore.Options#extents}. */
    static final boolean DEFAULT_ON = Boolean.parseBoolean(System.getProperty("basalt.engine.extents", "false"));

    private ExtentWrites() {}

    /** True when a write of {@code bytes} at {@code lba} of {@code v} takes the extent path. */
    static boolean takes(StoreDb db, VdiskInfo v, long lba, int bytes) {
        int grain = v.grainSizeBytes();
        return db.extents.writable() && bytes >= BYTES_MIN && bytes % grain == 0 && lba * v.blockSizeBytes() % grain == 0;
    }

    /** Submits, through {@code submit}, the plan that writes {@code data} at {@code lba} by the extent path. */
    static CompletableFuture<Void> submit(StoreDb db, long lba, byte[] data,
                                          Function<WritePaths.WritePlan<Void>, CompletableFuture<Void>> submit) {
        Appends appends = new Appends();
        return submit.apply((v, ops) -> {
            dataOps(db, v, lba, data, ops, appends);
            return null;
        }).whenComplete((ok, err) -> appends.release());
    }

    /** The appends one write made; released once its batch is committed or failed. */
    static final class Appends {
        private final List<ExtentFiles.Append> list = new ArrayList<>(1);
        private ExtentFiles files;

        synchronized void add(ExtentFiles f, ExtentFiles.Append a) {
            files = f;
            list.add(a);
        }

        synchronized void release() {
            for (ExtentFiles.Append a : list) {
                files.done(a);
            }
            list.clear();
        }
    }

    /**
     * Appends the non-zero grains of {@code data} (whole grains at grain-aligned {@code lba}) and
     * adds the pointers and change entries to {@code ops}; the caller holds the grains' locks.
     */
    static void dataOps(StoreDb db, VdiskInfo v, long lba, byte[] data, List<GroupCommitter.Op> ops, Appends appends) {
        int grain = v.grainSizeBytes();
        long firstGrain = lba * v.blockSizeBytes() / grain;
        int grains = data.length / grain;
        boolean[] zero = new boolean[grains];
        int dataGrains = 0;
        for (int i = 0; i < grains; i++) {
            zero[i] = BlockFrame.isAllZero(data, i * grain, grain);
            dataGrains += zero[i] ? 0 : 1;
        }
        ExtentFiles.Append at = null;
        if (dataGrains > 0) {
            at = db.extents.append(data, 0, data.length);
            appends.add(db.extents, at);
        }
        byte[] empty = new byte[0];
        for (int i = 0; i < grains; i++) {
            long g = firstGrain + i;
            byte[] frame = zero[i] ? BlockFrame.encode(data, i * grain, grain, false)
                    : BlockFrame.extent(at.fileId(), at.offset() + (long) i * grain, grain, BlockFrame.crc32c(data, i * grain, grain));
            ops.add(new GroupCommitter.Op(db.blocks, Keys.block(v.id(), g, v.headEpoch()), frame));
            ops.add(new GroupCommitter.Op(db.changes, Keys.change(v.id(), v.headEpoch(), g), empty));
        }
    }
}
