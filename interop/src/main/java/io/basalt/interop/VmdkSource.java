package io.basalt.interop;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * A VMDK hosted sparse extent read grain by grain: monolithicSparse (grains stored as they are)
 * and streamOptimized (each grain zlib-compressed behind a marker, the grain directory's place in
 * a footer at the end). The grain directory is held in memory (at most {@value #GD_BYTES_MAX}
 * bytes), one grain table and one decompressed grain are cached. Every grain table, and every
 * compressed grain's marker, is checked when the image is opened, so a bad table fails the import
 * before anything is written. Delta disks (a parent) and descriptor files with separate extents
 * are refused: only self-contained images are read.
 */
public final class VmdkSource implements ImageSource {
    static final int GD_BYTES_MAX = 32 << 20;
    static final int MARKER_BYTES = 12; // lba (8) and size (4) before a compressed grain's data
    static final int MARKER_FOOTER = 3;
    static final int MARKER_EOS = 0;
    private static final int SECTOR = VmdkHeader.SECTOR_BYTES;
    private static final Pattern CREATE_TYPE = Pattern.compile("(?m)^\\s*createType\\s*=\\s*\"([^\"]*)\"");
    private static final Pattern VERSION = Pattern.compile("(?m)^version=[1-3]\\s*$");
    private static final Pattern CID = Pattern.compile("(?m)^CID=[0-9a-fA-F]{1,8}\\s*$"); // qemu-img writes it unpadded (%x)
    private static final Pattern PARENT_CID = Pattern.compile("(?m)^parentCID=([0-9a-fA-F]{1,8})\\s*$");

    private final FileReads file;
    private final VmdkHeader header;
    private final String createType;
    private final int[] gd; // sector offsets of grain tables, unsigned; 0: none
    private final int[] gt = new int[VmdkHeader.GTES_PER_GT];
    private long gtIndex = -1;
    private final byte[] grain;
    private long grainIndex = -1; // the grain decompressed in `grain`
    private final byte[] compressed;

    private VmdkSource(FileReads file, VmdkHeader header, String createType, int[] gd) {
        this.file = file;
        this.header = header;
        this.createType = createType;
        this.gd = gd;
        this.grain = new byte[(int) header.grainBytes()];
        this.compressed = new byte[compressedBytesMax(header)];
    }

    /** zlib may grow incompressible data a little; QEMU and VMware bound a compressed grain the same way. */
    private static int compressedBytesMax(VmdkHeader h) {
        return (int) (2 * h.grainBytes() + SECTOR);
    }

    static VmdkSource open(Path path) {
        FileReads file = FileReads.open(path);
        try {
            String name = file.file.toString();
            byte[] first = new byte[SECTOR];
            file.readFully(0, first, 0, SECTOR, "header");
            VmdkHeader header = VmdkHeader.parse(ByteBuffer.wrap(first), name, "header");
            Qcow2Header.Checks c = new Qcow2Header.Checks(name);
            String createType = descriptor(file, header);
            if (header.gdOffsetSectors() == VmdkHeader.GD_AT_END) {
                header = footer(file, header);
            }
            // As QEMU (which reads the footer's, when there is one): the file reaches at least to where grains start.
            c.check(header.overheadSectors() >= 0 && header.overheadSectors() <= file.sizeBytes / SECTOR, "overHead",
                    Long.toUnsignedString(header.overheadSectors()) + " sectors", "within the file's " + file.sizeBytes / SECTOR + " sectors");
            if ((header.flags() & VmdkHeader.FLAG_REDUNDANT_GT) != 0) {
                // Not read (the primary directory is), but QEMU refuses an image whose redundant one is not there: so do we.
                long bytes = header.gtCount() * 4;
                c.check(header.rgdOffsetSectors() > 0 && header.rgdOffsetSectors() <= (file.sizeBytes - bytes) / SECTOR, "rgdOffset",
                        Long.toUnsignedString(header.rgdOffsetSectors()), "a redundant grain directory inside the file (flag bit 1 is set)");
            }
            VmdkSource source = new VmdkSource(file, header, createType, readGd(file, header));
            source.checkTables();
            return source;
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    /** The embedded descriptor's createType ("sparse" when there is none); a parent or a multi-extent type is refused. */
    private static String descriptor(FileReads file, VmdkHeader h) {
        if (h.descriptorOffsetSectors() == 0 || h.descriptorSectors() == 0) {
            return "sparse";
        }
        Qcow2Header.Checks c = new Qcow2Header.Checks(file.file.toString());
        byte[] text = new byte[(int) (h.descriptorSectors() * SECTOR)];
        c.check(h.descriptorOffsetSectors() > 0 && h.descriptorOffsetSectors() <= (file.sizeBytes - text.length) / SECTOR, "descriptorOffset",
                Long.toUnsignedString(h.descriptorOffsetSectors()), "a descriptor inside the file's " + file.sizeBytes + " bytes");
        file.readFully(h.descriptorOffsetSectors() * SECTOR, text, 0, text.length, "descriptorOffset");
        int end = 0;
        while (end < text.length && text[end] != 0) {
            end++;
        }
        String d = new String(text, 0, end, StandardCharsets.UTF_8);
        // QEMU refuses a descriptor missing any of these; VMware's tools always write them. Refused here before a guess.
        c.check(d.startsWith(ImageFormat.VMDK_DESCRIPTOR), "descriptor", "'" + Qcow2Source.printable(d.substring(0, Math.min(24, d.length()))) + "'",
                "to start with '" + ImageFormat.VMDK_DESCRIPTOR + "'");
        c.check(VERSION.matcher(d).find(), "descriptor version", "missing or malformed", "a line version=1 (or 2, 3)");
        c.check(CID.matcher(d).find(), "descriptor CID", "missing or malformed", "a line CID= and 1 to 8 hex digits");
        Matcher parent = PARENT_CID.matcher(d);
        c.check(parent.find(), "descriptor parentCID", "missing or malformed", "a line parentCID=ffffffff");
        c.check(parent.group(1).equalsIgnoreCase("ffffffff"), "parentCID", parent.group(1), "ffffffff (delta disks with a parent are not supported)");
        Matcher type = CREATE_TYPE.matcher(d);
        String createType = type.find() ? type.group(1) : "sparse";
        c.check(createType.equals("monolithicSparse") || createType.equals("streamOptimized") || createType.equals("sparse"), "createType",
                "'" + Qcow2Source.printable(createType) + "'", "monolithicSparse or streamOptimized (a single self-contained extent)");
        return createType;
    }

    /** A streamOptimized image: the footer marker, the footer (the header with gdOffset filled in), the end-of-stream marker. */
    private static VmdkHeader footer(FileReads file, VmdkHeader header) {
        Qcow2Header.Checks c = new Qcow2Header.Checks(file.file.toString());
        c.check(file.sizeBytes >= 4 * SECTOR && file.sizeBytes % SECTOR == 0, "file size", file.sizeBytes,
                "a multiple of 512 ending with footer marker, footer and end-of-stream marker (gdOffset says the footer has the grain directory)");
        ByteBuffer tail = ByteBuffer.allocate(3 * SECTOR).order(ByteOrder.LITTLE_ENDIAN);
        file.readFully(file.sizeBytes - 3 * SECTOR, tail.array(), 0, 3 * SECTOR, "footer");
        c.check(tail.getInt(8) == 0 && tail.getInt(12) == MARKER_FOOTER, "footer marker", "size " + tail.getInt(8) + " type " + tail.getInt(12),
                "size 0 type " + MARKER_FOOTER + " three sectors before the end");
        c.check(tail.getLong(2 * SECTOR) == 0 && tail.getInt(2 * SECTOR + 12) == MARKER_EOS, "end-of-stream marker",
                "type " + tail.getInt(2 * SECTOR + 12), "all zeros in the last sector");
        VmdkHeader f = VmdkHeader.parse(tail.slice(SECTOR, SECTOR), file.file.toString(), "footer");
        c.check(f.capacitySectors() == header.capacitySectors() && f.grainSectors() == header.grainSectors(), "footer capacity/grainSize",
                f.capacitySectors() + "/" + f.grainSectors(), "the header's " + header.capacitySectors() + "/" + header.grainSectors());
        c.check(f.gdOffsetSectors() != VmdkHeader.GD_AT_END, "footer gdOffset", "GD_AT_END", "the grain directory's sector");
        return f;
    }

    private static int[] readGd(FileReads file, VmdkHeader h) {
        Qcow2Header.Checks c = new Qcow2Header.Checks(file.file.toString());
        long bytes = h.gtCount() * 4;
        c.check(bytes <= GD_BYTES_MAX, "grain directory size", bytes + " bytes", "<= " + GD_BYTES_MAX + " bytes");
        long offset = h.gdOffsetSectors();
        c.check(offset > 0 && offset <= (file.sizeBytes - bytes) / SECTOR, "gdOffset", Long.toUnsignedString(offset),
                "a grain directory of " + bytes + " bytes inside the file's " + file.sizeBytes + " bytes");
        ByteBuffer b = ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
        file.readFully(offset * SECTOR, b.array(), 0, (int) bytes, "gdOffset");
        int[] gd = new int[(int) h.gtCount()];
        b.asIntBuffer().get(gd);
        return gd;
    }

    /** Checks every grain table and grain pointer: inside the file, off the header; markers name their own grain. */
    private void checkTables() {
        Qcow2Header.Checks c = new Qcow2Header.Checks(file.file.toString());
        long gtBytes = VmdkHeader.GTES_PER_GT * 4L;
        for (int i = 0; i < gd.length; i++) {
            long offset = Integer.toUnsignedLong(gd[i]);
            if (offset == 0) {
                continue;
            }
            c.check(offset <= (file.sizeBytes - gtBytes) / SECTOR, "grain directory[" + i + "]", offset,
                    "a grain table inside the file's " + file.sizeBytes + " bytes");
            loadGt(i);
            for (int j = 0; j < gt.length; j++) {
                checkGte(c, (long) i * VmdkHeader.GTES_PER_GT + j, Integer.toUnsignedLong(gt[j]));
            }
        }
    }

    private void checkGte(Qcow2Header.Checks c, long grainNo, long sector) {
        String field = "grain table entry for grain " + grainNo;
        if (sector == 0 || (sector == 1 && (header.flags() & VmdkHeader.FLAG_ZEROED_GTE) != 0)) {
            return;
        }
        c.check(sector > 1 && sector * SECTOR < file.sizeBytes, field, sector, "a sector after the header inside the file's " + file.sizeBytes + " bytes");
        if (!header.compressed()) {
            return;
        }
        ByteBuffer m = ByteBuffer.allocate(MARKER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        file.readFully(sector * SECTOR, m.array(), 0, MARKER_BYTES, field + " (a grain marker)");
        long lba = m.getLong(0);
        long size = Integer.toUnsignedLong(m.getInt(8));
        c.check(lba == grainNo * header.grainSectors(), field + " marker lba", lba, grainNo * header.grainSectors() + ", the grain's own sector");
        c.check(size > 0 && size <= compressed.length && sector * SECTOR + MARKER_BYTES + size <= file.sizeBytes, field + " marker size", size,
                "1.." + compressed.length + " bytes inside the file");
    }

    private void loadGt(long index) {
        if (gtIndex == index) {
            return;
        }
        ByteBuffer b = ByteBuffer.allocate(VmdkHeader.GTES_PER_GT * 4).order(ByteOrder.LITTLE_ENDIAN);
        file.readFully(Integer.toUnsignedLong(gd[(int) index]) * SECTOR, b.array(), 0, b.capacity(), "grain directory[" + index + "]");
        b.asIntBuffer().get(gt);
        gtIndex = index;
    }

    @Override
    public long sizeBytes() {
        return header.capacitySectors() * SECTOR;
    }

    @Override
    public void read(long offsetBytes, byte[] dst, int dstOffset, int length) {
        if (offsetBytes < 0 || length < 0 || offsetBytes > sizeBytes() - length) {
            throw new IllegalArgumentException("read: " + length + " bytes at " + offsetBytes + " (expected: within " + sizeBytes() + " bytes)");
        }
        long grainBytes = header.grainBytes();
        int done = 0;
        while (done < length) {
            long pos = offsetBytes + done;
            int inGrain = (int) (pos % grainBytes);
            int n = (int) Math.min(length - done, grainBytes - inGrain);
            readInGrain(pos / grainBytes, inGrain, dst, dstOffset + done, n);
            done += n;
        }
    }

    private void readInGrain(long grainNo, int inGrain, byte[] dst, int dstOffset, int length) {
        long table = grainNo / VmdkHeader.GTES_PER_GT;
        long sector = 0;
        if (gd[(int) table] != 0) {
            loadGt(table);
            sector = Integer.toUnsignedLong(gt[(int) (grainNo % VmdkHeader.GTES_PER_GT)]);
        }
        boolean zero = sector == 0 || (sector == 1 && (header.flags() & VmdkHeader.FLAG_ZEROED_GTE) != 0);
        if (zero) {
            Arrays.fill(dst, dstOffset, dstOffset + length, (byte) 0);
        } else if (header.compressed()) {
            inflate(grainNo, sector);
            System.arraycopy(grain, inGrain, dst, dstOffset, length);
        } else {
            int n = file.readUpTo(sector * SECTOR + inGrain, dst, dstOffset, length);
            Arrays.fill(dst, dstOffset + n, dstOffset + length, (byte) 0); // QEMU reads past the end of the file as zeros
        }
    }

    private void inflate(long grainNo, long sector) {
        if (grainIndex == grainNo) {
            return;
        }
        grainIndex = -1;
        ByteBuffer m = ByteBuffer.allocate(MARKER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        file.readFully(sector * SECTOR, m.array(), 0, MARKER_BYTES, "grain marker");
        int size = m.getInt(8); // checked at open: 1..compressed.length, inside the file
        file.readFully(sector * SECTOR + MARKER_BYTES, compressed, 0, size, "grain data");
        String where = file.file + ": compressed grain at guest offset " + grainNo * header.grainBytes();
        Inflater inflater = new Inflater(); // zlib streams, with their header, as VMware and QEMU write them
        int produced = 0;
        try {
            inflater.setInput(compressed, 0, size);
            while (produced < grain.length) {
                int n = inflater.inflate(grain, produced, grain.length - produced);
                if (n == 0) {
                    break;
                }
                produced += n;
            }
        } catch (DataFormatException e) {
            throw new InteropException(where + ": deflate data: " + e.getMessage(), e);
        } finally {
            inflater.end();
        }
        // The last grain may stop at the disk's end; every other one is whole.
        long needed = Math.min(grain.length, sizeBytes() - grainNo * header.grainBytes());
        if (produced < needed) {
            throw new InteropException(where + ": decompressed size: " + produced + " bytes (expected: " + needed + ")");
        }
        Arrays.fill(grain, produced, grain.length, (byte) 0);
        grainIndex = grainNo;
    }

    @Override
    public String description() {
        return "vmdk " + createType + ", " + header.grainBytes() / 1024 + " KiB grains" + (header.compressed() ? ", deflate" : "");
    }

    @Override
    public void close() {
        file.close();
    }
}
