package io.basalt.interop;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.Arrays;
import java.util.zip.Deflater;

/**
 * Writes a qcow2 version 3 image in one pass, clusters handed in ascending guest order: header
 * and L1 table first, then for each L2 range that has data its L2 table followed by its data
 * clusters, then the refcount table and blocks. Clusters never handed in stay unallocated (they
 * read as zeros). With compression each cluster is deflated (raw, as QEMU writes them) and packed
 * byte by byte; one that would not shrink is stored as is.
 *
 * <p>Memory: the L1 table (8 bytes per 512 MiB of disk), one L2 table, and 2 bytes of refcount per
 * host cluster written (32 MiB per TiB of image), because a compressed cluster can share a host
 * cluster with its neighbours and the refcounts are known only at the end.
 */
final class Qcow2Writer implements AutoCloseable {
    static final int CLUSTER_BITS = 16;
    static final int CLUSTER_BYTES = 1 << CLUSTER_BITS;
    static final int L2_ENTRIES = CLUSTER_BYTES / 8;
    static final int HEADER_BYTES = 112;
    static final int REFCOUNT_ORDER = 4; // 16-bit refcounts, QEMU's default
    static final int REFCOUNT_BLOCK_ENTRIES = CLUSTER_BYTES * 8 / (1 << REFCOUNT_ORDER);
    private static final long COPIED = 1L << 63;
    private static final long COMPRESSED = 1L << 62;
    private static final int COMPRESSED_SHIFT = 62 - (CLUSTER_BITS - 8);
    private static final int SECTOR_BYTES = 512;

    private final FileChannel channel;
    private final long sizeBytes;
    private final boolean compress;
    private final long[] l1;
    private final long[] l2 = new long[L2_ENTRIES];
    private int l2Index = -1;
    private long l2Offset;
    private long cursor; // next free byte of the file
    private char[] refcounts = new char[1024]; // per host cluster; char is an unsigned 16-bit count
    private final Deflater deflater = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
    private final byte[] clusterBuf = new byte[CLUSTER_BYTES];
    private final byte[] deflated = new byte[CLUSTER_BYTES];
    long dataClusterCount;
    long compressedClusterCount;

    Qcow2Writer(FileChannel channel, long sizeBytes, boolean compress) {
        this.channel = channel;
        this.sizeBytes = sizeBytes;
        this.compress = compress;
        long span = (long) L2_ENTRIES * CLUSTER_BYTES;
        this.l1 = new long[Math.toIntExact((sizeBytes + span - 1) / span)];
        long l1Clusters = Math.max(1, ((long) l1.length * 8 + CLUSTER_BYTES - 1) / CLUSTER_BYTES);
        this.cursor = (1 + l1Clusters) * CLUSTER_BYTES;
        addRefcounts(0, cursor);
    }

    /** Adds the cluster at {@code offsetBytes} (a multiple of the cluster size, above the last one added). */
    void cluster(long offsetBytes, byte[] data, int at, int length) {
        long guestCluster = offsetBytes >>> CLUSTER_BITS;
        int index = (int) (guestCluster / L2_ENTRIES);
        if (index != l2Index) {
            if (index < l2Index) {
                throw new IllegalStateException("cluster at " + offsetBytes + ": L2 range " + index + " (expected: >= " + l2Index + ")");
            }
            flushL2();
            l2Index = index;
            l2Offset = allocateCluster();
        }
        Arrays.fill(clusterBuf, length, CLUSTER_BYTES, (byte) 0);
        System.arraycopy(data, at, clusterBuf, 0, length);
        int deflatedBytes = compress ? deflate() : -1;
        long entry;
        if (deflatedBytes > 0) {
            long offset = cursor;
            write(offset, deflated, deflatedBytes);
            cursor += deflatedBytes;
            addRefcounts(offset, cursor);
            long extraSectors = (offset + deflatedBytes - 1) / SECTOR_BYTES - offset / SECTOR_BYTES;
            entry = COMPRESSED | extraSectors << COMPRESSED_SHIFT | offset;
            compressedClusterCount++;
        } else {
            long offset = allocateCluster();
            write(offset, clusterBuf, CLUSTER_BYTES);
            entry = COPIED | offset;
        }
        l2[(int) (guestCluster % L2_ENTRIES)] = entry;
        dataClusterCount++;
    }

    /** Deflates {@code clusterBuf}; returns the compressed length, or -1 when it would not be smaller than a cluster. */
    private int deflate() {
        deflater.reset();
        deflater.setInput(clusterBuf);
        deflater.finish();
        int n = deflater.deflate(deflated, 0, deflated.length);
        return deflater.finished() && n < CLUSTER_BYTES ? n : -1;
    }

