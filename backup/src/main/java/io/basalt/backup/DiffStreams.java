package io.basalt.backup;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.LongConsumer;

import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.LbaStatus;
import io.basalt.vdisk.store.Extent;

/**
 * {@code basalt vdisk export-diff} and {@code import-diff}: a {@link DiffStream} of a vdisk between
 * two snapshots (or from the start: every mapped block as data, the rest as zeros, so it makes
 * any vdisk of the size a copy), and applying one to a vdisk that has the from-snapshot, which
 * then gets the to-snapshot.
 */
public final class DiffStreams {
    /** What an export or import moved. */
    public record Result(DiffStream.Header header, long dataBytes, long zeroBytes, long recordCount) {}

    private DiffStreams() {}

    /** Writes the diff of {@code vdisk} from {@code fromSnap} (empty: the start) to {@code toSnap} into {@code file}. */
    public static Result export(VdiskAccess access, String vdisk, Optional<String> fromSnap, String toSnap, Path file, LongConsumer progress) {
        boolean done = false;
        try (BlockDevice device = access.open(vdisk + "@" + toSnap); OutputStream os = Files.newOutputStream(file)) {
            DiffStream.Header h = new DiffStream.Header(fromSnap, toSnap, device.sizeBytes(), device.logicalBlockSizeBytes());
            DiffStream.Writer w = new DiffStream.Writer(os, h);
            List<Extent> extents = fromSnap.isPresent() ? access.diff(vdisk, fromSnap.get(), toSnap) : whole(device);
            long[] totals = new long[3];
            for (Extent e : extents) {
                if (e.data()) {
                    copyData(device, e, w, totals);
                } else {
                    w.zero(e.offsetBytes(), e.lengthBytes());
                    totals[1] += e.lengthBytes();
                    totals[2]++;
                }
                progress.accept(e.offsetBytes() + e.lengthBytes());
            }
            w.finish();
            done = true;
            return new Result(h, totals[0], totals[1], totals[2]);
        } catch (IOException e) {
            throw new BackupException("export-diff to " + file + ": " + e.getMessage(), e);
        } finally {
            if (!done) {
                deleteQuietly(file);
            }
        }
    }

    /** From the start: mapped runs as data, deallocated runs as zeros. */
    private static List<Extent> whole(BlockDevice device) {
        List<Extent> out = new java.util.ArrayList<>();
        int bs = device.logicalBlockSizeBytes();
        long blocks = device.blockCount();
        for (long lba = 0; lba < blocks; ) {
            for (LbaStatus s : device.getLbaStatus(lba, blocks - lba).join()) {
                long end = Math.min(s.lba() + s.blockCount(), blocks);
                out.add(new Extent(s.lba() * bs, (end - s.lba()) * bs, s.provisioning() == LbaStatus.Provisioning.MAPPED));
                lba = end;
            }
        }
        return out;
    }

    /** Reads a data extent in pieces of at most {@link DiffStream#DATA_BYTES_MAX}; a piece of zeros goes out as a zero record. */
    private static void copyData(BlockDevice device, Extent e, DiffStream.Writer w, long[] totals) throws IOException {
        int bs = device.logicalBlockSizeBytes();
        byte[] buf = new byte[DiffStream.DATA_BYTES_MAX];
        for (long pos = e.offsetBytes(); pos < e.offsetBytes() + e.lengthBytes(); ) {
            int n = (int) Math.min(DiffStream.DATA_BYTES_MAX, e.offsetBytes() + e.lengthBytes() - pos);
            ByteBuffer data = device.read(pos / bs, n / bs).join();
            data.get(data.position(), buf, 0, n);
            if (Chunks.isZero(buf, 0, n)) {
                w.zero(pos, n);
                totals[1] += n;
            } else {
                w.data(pos, buf, 0, n);
                totals[0] += n;
            }
            totals[2]++;
            pos += n;
        }
    }

    /**
     * Applies the stream in {@code file} to {@code vdisk}: checks the whole stream's CRC first, then
     * that the vdisk has the from-snapshot (as {@code rbd import-diff}) and not yet the to-snapshot;
     * resizes it to the stream's size, writes, flushes and creates the to-snapshot.
     */
    public static Result importInto(VdiskAccess access, Path file, String vdisk, LongConsumer progress) {
        try {
            DiffStream.Header h = checkWhole(file);
            List<String> snaps = access.snapshots(vdisk);
            if (h.fromSnap().isPresent() && !snaps.contains(h.fromSnap().get())) {
                throw new IllegalArgumentException("import-diff " + file + " into " + vdisk + ": the stream is from snapshot " + h.fromSnap().get()
                        + " (expected: " + vdisk + " to have it; it has " + snaps + ")");
            }
            if (snaps.contains(h.toSnap())) {
                throw new IllegalArgumentException("import-diff " + file + " into " + vdisk + ": it already has snapshot " + h.toSnap()
                        + " (expected: the stream's to-snapshot to be new)");
            }
            long[] totals = new long[3];
            try (InputStream is = Files.newInputStream(file); DiffStream.Reader r = new DiffStream.Reader(is); BlockDevice device = access.open(vdisk)) {
                if (device.logicalBlockSizeBytes() != h.blockSizeBytes()) {
                    throw new IllegalArgumentException("import-diff into " + vdisk + ": " + device.logicalBlockSizeBytes()
                            + "-byte blocks (expected: " + h.blockSizeBytes() + " as the stream)");
                }
                if (device.sizeBytes() != h.sizeBytes()) {
                    device.resize(h.sizeBytes()).join();
                }
                apply(r, device, totals, progress);
                device.flush().join();
            }
            access.createSnapshot(vdisk, h.toSnap());
            return new Result(h, totals[0], totals[1], totals[2]);
        } catch (IOException e) {
            throw new BackupException("import-diff " + file + ": " + e.getMessage(), e);
        }
    }

    private static void apply(DiffStream.Reader r, BlockDevice device, long[] totals, LongConsumer progress) throws IOException {
        int bs = device.logicalBlockSizeBytes();
        for (Optional<DiffStream.Record> next = r.next(); next.isPresent(); next = r.next()) {
            switch (next.get()) {
                case DiffStream.Record.Data d -> {
                    device.write(d.offsetBytes() / bs, d.data(), false).join();
                    totals[0] += d.data().remaining();
                }
                case DiffStream.Record.Zero z -> {
                    device.writeZeroes(z.offsetBytes() / bs, z.lengthBytes() / bs, true).join();
                    totals[1] += z.lengthBytes();
                }
            }
            totals[2]++;
            progress.accept(next.get().offsetBytes());
        }
    }

    /** Reads the stream through once: a truncated or damaged stream is refused before anything is written. */
    static DiffStream.Header checkWhole(Path file) throws IOException {
        try (InputStream is = Files.newInputStream(file); DiffStream.Reader r = new DiffStream.Reader(is)) {
            while (r.next().isPresent()) {
                // each record is checked as it is read; the CRC at the end
            }
            return r.header();
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            // The export's own failure is what is reported.
        }
    }
}
