package io.basalt.interop;

import java.nio.ByteBuffer;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;

/**
 * A qcow2 image (version 2 or 3) read cluster by cluster: the L1 table in memory (at most
 * {@value Qcow2Header#L1_BYTES_MAX} bytes, QEMU's own limit), one L2 table and one decompressed
 * cluster cached. Every L2 table is checked when the image is opened, so a bad table fails the
 * import before anything is written; only a damaged compressed cluster can fail it later.
 * Unallocated clusters read from the backing file (qcow2 or raw), or as zeros without one.
 */
public final class Qcow2Source implements ImageSource {
    private static final long L1_OFFSET_MASK = 0x00fffffffffffe00L;
    private static final long L1_RESERVED_MASK = 0x7f000000000001ffL;
    private static final long L2_COPIED = 1L << 63;
    private static final long L2_COMPRESSED = 1L << 62;
    private static final long L2_ZERO = 1L;
    private static final long L2_OFFSET_MASK = 0x00fffffffffffe00L;
    private static final long L2_RESERVED_MASK = 0x3f000000000001feL;
    private static final int SECTOR_BYTES = 512;

    private final FileReads file;
    private final Qcow2Header header;
    private final long[] l1;
    private final ImageSource backing; // null without a backing file
    private final int compressedShift;
    private final long[] l2;
    private long l2Index = -1;
    private final byte[] cluster;
    private long clusterGuestIndex = -1; // the guest cluster decompressed in `cluster`, -1 for none
    private final byte[] compressed;
    private ZstdDecompressCtx zstd; // made on the first zstd cluster: the native library loads only when needed

    private Qcow2Source(FileReads file, Qcow2Header header, long[] l1, ImageSource backing) {
        this.file = file;
        this.header = header;
        this.l1 = l1;
        this.backing = backing;
        this.compressedShift = 62 - (header.clusterBits() - 8);
        this.l2 = new long[header.l2Entries()];
        this.cluster = new byte[header.clusterBytes()];
        // The sector count field can describe up to 2^(cluster_bits - 8) sectors: twice a cluster.
        this.compressed = new byte[2 * header.clusterBytes()];
    }

    static Qcow2Source open(Path path, int depth) {
        FileReads file = FileReads.open(path);
        ImageSource backing = null;
        try {
            Qcow2Header header = readHeader(file);
            long[] l1 = new long[header.l1Size()];
            ByteBuffer l1Bytes = ByteBuffer.allocate(header.l1Size() * 8);
            file.readFully(header.l1TableOffset(), l1Bytes.array(), 0, l1Bytes.capacity(), "l1_table_offset");
            l1Bytes.asLongBuffer().get(l1);
            if (header.backingFile().isPresent()) {
                backing = openBacking(path, header, depth);
            }
            Qcow2Source source = new Qcow2Source(file, header, l1, backing);
            source.checkTables();
            return source;
        } catch (RuntimeException e) {
            if (backing != null) {
                backing.close();
            }
            file.close();
            throw e;
        }
    }

    private static Qcow2Header readHeader(FileReads file) {
        byte[] head = new byte[(int) Math.min(Qcow2Header.V3_HEADER_BYTES_MIN, file.sizeBytes)];
        file.readFully(0, head, 0, head.length, "header");
        int clusterBits = head.length >= 24 ? ByteBuffer.wrap(head).getInt(20) : 0;
        if (clusterBits < Qcow2Header.CLUSTER_BITS_MIN || clusterBits > Qcow2Header.CLUSTER_BITS_MAX) {
            return Qcow2Header.parse(ByteBuffer.wrap(head), file.sizeBytes, file.file.toString()); // names the bad field
        }
        byte[] first = new byte[(int) Math.min(1L << clusterBits, file.sizeBytes)];
        file.readFully(0, first, 0, first.length, "header");
        return Qcow2Header.parse(ByteBuffer.wrap(first), file.sizeBytes, file.file.toString());
    }

    private static ImageSource openBacking(Path path, Qcow2Header header, int depth) {
        String name = header.backingFile().orElseThrow();
        Path parent = path.toAbsolutePath().getParent();
        Path backingPath;
        try {
            backingPath = parent == null ? Path.of(name) : parent.resolve(name);
        } catch (InvalidPathException e) {
            throw new InteropException(path + ": backing file: '" + printable(name) + "' (expected: a path; " + e.getReason() + ")", e);
        }
        Optional<ImageFormat> format = header.backingFormat().map(f -> switch (f) {
            case "qcow2" -> ImageFormat.QCOW2;
            case "raw" -> ImageFormat.RAW;
            default -> throw new InteropException(path + ": backing format: '" + printable(f) + "' (expected: qcow2 or raw)");
        });
        if (!java.nio.file.Files.isRegularFile(backingPath)) {
            throw new InteropException(path + ": backing file: '" + printable(name) + "' (expected: a file; "
                    + printable(backingPath.toString()) + " is not one)");
        }
        return ImageSource.open(backingPath, format.orElse(null), depth + 1);
    }

