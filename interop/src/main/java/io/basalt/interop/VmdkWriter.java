package io.basalt.interop;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;
import java.util.zip.Deflater;

/**
 * Writes a VMDK hosted sparse extent in one pass, grains handed in ascending guest order, in
 * one of the two kinds VMware's tools exchange:
 * <ul>
 * <li><b>monolithicSparse</b> (version 1): header, descriptor, grain directory and every grain
 *     table at fixed places up front (as VMware lays them out), then the grains as they are.
 *     Tables of ranges without data are never written: they stay holes that read as empty.
 * <li><b>streamOptimized</b> (version 3, what OVF/OVA carry): header, descriptor, then each grain
 *     zlib-compressed behind a marker, each range's grain table after its grains, the grain
 *     directory, and a footer with the directory's place, then the end-of-stream marker. Ranges
 *     without data get no table (directory entry 0).
 * </ul>
 * Grains never handed in stay unallocated (grain table entry 0: zeros). Offsets in the format are
 * 32-bit sector numbers, so the file and the disk are limited to 2 TiB.
 */
final class VmdkWriter implements AutoCloseable {
    static final long GRAIN_SECTORS = ImageExport.CLUSTER_BYTES / VmdkHeader.SECTOR_BYTES;
    static final long DESCRIPTOR_OFFSET_SECTORS = 1;
    static final long DESCRIPTOR_SECTORS = 20;
    static final long SECTORS_MAX = 1L << 32; // 32-bit sector offsets: 2 TiB
    private static final int SECTOR = VmdkHeader.SECTOR_BYTES;
    private static final int GT_SECTORS = VmdkHeader.GTES_PER_GT * 4 / SECTOR;
    private static final int MARKER_GT = 1;
    private static final int MARKER_GD = 2;

    private final FileChannel channel;
    private final boolean stream;
    private final VmdkHeader header;
    private final String extentName;
    private final int[] gd;
    private final int[] gt = new int[VmdkHeader.GTES_PER_GT];
    private int gtIndex = -1;
    private long cursorSectors; // next free sector
    private final Deflater deflater = new Deflater(Deflater.DEFAULT_COMPRESSION); // zlib format: what VMware and QEMU read
    private final byte[] grainBuf = new byte[ImageExport.CLUSTER_BYTES];
    private final byte[] deflated = new byte[2 * ImageExport.CLUSTER_BYTES];
    long grainCount;

    /** A writer of {@code sizeBytes} (a multiple of 512) into {@code channel}; {@code extentName} is the file's own name, for the descriptor. */
    VmdkWriter(FileChannel channel, long sizeBytes, boolean streamOptimized, String extentName) {
        if (sizeBytes % SECTOR != 0 || sizeBytes / SECTOR > SECTORS_MAX - GRAIN_SECTORS * 1024) {
            throw new InteropException("vmdk: disk size " + sizeBytes + " bytes (expected: a multiple of 512 below 2 TiB, the format's limit)");
        }
        this.channel = channel;
        this.stream = streamOptimized;
        this.extentName = extentName;
        long capacity = sizeBytes / SECTOR;
        long span = GRAIN_SECTORS * VmdkHeader.GTES_PER_GT;
        this.gd = new int[Math.toIntExact((capacity + span - 1) / span)];
        long gdSectors = ((long) gd.length * 4 + SECTOR - 1) / SECTOR;
        long metadataEnd = DESCRIPTOR_OFFSET_SECTORS + DESCRIPTOR_SECTORS + (stream ? 0 : gdSectors + (long) gd.length * GT_SECTORS);
        long overhead = (metadataEnd + GRAIN_SECTORS - 1) / GRAIN_SECTORS * GRAIN_SECTORS;
        int flags = VmdkHeader.FLAG_NEWLINE_TEST | (stream ? VmdkHeader.FLAG_COMPRESSED | VmdkHeader.FLAG_MARKERS : 0);
        long gdOffset = stream ? VmdkHeader.GD_AT_END : DESCRIPTOR_OFFSET_SECTORS + DESCRIPTOR_SECTORS;
        this.header = new VmdkHeader(stream ? 3 : 1, flags, capacity, GRAIN_SECTORS, DESCRIPTOR_OFFSET_SECTORS, DESCRIPTOR_SECTORS,
                VmdkHeader.GTES_PER_GT, 0, gdOffset, overhead, stream ? VmdkHeader.COMPRESS_DEFLATE : VmdkHeader.COMPRESS_NONE);
        if (!stream) {
            for (int i = 0; i < gd.length; i++) {
                gd[i] = Math.toIntExact(gdOffset + gdSectors + (long) i * GT_SECTORS);
            }
        }
        this.cursorSectors = overhead;
    }

