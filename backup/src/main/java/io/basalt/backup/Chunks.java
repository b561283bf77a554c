package io.basalt.backup;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.zip.CRC32C;

import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4FastDecompressor;

/**
 * One chunk as a pack stores it: a record of {@value #HEADER_BYTES} header bytes and the stored
 * bytes (docs/backup-format.md):
 * <pre>
 *   0  4  magic "BCHK"
 *   4 32  SHA-256 of the chunk's raw (uncompressed) bytes: its name
 *  36  4  raw length (big-endian)
 *  40  4  stored length
 *  44  1  codec: 0 stored raw, 1 LZ4 block
 *  45  4  CRC32C of the stored bytes
 *  49     the stored bytes
 * </pre>
 * The CRC catches a flipped bit without decompressing; the hash, checked after decompressing,
 * catches everything else (and a wrong chunk under a right name).
 */
final class Chunks {
    static final int HEADER_BYTES = 49;
    static final int MAGIC = 0x4243484B; // "BCHK"
    static final int HASH_BYTES = 32;
    /** LZ4 only when it saves at least this much: not worth a decompression on restore otherwise. */
    static final int COMPRESSION_GAIN_MIN_BYTES = 256;

    private static final LZ4Compressor COMPRESSOR = LZ4Factory.fastestInstance().fastCompressor();
    private static final LZ4FastDecompressor DECOMPRESSOR = LZ4Factory.fastestInstance().fastDecompressor();
    private static final HexFormat HEX = HexFormat.of();

    private Chunks() {}

    /** The chunk's name: SHA-256 of its raw bytes, lower-case hex. */
    static String hash(byte[] data, int at, int length) {
        MessageDigest sha = sha256();
        sha.update(data, at, length);
        return HEX.formatHex(sha.digest());
    }

    /** The whole record for {@code data[at, at + length)} named {@code hash}. */
    static byte[] encode(String hash, byte[] data, int at, int length) {
        byte[] compressed = new byte[COMPRESSOR.maxCompressedLength(length)];
        int compressedBytes = COMPRESSOR.compress(data, at, length, compressed, 0, compressed.length);
        boolean lz4 = compressedBytes + COMPRESSION_GAIN_MIN_BYTES <= length;
        int storedBytes = lz4 ? compressedBytes : length;
        ByteBuffer record = ByteBuffer.allocate(HEADER_BYTES + storedBytes);
        record.putInt(MAGIC).put(HEX.parseHex(hash)).putInt(length).putInt(storedBytes).put((byte) (lz4 ? 1 : 0));
        CRC32C crc = new CRC32C();
        if (lz4) {
            crc.update(compressed, 0, storedBytes);
        } else {
            crc.update(data, at, length);
        }
        record.putInt((int) crc.getValue());
        record.put(lz4 ? compressed : data, lz4 ? 0 : at, storedBytes);
        return record.array();
    }

    /** A record's header as read from a pack. */
    record Header(String hash, int rawBytes, int storedBytes, boolean lz4, int crc32c) {
        int recordBytes() {
            return HEADER_BYTES + storedBytes;
        }
    }

    static Header header(ByteBuffer b, String where) {
        int magic = b.getInt();
        if (magic != MAGIC) {
            throw new BackupException(where + ": chunk magic " + Integer.toHexString(magic) + " (expected: " + Integer.toHexString(MAGIC) + ")");
        }
        byte[] hash = new byte[HASH_BYTES];
        b.get(hash);
        int raw = b.getInt();
        int stored = b.getInt();
        byte codec = b.get();
        int crc = b.getInt();
        if (raw < 0 || stored < 0 || stored > raw || codec < 0 || codec > 1 || (codec == 0 && stored != raw)) {
            throw new BackupException(where + ": chunk header raw=" + raw + " stored=" + stored + " codec=" + codec
                    + " (expected: 0 <= stored <= raw, codec 0 (stored == raw) or 1)");
        }
        return new Header(HEX.formatHex(hash), raw, stored, codec == 1, crc);
    }

    /**
     * The raw bytes of a record whose header is {@code h} and stored bytes {@code stored}, checked:
     * the CRC32C of the stored bytes, then the SHA-256 of the raw bytes against {@code expectedHash}.
     */
    static byte[] decode(Header h, byte[] stored, String expectedHash, String where) {
        CRC32C crc = new CRC32C();
        crc.update(stored, 0, h.storedBytes());
        if ((int) crc.getValue() != h.crc32c()) {
            throw new BackupException("chunk " + expectedHash + " " + where + ": CRC32C " + Integer.toHexString((int) crc.getValue())
                    + " (expected: " + Integer.toHexString(h.crc32c()) + ")");
        }
        byte[] raw;
        if (h.lz4()) {
            raw = new byte[h.rawBytes()];
            try {
                DECOMPRESSOR.decompress(stored, 0, raw, 0, h.rawBytes());
            } catch (LZ4Exception e) {
                throw new BackupException("chunk " + expectedHash + " " + where + ": LZ4 block does not decode: " + e.getMessage(), e);
            }
        } else {
            raw = stored;
        }
        String actual = hash(raw, 0, h.rawBytes());
        if (!actual.equals(expectedHash) || !h.hash().equals(expectedHash)) {
            throw new BackupException("chunk " + expectedHash + " " + where + ": SHA-256 " + actual + ", header names " + h.hash()
                    + " (expected: both " + expectedHash + ")");
        }
        return raw;
    }

    private static final byte[] ZEROS = new byte[64 * 1024];

    static boolean isZero(byte[] data, int at, int length) {
        for (int i = at; i < at + length; i += ZEROS.length) {
            int n = Math.min(ZEROS.length, at + length - i);
            if (java.util.Arrays.mismatch(data, i, i + n, ZEROS, 0, n) >= 0) {
                return false;
            }
        }
        return true;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java platform", e);
        }
    }
}
