package io.basalt.backup;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The pack file layout (docs/backup-format.md): chunk records one after another, then an index
 * of them and a fixed trailer, so a repository learns what a pack holds from its last bytes.
 * <pre>
 *   0   8  magic "BSLTPACK"
 *   8   4  version 1
 *  12      chunk records (see {@link Chunks})
 *          index: per record, SHA-256 (32), offset in the pack (8), record length (4)
 *          trailer, last {@value #TRAILER_BYTES} bytes: record count (4), CRC32C of the index (4),
 *          offset of the index (8), magic "BPIX" (4)
 * </pre>
 */
final class Packs {
    static final long MAGIC = 0x42534C545041434BL; // "BSLTPACK"
    static final int VERSION = 1;
    static final int HEADER_BYTES = 12;
    static final int INDEX_ENTRY_BYTES = 44;
    static final int TRAILER_BYTES = 20;
    static final int TRAILER_MAGIC = 0x42504958; // "BPIX"
    static final String SUFFIX = ".pack";

    /** Where a chunk's record is. */
    record Location(Path pack, long offsetBytes, int recordBytes) {}

    /** One index entry. */
    record Entry(String hash, long offsetBytes, int recordBytes) {}

    private Packs() {}

    static ByteBuffer header() {
        return ByteBuffer.allocate(HEADER_BYTES).putLong(MAGIC).putInt(VERSION).flip();
    }

    /** The index and trailer for {@code entries}, which start at {@code indexOffsetBytes}. */
    static ByteBuffer indexAndTrailer(List<Entry> entries, long indexOffsetBytes) {
        ByteBuffer b = ByteBuffer.allocate(entries.size() * INDEX_ENTRY_BYTES + TRAILER_BYTES);
        for (Entry e : entries) {
            b.put(HexFormat.of().parseHex(e.hash())).putLong(e.offsetBytes()).putInt(e.recordBytes());
        }
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, b.position());
        b.putInt(entries.size()).putInt((int) crc.getValue()).putLong(indexOffsetBytes).putInt(TRAILER_MAGIC);
        return b.flip();
    }

    /** The index of the pack at {@code file}, checked: header, trailer magic, CRC32C, bounds of every record. */
    static List<Entry> readIndex(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < HEADER_BYTES + TRAILER_BYTES) {
                throw new BackupException("pack " + file + ": " + size + " bytes (expected: >= " + (HEADER_BYTES + TRAILER_BYTES) + ")");
            }
            ByteBuffer head = readFully(ch, 0, HEADER_BYTES);
            long magic = head.getLong();
            int version = head.getInt();
            if (magic != MAGIC || version != VERSION) {
                throw new BackupException("pack " + file + ": magic " + Long.toHexString(magic) + " version " + version
                        + " (expected: " + Long.toHexString(MAGIC) + " version " + VERSION + ")");
            }
            ByteBuffer t = readFully(ch, size - TRAILER_BYTES, TRAILER_BYTES);
            int count = t.getInt();
            int crc = t.getInt();
            long indexAt = t.getLong();
            int tmagic = t.getInt();
            if (tmagic != TRAILER_MAGIC || count < 0 || indexAt < HEADER_BYTES || indexAt + (long) count * INDEX_ENTRY_BYTES != size - TRAILER_BYTES) {
                throw new BackupException("pack " + file + ": trailer count=" + count + " index at " + indexAt + " magic " + Integer.toHexString(tmagic)
                        + " (expected: magic " + Integer.toHexString(TRAILER_MAGIC) + ", the index ending where the trailer starts)");
            }
            ByteBuffer index = readFully(ch, indexAt, count * INDEX_ENTRY_BYTES);
            CRC32C c = new CRC32C();
            c.update(index.array(), 0, index.limit());
            if ((int) c.getValue() != crc) {
                throw new BackupException("pack " + file + ": index CRC32C " + Integer.toHexString((int) c.getValue())
                        + " (expected: " + Integer.toHexString(crc) + ")");
            }
            List<Entry> entries = new ArrayList<>(count);
            byte[] hash = new byte[Chunks.HASH_BYTES];
            for (int i = 0; i < count; i++) {
                index.get(hash);
                Entry e = new Entry(HexFormat.of().formatHex(hash), index.getLong(), index.getInt());
                if (e.offsetBytes() < HEADER_BYTES || e.recordBytes() < Chunks.HEADER_BYTES || e.offsetBytes() + e.recordBytes() > indexAt) {
                    throw new BackupException("pack " + file + ": index entry " + i + " " + e + " (expected: a record between "
                            + HEADER_BYTES + " and " + indexAt + ")");
                }
                entries.add(e);
            }
            return entries;
        }
    }

    static ByteBuffer readFully(FileChannel ch, long position, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        while (b.hasRemaining()) {
            if (ch.read(b, position + b.position()) < 0) {
                throw new BackupException("read " + length + " bytes at " + position + ": end of file at " + (position + b.position()));
            }
        }
        return b.flip();
    }
}