    /** Adds the grain at {@code offsetBytes} (a multiple of the grain size, above the last one added). */
    void grain(long offsetBytes, byte[] data, int at, int length) {
        long grainNo = offsetBytes / ImageExport.CLUSTER_BYTES;
        int index = (int) (grainNo / VmdkHeader.GTES_PER_GT);
        if (index != gtIndex) {
            if (index < gtIndex) {
                throw new IllegalStateException("grain at " + offsetBytes + ": grain table " + index + " (expected: >= " + gtIndex + ")");
            }
            flushGt();
            gtIndex = index;
        }
        Arrays.fill(grainBuf, length, grainBuf.length, (byte) 0);
        System.arraycopy(data, at, grainBuf, 0, length);
        long sector = cursorSectors;
        if (stream) {
            int n = deflate();
            ByteBuffer b = ByteBuffer.allocate(roundToSector(VmdkSource.MARKER_BYTES + n)).order(ByteOrder.LITTLE_ENDIAN);
            b.putLong(0, grainNo * GRAIN_SECTORS).putInt(8, n).put(VmdkSource.MARKER_BYTES, deflated, 0, n);
            write(sector, b.array());
            cursorSectors += b.capacity() / SECTOR;
        } else {
            write(sector, grainBuf);
            cursorSectors += GRAIN_SECTORS;
        }
        if (cursorSectors >= SECTORS_MAX) {
            throw new InteropException("vmdk: file size past 2 TiB (expected: below, the format's 32-bit sector offsets)");
        }
        gt[(int) (grainNo % VmdkHeader.GTES_PER_GT)] = (int) sector;
        grainCount++;
    }

    private int deflate() {
        deflater.reset();
        deflater.setInput(grainBuf);
        deflater.finish();
        int n = deflater.deflate(deflated, 0, deflated.length);
        if (!deflater.finished()) {
            throw new IllegalStateException("deflate of one grain: " + n + " bytes and unfinished (expected: < " + deflated.length + ")");
        }
        return n;
    }

    /** Writes the current grain table: in place (monolithicSparse), or behind a marker after its grains (streamOptimized). */
    private void flushGt() {
        if (gtIndex < 0) {
            return;
        }
        ByteBuffer table = ByteBuffer.allocate(GT_SECTORS * SECTOR).order(ByteOrder.LITTLE_ENDIAN);
        table.asIntBuffer().put(gt);
        if (stream) {
            write(cursorSectors, marker(GT_SECTORS, MARKER_GT));
            gd[gtIndex] = (int) (cursorSectors + 1);
            cursorSectors += 1 + GT_SECTORS;
        }
        write(Integer.toUnsignedLong(gd[gtIndex]), table.array());
        Arrays.fill(gt, 0);
    }

    /** Writes the last grain table, the grain directory, the descriptor and the header (and a stream's footer); returns the file's size. */
    long finish() {
        flushGt();
        ByteBuffer dir = ByteBuffer.allocate(roundToSector(gd.length * 4)).order(ByteOrder.LITTLE_ENDIAN);
        dir.asIntBuffer().put(gd);
        VmdkHeader h = header;
        if (stream) {
            write(cursorSectors, marker(dir.capacity() / SECTOR, MARKER_GD));
            long gdOffset = cursorSectors + 1;
            write(gdOffset, dir.array());
            cursorSectors = gdOffset + dir.capacity() / SECTOR;
            h = new VmdkHeader(h.version(), h.flags(), h.capacitySectors(), h.grainSectors(), h.descriptorOffsetSectors(), h.descriptorSectors(),
                    h.gtesPerGt(), h.rgdOffsetSectors(), gdOffset, h.overheadSectors(), h.compressAlgorithm());
            write(cursorSectors, marker(1, VmdkSource.MARKER_FOOTER));
            write(cursorSectors + 1, h.encode().array());
            write(cursorSectors + 2, new byte[SECTOR]); // end of stream
            cursorSectors += 3;
        } else {
            write(h.gdOffsetSectors(), dir.array());
            if (cursorSectors == h.overheadSectors()) {
                // No grains: the file must still reach past the tables, which stay holes that read as empty.
                write(cursorSectors - 1, new byte[SECTOR]);
            }
        }
        write(DESCRIPTOR_OFFSET_SECTORS, descriptor());
        write(0, header.encode().array());
        return cursorSectors * SECTOR;
    }

    private byte[] descriptor() {
        long cylinders = Math.min(header.capacitySectors() / (16 * 63), 16383);
        String text = "# Disk DescriptorFile\n"
                + "version=1\n"
                + String.format("CID=%08x\n", ThreadLocalRandom.current().nextInt() & 0x7fffffff) // changes with every write, by the spec
                + "parentCID=ffffffff\n"
                + "createType=\"" + (stream ? "streamOptimized" : "monolithicSparse") + "\"\n\n"
                + "# Extent description\n"
                + "RW " + header.capacitySectors() + " SPARSE \"" + extentName.replace("\"", "") + "\"\n\n"
                + "# The Disk Data Base\n#DDB\n\n"
                + "ddb.virtualHWVersion = \"4\"\n"
                + "ddb.geometry.cylinders = \"" + cylinders + "\"\n"
                + "ddb.geometry.heads = \"16\"\n"
                + "ddb.geometry.sectors = \"63\"\n"
                + "ddb.adapterType = \"ide\"\n";
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > DESCRIPTOR_SECTORS * SECTOR) {
            throw new InteropException("vmdk: descriptor of " + bytes.length + " bytes (expected: <= " + DESCRIPTOR_SECTORS * SECTOR
                    + "; a shorter file name)");
        }
        return Arrays.copyOf(bytes, (int) (DESCRIPTOR_SECTORS * SECTOR));
    }

    private static byte[] marker(long sectors, int type) {
        ByteBuffer m = ByteBuffer.allocate(SECTOR).order(ByteOrder.LITTLE_ENDIAN);
        m.putLong(0, sectors).putInt(8, 0).putInt(12, type);
        return m.array();
    }

    private static int roundToSector(int bytes) {
        return (bytes + SECTOR - 1) / SECTOR * SECTOR;
    }

    private void write(long sector, byte[] data) {
        ByteBuffer buf = ByteBuffer.wrap(data);
        long position = sector * SECTOR;
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
