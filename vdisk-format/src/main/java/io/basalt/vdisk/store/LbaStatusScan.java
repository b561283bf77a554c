package io.basalt.vdisk.store;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

import io.basalt.vdisk.LbaStatus;
import io.basalt.vdisk.frame.BlockFrame;

/**
 * GET LBA STATUS of one {@link VdiskView}: which blocks of a range are mapped and which are
 * deallocated, as runs of equal provisioning. The caller holds the state lock shared.
 */
final class LbaStatusScan {
    private final VdiskView view;
    private final StoreDb db;

    LbaStatusScan(VdiskView view) {
        this.view = view;
        this.db = view.db();
    }

    /**
     * The runs from {@code lba} on, at most {@code blockCountMax} blocks and one scan chunk
     * ({@link VdiskStore#SCAN_CHUNK_GRAINS_MAX} grains) per call: the caller asks again from where
     * this stopped, so a whole-LUN request on a huge vdisk costs bounded memory and time.
     */
    List<LbaStatus> from(long lba, long blockCountMax) {
        int blockSize = view.info().blockSizeBytes();
        long blocks = view.sizeBytes() / blockSize;
        if (lba < 0 || lba >= blocks) {
            throw new IllegalArgumentException("lba: " + lba + " (expected: 0.." + (blocks - 1) + ") vdisk=" + view.name());
        }
        if (blockCountMax <= 0) {
            throw new IllegalArgumentException("blockCountMax: " + blockCountMax + " (expected: > 0) vdisk=" + view.name());
        }
        long chunkBlocks = (long) VdiskStore.SCAN_CHUNK_GRAINS_MAX * blocksPerGrain();
        return scan(lba, Math.min(Math.min(blockCountMax, blocks - lba), chunkBlocks));
    }

    /** The runs of blocks {@code [lba, lba + blockCount)}, {@code blockCount > 0}. */
    private List<LbaStatus> scan(long lba, long blockCount) {
        GrainRange range = GrainRange.ofBlocks(view.info(), lba, blockCount);
        return view.state().isClone() ? throughChain(lba, blockCount, range) : own(lba, blockCount, range);
    }

    /**
     * A vdisk without parents: one iterator walks the range's keys (newest version of each grain
     * first) and reads only the frame header of the first version at or below the read epoch, so
     * a 32 MiB request costs one seek and a merge step per version instead of a seek per grain.
     * Grains without a version are deallocated.
     */
    private List<LbaStatus> own(long lba, long blockCount, GrainRange range) {
        long id = view.state().id;
        long firstGrain = range.firstGrain();
        long lastGrain = range.lastGrain();
        long epoch = view.readEpoch();
        Runs runs = new Runs(lba, blocksPerGrain());
        ByteBuffer header = ByteBuffer.allocateDirect(BlockFrame.HEADER_BYTES);
        byte[] headerBytes = new byte[BlockFrame.HEADER_BYTES];
        long decided = firstGrain - 1;   // grains up to here have their status in runs
        try (RocksIterator it = db.db.newIterator(db.blocks, db.scanReadOptions)) {
            for (it.seek(Keys.grainStart(id, firstGrain)); it.isValid(); it.next()) {
                byte[] key = it.key();
                long g = Keys.blockGrain(key);
                if (Keys.blockVdisk(key) != id || g > lastGrain) {
                    break;
                }
                if (g <= decided || Keys.blockEpoch(key) > epoch) {
                    continue; // an older version of a grain already decided, or one newer than the read epoch
                }
                if (g > decided + 1) {
                    runs.add(decided + 1, false);
                }
                header.clear();
                int frameBytes = it.value(header);
                header.get(0, headerBytes, 0, Math.min(frameBytes, BlockFrame.HEADER_BYTES));
                runs.add(g, frameBytes >= BlockFrame.HEADER_BYTES && BlockFrame.isMapped(headerBytes));
                decided = g;
            }
            try {
                it.status();
            } catch (RocksDBException e) {
                throw StoreErrors.blockDevice("block store read failed reading the status of vdisk " + view.name() + " grains "
                        + firstGrain + ".." + lastGrain, e);
            }
        }
        if (decided < lastGrain) {
            runs.add(decided + 1, false);
        }
        return runs.finish(lba + blockCount);
    }

    /** A clone: grains present at any level of the chain, each located through the chain. */
    private List<LbaStatus> throughChain(long lba, long blockCount, GrainRange range) {
        long firstGrain = range.firstGrain();
        long lastGrain = range.lastGrain();
        Runs runs = new Runs(lba, blocksPerGrain());
        try (ChainReader reader = view.state().reader(db, view.readEpoch())) {
            long[] present = GrainIndex.grainsPresent(db, view.state(), firstGrain, lastGrain);
            int next = 0;
            for (long g = firstGrain; g <= lastGrain; ) {
                if (next < present.length && present[next] == g) {
                    ChainReader.Located loc = reader.locate(g);
                    runs.add(g, loc != null && BlockFrame.isMapped(loc.frame()));
                    next++;
                    g++;
                } else {
                    // Up to the next present grain nothing is stored: deallocated.
                    runs.add(g, false);
                    g = next < present.length ? present[next] : lastGrain + 1;
                }
            }
        }
        return runs.finish(lba + blockCount);
    }

    private int blocksPerGrain() {
        VdiskInfo v = view.info();
        return v.grainSizeBytes() / v.blockSizeBytes();
    }

    /** Builds runs of equal provisioning from grain statuses given in ascending grain order. */
    private static final class Runs {
        private final List<LbaStatus> list = new ArrayList<>();
        private final int blocksPerGrain;
        private long runStart;
        private boolean runMapped;
        private boolean started;

        Runs(long lba, int blocksPerGrain) {
            this.runStart = lba;
            this.blocksPerGrain = blocksPerGrain;
        }

        /** From grain {@code g} on (until the next call) the status is {@code mapped}. */
        void add(long g, boolean mapped) {
            long stepStart = Math.max(runStart, g * blocksPerGrain);
            if (started && mapped != runMapped) {
                list.add(new LbaStatus(runStart, stepStart - runStart, provisioning(runMapped)));
                runStart = stepStart;
            }
            runMapped = mapped;
            started = true;
        }

        List<LbaStatus> finish(long end) {
            list.add(new LbaStatus(runStart, end - runStart, provisioning(runMapped)));
            return list;
        }
    }

    private static LbaStatus.Provisioning provisioning(boolean mapped) {
        return mapped ? LbaStatus.Provisioning.MAPPED : LbaStatus.Provisioning.DEALLOCATED;
    }
}
