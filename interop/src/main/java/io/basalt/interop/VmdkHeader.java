package io.basalt.interop;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The header of a VMDK hosted sparse extent (VMware's "Virtual Disk Format 5.0", section
 * "Hosted Sparse Extent Header"): 512 little-endian bytes at the start of a monolithicSparse
 * file, and again as the footer of a streamOptimized one. Sizes and offsets are in 512-byte
 * sectors, as in the file. {@link #parse} checks the fields reading needs and names a bad one.
 */
record VmdkHeader(int version, int flags, long capacitySectors, long grainSectors, long descriptorOffsetSectors,
                  long descriptorSectors, int gtesPerGt, long rgdOffsetSectors, long gdOffsetSectors, long overheadSectors,
                  int compressAlgorithm) {

    static final int SECTOR_BYTES = 512;
    static final int MAGIC = 0x564d444b; // "VMDK", stored little-endian: the file starts with "KDMV"
    static final int FLAG_NEWLINE_TEST = 1;
    static final int FLAG_REDUNDANT_GT = 1 << 1;
    static final int FLAG_ZEROED_GTE = 1 << 2;
    static final int FLAG_COMPRESSED = 1 << 16;
    static final int FLAG_MARKERS = 1 << 17;
    static final int COMPRESS_NONE = 0;
    static final int COMPRESS_DEFLATE = 1;
    /** gdOffset of a streamOptimized header: the grain directory's place is in the footer. */
    static final long GD_AT_END = -1L;
    static final int GTES_PER_GT = 512; // fixed by the format
    static final long GRAIN_SECTORS_MAX = 2048; // 1 MiB: VMware and QEMU write 64 KiB; bounds the grain buffers
    static final long CAPACITY_SECTORS_MAX = 1L << 41; // 1 PiB
    static final long DESCRIPTOR_SECTORS_MAX = 2048;

    long grainBytes() {
        return grainSectors * SECTOR_BYTES;
    }

    /** Guest bytes one grain table covers. */
    long gtSpanBytes() {
        return grainBytes() * gtesPerGt;
    }

    long gtCount() {
        long span = grainSectors * gtesPerGt;
        return (capacitySectors + span - 1) / span;
    }

    boolean compressed() {
        return (flags & FLAG_COMPRESSED) != 0;
    }

    ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(SECTOR_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, MAGIC).putInt(4, version).putInt(8, flags).putLong(12, capacitySectors).putLong(20, grainSectors);
        b.putLong(28, descriptorOffsetSectors).putLong(36, descriptorSectors).putInt(44, gtesPerGt);
        b.putLong(48, rgdOffsetSectors).putLong(56, gdOffsetSectors).putLong(64, overheadSectors);
        // Byte 72 uncleanShutdown stays 0. The line-end characters let a reader spot a file mangled by a text-mode transfer.
        b.put(73, (byte) '\n').put(74, (byte) ' ').put(75, (byte) '\r').put(76, (byte) '\n');
        b.putShort(77, (short) compressAlgorithm);
        return b;
    }

    /** Parses and checks a header (or footer) read from {@code file}; {@code what} says which for messages. */
    static VmdkHeader parse(ByteBuffer sector, String file, String what) {
        ByteBuffer b = sector.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        Qcow2Header.Checks c = new Qcow2Header.Checks(file);
        c.check(b.remaining() >= SECTOR_BYTES, what, b.remaining() + " bytes", SECTOR_BYTES + " bytes");
        c.check(b.getInt(0) == MAGIC, what + " magic", "0x" + Integer.toHexString(b.getInt(0)), "0x" + Integer.toHexString(MAGIC) + " (KDMV)");
        int version = b.getInt(4);
        c.check(version >= 1 && version <= 3, what + " version", version, "1, 2 or 3");
        int flags = b.getInt(8);
        if ((flags & FLAG_NEWLINE_TEST) != 0) {
            boolean intact = b.get(73) == '\n' && b.get(74) == ' ' && b.get(75) == '\r' && b.get(76) == '\n';
            c.check(intact, what + " line-end characters", "mangled", "\\n, space, \\r\\n (was the file copied in text mode?)");
        }
        long capacity = b.getLong(12);
        // 0 would make QEMU take the file for a descriptor: refused rather than read as an empty disk.
        c.check(capacity > 0 && capacity <= CAPACITY_SECTORS_MAX, what + " capacity", Long.toUnsignedString(capacity) + " sectors",
                "1.." + CAPACITY_SECTORS_MAX);
        long grain = b.getLong(20);
        c.check(grain > 0 && grain <= GRAIN_SECTORS_MAX && Long.bitCount(grain) == 1, what + " grainSize", Long.toUnsignedString(grain) + " sectors",
                "a power of two in 1.." + GRAIN_SECTORS_MAX);
        long descOffset = b.getLong(28);
        long descSectors = b.getLong(36);
        c.check(descSectors >= 0 && descSectors <= DESCRIPTOR_SECTORS_MAX, what + " descriptorSize", Long.toUnsignedString(descSectors),
                "0.." + DESCRIPTOR_SECTORS_MAX + " sectors");
        int gtes = b.getInt(44);
        c.check(gtes == GTES_PER_GT, what + " numGTEsPerGT", Integer.toUnsignedString(gtes), String.valueOf(GTES_PER_GT));
        int compress = b.getShort(77) & 0xffff;
        boolean compressed = (flags & FLAG_COMPRESSED) != 0;
        // QEMU decides by compressAlgorithm alone, VMware's spec by the flag: both must agree, or the grains are read one way by one and another by the other.
        c.check(compress == (compressed ? COMPRESS_DEFLATE : COMPRESS_NONE), what + " compressAlgorithm", compress,
                compressed ? "1 (deflate) with flag bit 16 set" : "0 (none) with flag bit 16 clear");
        c.check(!compressed || (flags & FLAG_MARKERS) != 0, what + " flags", "0x" + Integer.toHexString(flags),
                "bit 17 (markers) with bit 16 (compressed grains): compressed grains without markers are not supported");
        return new VmdkHeader(version, flags, capacity, grain, descOffset, descSectors, gtes, b.getLong(48), b.getLong(56),
                b.getLong(64), compress);
    }
}