    /** Names read from the image go into one-line messages: control characters are shown as {@code \\xNN}. */
    static String printable(String text) {
        StringBuilder b = new StringBuilder(text.length());
        text.codePoints().forEach(c -> {
            if (Character.isISOControl(c)) {
                b.append(String.format("\\x%02x", c));
            } else {
                b.appendCodePoint(c);
            }
        });
        return b.toString();
    }

    /** Checks every L1 and L2 entry: aligned, reserved bits clear, tables and clusters inside the file and off the header. */
    private void checkTables() {
        Qcow2Header.Checks c = new Qcow2Header.Checks(file.file.toString());
        for (int i = 0; i < l1.length; i++) {
            long entry = l1[i];
            long offset = entry & L1_OFFSET_MASK;
            c.check((entry & L1_RESERVED_MASK) == 0, "l1_table[" + i + "]", "0x" + Long.toHexString(entry), "reserved bits clear");
            if (offset == 0) {
                continue;
            }
            c.checkTable("l1_table[" + i + "] (an L2 table)", offset, header.clusterBytes(), header.clusterBytes(), header.clusterBytes(), file.sizeBytes);
            c.checkApart("l1_table[" + i + "] (an L2 table)", offset, header.clusterBytes(), "l1_table", header.l1TableOffset(), header.l1Size() * 8L);
            c.checkApart("l1_table[" + i + "] (an L2 table)", offset, header.clusterBytes(), "refcount_table", header.refcountTableOffset(),
                    (long) header.refcountTableClusters() * header.clusterBytes());
            loadL2(i);
            for (int j = 0; j < l2.length; j++) {
                checkL2Entry(c, i, j, l2[j]);
            }
        }
    }

    private void checkL2Entry(Qcow2Header.Checks c, int l1Index, int l2Index, long entry) {
        String field = "l2 entry [" + l1Index + "][" + l2Index + "]";
        if ((entry & L2_COMPRESSED) != 0) {
            long offset = entry & ((1L << compressedShift) - 1);
            c.check((entry & L2_COPIED) == 0, field, "0x" + Long.toHexString(entry), "bit 63 clear on a compressed cluster");
            c.check(offset >= header.clusterBytes() && offset < file.sizeBytes, field + " compressed offset", offset,
                    "after the header cluster and inside the file's " + file.sizeBytes + " bytes");
            return;
        }
        long offset = entry & L2_OFFSET_MASK;
        c.check((entry & L2_RESERVED_MASK) == 0, field, "0x" + Long.toHexString(entry), "reserved bits clear");
        c.check((entry & L2_ZERO) == 0 || header.version() >= 3, field, "0x" + Long.toHexString(entry), "bit 0 (zero cluster) clear in a version 2 image");
        if ((entry & L2_ZERO) != 0 || offset == 0) {
            return;
        }
        c.check(offset % header.clusterBytes() == 0, field + " offset", offset, "a multiple of the cluster size " + header.clusterBytes());
        c.check(offset >= header.clusterBytes() && offset < file.sizeBytes, field + " offset", offset,
                "after the header cluster and inside the file's " + file.sizeBytes + " bytes");
    }

    private void loadL2(long l1Index) {
        if (l2Index == l1Index) {
            return;
        }
        byte[] raw = new byte[header.clusterBytes()];
        file.readFully(l1[(int) l1Index] & L1_OFFSET_MASK, raw, 0, raw.length, "l1_table[" + l1Index + "]");
        ByteBuffer.wrap(raw).asLongBuffer().get(l2);
        l2Index = l1Index;
    }

    @Override
    public long sizeBytes() {
        return header.sizeBytes();
    }

    @Override
    public void read(long offsetBytes, byte[] dst, int dstOffset, int length) {
        if (offsetBytes < 0 || length < 0 || offsetBytes > header.sizeBytes() - length) {
            throw new IllegalArgumentException("read: " + length + " bytes at " + offsetBytes + " (expected: within " + header.sizeBytes() + " bytes)");
        }
        int done = 0;
        while (done < length) {
            long pos = offsetBytes + done;
            int inCluster = (int) (pos & (header.clusterBytes() - 1));
            int n = Math.min(length - done, header.clusterBytes() - inCluster);
            readInCluster(pos >>> header.clusterBits(), inCluster, dst, dstOffset + done, n);
            done += n;
        }
    }

