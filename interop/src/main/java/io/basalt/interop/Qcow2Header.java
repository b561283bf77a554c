package io.basalt.interop;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * The fields of a qcow2 header (versions 2 and 3) that reading needs, checked against the
 * specification (QEMU's docs/interop/qcow2.rst) and against the file's size. {@link #parse}
 * refuses anything it cannot read exactly, naming the field: unknown incompatible features,
 * encryption, external data files, extended L2 entries, a table outside the file or over another.
 */
record Qcow2Header(int version, int clusterBits, long sizeBytes, int l1Size, long l1TableOffset, long refcountTableOffset,
                   int refcountTableClusters, int compressionType, int headerLength, Optional<String> backingFile,
                   Optional<String> backingFormat) {

    static final int CLUSTER_BITS_MIN = 9;
    static final int CLUSTER_BITS_MAX = 21; // 2 MiB: QEMU's limit too.
    static final int L1_BYTES_MAX = 32 << 20; // QEMU's limit.
    static final int REFCOUNT_TABLE_BYTES_MAX = 8 << 20; // QEMU's limit.
    static final long SIZE_MAX_BYTES = 1L << 56; // what L2 entries can address
    static final int BACKING_NAME_BYTES_MAX = 1023;
    static final int SNAPSHOTS_COUNT_MAX = 65536;
    static final int V2_HEADER_BYTES = 72;
    static final int SECTOR_BYTES = 512;
    static final int V3_HEADER_BYTES_MIN = 104;

    static final long INCOMPAT_DIRTY = 1;
    static final long INCOMPAT_CORRUPT = 1 << 1;
    static final long INCOMPAT_DATA_FILE = 1 << 2;
    static final long INCOMPAT_COMPRESSION = 1 << 3;
    static final long INCOMPAT_EXTL2 = 1 << 4;

    static final long AUTOCLEAR_DATA_FILE_RAW = 1 << 1;

    static final int COMPRESSION_DEFLATE = 0;
    static final int COMPRESSION_ZSTD = 1;

    static final int EXT_END = 0;
    static final int EXT_BACKING_FORMAT = 0xe2792aca;
    static final int EXT_CRYPTO = 0x0537be77;
    static final int EXT_DATA_FILE = 0x44415441;

    int clusterBytes() {
        return 1 << clusterBits;
    }

    int l2Entries() {
        return clusterBytes() / 8;
    }

    /** Parses and checks the header in {@code first} (the file's first cluster, or all of a smaller file). */
    static Qcow2Header parse(ByteBuffer first, long fileBytes, String file) {
        Checks c = new Checks(file);
        c.check(first.remaining() >= V2_HEADER_BYTES, "header", first.remaining() + " bytes", ">= " + V2_HEADER_BYTES + " bytes");
        c.check(first.getInt(0) == ImageFormat.QCOW2_MAGIC, "magic", Integer.toHexString(first.getInt(0)), "514649fb");
        int version = first.getInt(4);
        c.check(version == 2 || version == 3, "version", version, "2 or 3");
        long backingOffset = first.getLong(8);
        int backingBytes = first.getInt(16);
        int clusterBits = first.getInt(20);
        c.check(clusterBits >= CLUSTER_BITS_MIN && clusterBits <= CLUSTER_BITS_MAX, "cluster_bits", clusterBits,
                CLUSTER_BITS_MIN + ".." + CLUSTER_BITS_MAX);
        int clusterBytes = 1 << clusterBits;
        long size = first.getLong(24);
        c.check(size >= 0 && size <= SIZE_MAX_BYTES, "size", Long.toUnsignedString(size), "<= " + SIZE_MAX_BYTES);
        // QEMU rounds such a size down to whole sectors, silently; qemu-img never makes one. Refuse rather than guess.
        c.check(size % SECTOR_BYTES == 0, "size", size, "a multiple of " + SECTOR_BYTES);
        c.check(first.getInt(32) == 0, "crypt_method", first.getInt(32), "0 (encrypted images are not supported)");
        int l1Size = first.getInt(36);
        long l1Offset = first.getLong(40);
        long refcountOffset = first.getLong(48);
        int refcountClusters = first.getInt(56);
        int snapshots = first.getInt(60);
        long snapshotsOffset = first.getLong(64);
        int headerLength = V2_HEADER_BYTES;
        int compression = COMPRESSION_DEFLATE;
        if (version == 3) {
            c.check(first.remaining() >= V3_HEADER_BYTES_MIN, "header", first.remaining() + " bytes", ">= " + V3_HEADER_BYTES_MIN + " bytes");
            headerLength = first.getInt(100);
            c.check(headerLength >= V3_HEADER_BYTES_MIN && headerLength % 8 == 0 && headerLength <= Math.min(clusterBytes, first.remaining()),
                    "header_length", headerLength, "a multiple of 8 in " + V3_HEADER_BYTES_MIN + ".." + Math.min(clusterBytes, first.remaining()));
            long incompatible = first.getLong(72);
            long known = INCOMPAT_DIRTY | INCOMPAT_COMPRESSION;
            c.check((incompatible & ~known) == 0, "incompatible_features", "0x" + Long.toHexString(incompatible),
                    "only dirty (bit 0) and compression type (bit 3); corrupt, external data file and extended L2 entries are not supported");
            long autoclear = first.getLong(88);
            c.check((autoclear & AUTOCLEAR_DATA_FILE_RAW) == 0, "autoclear_features", "0x" + Long.toHexString(autoclear),
                    "bit 1 (raw external data) clear: it needs an external data file");
            int order = first.getInt(96);
            c.check(order >= 0 && order <= 6, "refcount_order", order, "0..6");
            compression = headerLength > 104 ? first.get(104) & 0xff : COMPRESSION_DEFLATE;
            if ((incompatible & INCOMPAT_COMPRESSION) != 0) {
                c.check(compression == COMPRESSION_ZSTD, "compression_type", compression, "1 (zstd) when incompatible bit 3 is set");
            } else {
                c.check(compression == COMPRESSION_DEFLATE, "compression_type", compression, "0 (deflate) when incompatible bit 3 is clear");
            }
        }
        c.checkTable("l1_table", l1Offset, (long) l1Size * 8, L1_BYTES_MAX, clusterBytes, fileBytes);
        long l2Span = (long) clusterBytes / 8 * clusterBytes;
        long l1Needed = (size + l2Span - 1) / l2Span;
        c.check(l1Size >= l1Needed, "l1_size", Integer.toUnsignedString(l1Size), ">= " + l1Needed + " for size " + size);
        c.checkTable("refcount_table", refcountOffset, (long) refcountClusters * clusterBytes, REFCOUNT_TABLE_BYTES_MAX, clusterBytes, fileBytes);
        c.check(refcountClusters > 0, "refcount_table_clusters", refcountClusters, "> 0");
        c.checkApart("l1_table", l1Offset, (long) l1Size * 8, "refcount_table", refcountOffset, (long) refcountClusters * clusterBytes);
        c.checkApart("l1_table", l1Offset, (long) l1Size * 8, "header", 0, clusterBytes);
        c.checkApart("refcount_table", refcountOffset, (long) refcountClusters * clusterBytes, "header", 0, clusterBytes);
        c.check(snapshots >= 0 && snapshots <= SNAPSHOTS_COUNT_MAX, "nb_snapshots", Integer.toUnsignedString(snapshots), "<= " + SNAPSHOTS_COUNT_MAX);
        // QEMU checks the snapshot table's alignment even when it is empty.
        c.check(snapshotsOffset >= 0 && snapshotsOffset % clusterBytes == 0, "snapshots_offset", Long.toUnsignedString(snapshotsOffset),
                "a multiple of the cluster size " + clusterBytes);
        if (snapshots > 0) {
            c.checkTable("snapshots", snapshotsOffset, 40, Long.MAX_VALUE, clusterBytes, fileBytes);
        }
        Optional<String> backing = Optional.empty();
        if (backingOffset != 0) {
            c.check(backingOffset > 0 && backingOffset < clusterBytes, "backing_file_offset", Long.toUnsignedString(backingOffset),
                    "inside the first cluster (< " + clusterBytes + ")");
            long max = Math.min(BACKING_NAME_BYTES_MAX, Math.min(clusterBytes, first.remaining()) - backingOffset);
            c.check(backingBytes > 0 && backingBytes <= max, "backing_file_size", Integer.toUnsignedString(backingBytes), "1.." + max);
            backing = Optional.of(utf8(first, (int) backingOffset, backingBytes));
        }
        int extEnd = (int) Math.min(backingOffset != 0 ? backingOffset : clusterBytes, first.remaining());
        Optional<String> backingFormat = extensions(first, headerLength, extEnd, c);
        return new Qcow2Header(version, clusterBits, size, l1Size, l1Offset, refcountOffset, refcountClusters, compression, headerLength,
                backing, backingFormat);
    }

    /** Walks the header extensions from {@code start} to {@code end}; returns the backing format name if one is given. */
    private static Optional<String> extensions(ByteBuffer first, int start, int end, Checks c) {
        Optional<String> backingFormat = Optional.empty();
        for (int at = start; at < end; ) {
            c.check(at + 8 <= end, "header extension at " + at, "8-byte header", "before offset " + end);
            int type = first.getInt(at);
            long length = Integer.toUnsignedLong(first.getInt(at + 4));
            at += 8;
            // Checked before the end marker is recognised, as QEMU does: an end marker with a length past the area is refused.
            c.check(length <= end - at, "header extension 0x" + Integer.toHexString(type) + " length", length, "<= " + (end - at));
            if (type == EXT_END) {
                return backingFormat;
            }
            c.check(type != EXT_CRYPTO, "header extension", "0x" + Integer.toHexString(type) + " (encryption)", "none: crypt_method is 0");
            if (type == EXT_BACKING_FORMAT) {
                c.check(length < 16, "backing format extension length", length, "< 16");
                backingFormat = Optional.of(utf8(first, at, (int) length));
            }
            // A data-file name without the incompatible bit, bitmaps, feature names: nothing to read for the active layer.
            at += (int) ((length + 7) & ~7L);
        }
        return backingFormat;
    }

    private static String utf8(ByteBuffer buf, int at, int length) {
        byte[] b = new byte[length];
        buf.get(at, b);
        return new String(b, StandardCharsets.UTF_8);
    }

    /** Checks that throw one-line errors naming this file, the field, its value and what was expected. */
    record Checks(String file) {
        void check(boolean ok, String field, Object value, String expected) {
            if (!ok) {
                throw new InteropException(file + ": " + field + ": " + value + " (expected: " + expected + ")");
            }
        }

        /** A contiguous table: cluster-aligned, no larger than {@code bytesMax}, wholly inside the file. */
        void checkTable(String name, long offset, long bytes, long bytesMax, int clusterBytes, long fileBytes) {
            check(bytes >= 0 && bytes <= bytesMax, name + " size", Long.toUnsignedString(bytes) + " bytes", "<= " + bytesMax + " bytes");
            if (bytes == 0) {
                return;
            }
            check(offset > 0 && offset % clusterBytes == 0, name + "_offset", Long.toUnsignedString(offset),
                    "a non-zero multiple of the cluster size " + clusterBytes);
            check(offset <= fileBytes - bytes, name + "_offset", offset + " + " + bytes + " bytes", "within the file's " + fileBytes + " bytes");
        }

        void checkApart(String a, long aOffset, long aBytes, String b, long bOffset, long bBytes) {
            boolean apart = aBytes == 0 || bBytes == 0 || aOffset + aBytes <= bOffset || bOffset + bBytes <= aOffset;
            check(apart, a + "_offset", aOffset + " (" + aBytes + " bytes)", "not overlapping " + b + " at " + bOffset + " (" + bBytes + " bytes)");
        }
    }
}