    private long allocateCluster() {
        long offset = (cursor + CLUSTER_BYTES - 1) / CLUSTER_BYTES * CLUSTER_BYTES;
        cursor = offset + CLUSTER_BYTES;
        addRefcounts(offset, cursor);
        return offset;
    }

    private void addRefcounts(long from, long to) {
        for (long c = from / CLUSTER_BYTES; c <= (to - 1) / CLUSTER_BYTES; c++) {
            if (c >= refcounts.length) {
                refcounts = Arrays.copyOf(refcounts, Math.toIntExact(Math.max(c + 1, 2L * refcounts.length)));
            }
            if (refcounts[(int) c] == Character.MAX_VALUE) {
                throw new IllegalStateException("refcount of host cluster " + c + ": overflow (expected: < 65535)");
            }
            refcounts[(int) c]++;
        }
    }

    private void flushL2() {
        if (l2Index < 0) {
            return;
        }
        ByteBuffer table = ByteBuffer.allocate(CLUSTER_BYTES);
        table.asLongBuffer().put(l2);
        write(l2Offset, table.array(), CLUSTER_BYTES);
        l1[l2Index] = COPIED | l2Offset;
        Arrays.fill(l2, 0);
    }

    /** Writes the last L2 table, the refcount structures, the L1 table and the header; returns the file's size. */
    long finish() {
        flushL2();
        long dataClusters = (cursor + CLUSTER_BYTES - 1) / CLUSTER_BYTES;
        // The refcount blocks count themselves and the table: grow both until they cover everything.
        long tableClusters = 1;
        long blocks = 1;
        while (true) {
            long total = dataClusters + tableClusters + blocks;
            long needBlocks = (total + REFCOUNT_BLOCK_ENTRIES - 1) / REFCOUNT_BLOCK_ENTRIES;
            long needTable = (needBlocks * 8 + CLUSTER_BYTES - 1) / CLUSTER_BYTES;
            if (needBlocks == blocks && needTable == tableClusters) {
                break;
            }
            blocks = needBlocks;
            tableClusters = needTable;
        }
        long tableOffset = dataClusters * CLUSTER_BYTES;
        long blocksOffset = tableOffset + tableClusters * CLUSTER_BYTES;
        long end = blocksOffset + blocks * CLUSTER_BYTES;
        addRefcounts(tableOffset, end);
        ByteBuffer table = ByteBuffer.allocate(Math.toIntExact(tableClusters * CLUSTER_BYTES));
        for (long b = 0; b < blocks; b++) {
            ByteBuffer block = ByteBuffer.allocate(CLUSTER_BYTES);
            for (int i = 0; i < REFCOUNT_BLOCK_ENTRIES; i++) {
                long c = b * REFCOUNT_BLOCK_ENTRIES + i;
                block.putChar(c < refcounts.length ? refcounts[(int) c] : 0);
            }
            write(blocksOffset + b * CLUSTER_BYTES, block.array(), CLUSTER_BYTES);
            table.putLong((int) (b * 8), blocksOffset + b * CLUSTER_BYTES);
        }
        write(tableOffset, table.array(), table.capacity());
        ByteBuffer l1Bytes = ByteBuffer.allocate(l1.length * 8);
        l1Bytes.asLongBuffer().put(l1);
        write(CLUSTER_BYTES, l1Bytes.array(), l1Bytes.capacity());
        write(0, header(tableOffset, tableClusters).array(), CLUSTER_BYTES);
        return end;
    }

    private ByteBuffer header(long refcountTableOffset, long refcountTableClusters) {
        ByteBuffer h = ByteBuffer.allocate(CLUSTER_BYTES);
        h.putInt(0, ImageFormat.QCOW2_MAGIC).putInt(4, 3);
        h.putInt(20, CLUSTER_BITS).putLong(24, sizeBytes);
        h.putInt(36, l1.length).putLong(40, CLUSTER_BYTES);
        h.putLong(48, refcountTableOffset).putInt(56, Math.toIntExact(refcountTableClusters));
        h.putInt(96, REFCOUNT_ORDER).putInt(100, HEADER_BYTES);
        // Byte 104 (compression_type) stays 0: deflate. The header extension area after it is empty: an end marker of zeros.
        return h;
    }

    private void write(long position, byte[] data, int length) {
        ByteBuffer buf = ByteBuffer.wrap(data, 0, length);
        try {
            while (buf.hasRemaining()) {
                channel.write(buf, position + buf.position());
            }
        } catch (IOException e) {
            throw new InteropException("write at offset " + position + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        deflater.end();
    }
}