    private void readInCluster(long guestCluster, int inCluster, byte[] dst, int dstOffset, int length) {
        long l1Index = guestCluster / header.l2Entries();
        long entry = 0;
        if ((l1[(int) l1Index] & L1_OFFSET_MASK) != 0) {
            loadL2(l1Index);
            entry = l2[(int) (guestCluster % header.l2Entries())];
        }
        long guestOffset = (guestCluster << header.clusterBits()) + inCluster;
        if ((entry & L2_COMPRESSED) != 0) {
            decompress(guestCluster, entry);
            System.arraycopy(cluster, inCluster, dst, dstOffset, length);
        } else if ((entry & L2_ZERO) != 0) {
            Arrays.fill(dst, dstOffset, dstOffset + length, (byte) 0);
        } else if ((entry & L2_OFFSET_MASK) != 0) {
            int n = file.readUpTo((entry & L2_OFFSET_MASK) + inCluster, dst, dstOffset, length);
            Arrays.fill(dst, dstOffset + n, dstOffset + length, (byte) 0); // QEMU reads past the end of the file as zeros
        } else {
            readBacking(guestOffset, dst, dstOffset, length);
        }
    }

    private void readBacking(long offset, byte[] dst, int dstOffset, int length) {
        int fromBacking = backing == null ? 0 : (int) Math.max(0, Math.min(length, backing.sizeBytes() - offset));
        if (fromBacking > 0) {
            backing.read(offset, dst, dstOffset, fromBacking);
        }
        Arrays.fill(dst, dstOffset + fromBacking, dstOffset + length, (byte) 0);
    }

    private void decompress(long guestCluster, long entry) {
        if (clusterGuestIndex == guestCluster) {
            return;
        }
        clusterGuestIndex = -1;
        long offset = entry & ((1L << compressedShift) - 1);
        long sectors = ((entry & ~(L2_COMPRESSED | L2_COPIED)) >>> compressedShift) + 1;
        int bytes = (int) (sectors * SECTOR_BYTES - (offset & (SECTOR_BYTES - 1)));
        int n = file.readUpTo(offset, compressed, 0, bytes);
        Arrays.fill(compressed, n, bytes, (byte) 0);
        String where = file.file + ": compressed cluster at guest offset " + (guestCluster << header.clusterBits());
        int produced = header.compressionType() == Qcow2Header.COMPRESSION_ZSTD ? zstd(bytes, where) : inflate(bytes, where);
        if (produced != cluster.length) {
            throw new InteropException(where + ": decompressed size: " + produced + " bytes (expected: " + cluster.length + ")");
        }
        clusterGuestIndex = guestCluster;
    }

    private int inflate(int bytes, String where) {
        Inflater inflater = new Inflater(true); // raw deflate: qcow2 clusters carry no zlib header
        try {
            inflater.setInput(compressed, 0, bytes);
            int produced = 0;
            while (produced < cluster.length) {
                int n = inflater.inflate(cluster, produced, cluster.length - produced);
                if (n == 0) {
                    break; // finished early, or out of input: the size check below says so
                }
                produced += n;
            }
            return produced;
        } catch (DataFormatException e) {
            throw new InteropException(where + ": deflate data: " + e.getMessage(), e);
        } finally {
            inflater.end();
        }
    }

    private int zstd(int bytes, String where) {
        if (zstd == null) {
            zstd = new ZstdDecompressCtx();
        }
        ByteBuffer src = ByteBuffer.allocateDirect(bytes).put(compressed, 0, bytes).flip();
        ByteBuffer dst = ByteBuffer.allocateDirect(cluster.length);
        try {
            zstd.reset();
            // Like QEMU: decode until the cluster is full; what follows it in the last sector is ignored.
            while (dst.hasRemaining()) {
                int in = src.position();
                int out = dst.position();
                zstd.decompressDirectByteBufferStream(dst, src);
                if (src.position() == in && dst.position() == out) {
                    break;
                }
            }
        } catch (ZstdException e) {
            throw new InteropException(where + ": zstd data: " + e.getMessage(), e);
        }
        int produced = dst.position();
        dst.flip().get(cluster, 0, produced);
        return produced;
    }

    @Override
    public String description() {
        String compression = header.compressionType() == Qcow2Header.COMPRESSION_ZSTD ? "zstd" : "deflate";
        return "qcow2 v" + header.version() + ", " + header.clusterBytes() / 1024 + " KiB clusters, " + compression
                + header.backingFile().map(b -> ", backing " + b + " (" + backing.description() + ")").orElse("");
    }

    @Override
    public void close() {
        try {
            if (zstd != null) {
                zstd.close();
            }
            if (backing != null) {
                backing.close();
            }
        } finally {
            file.close();
        }
    }
}
