package io.basalt.backup;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * One backup: which chunk holds each chunk-sized piece of the vdisk as the snapshot had it.
 * Pieces that are absent read as zeros (holes stay holes). A manifest is complete on its own:
 * {@code parent} records which backup the incremental was read against, not something a restore
 * needs, so pruning a parent never breaks a child.
 *
 * <p>On disk it is text (docs/backup-format.md): a {@code basalt-backup-manifest 1} line,
 * {@code key value} lines, one {@code c OFFSET HASH} line per chunk in ascending offset order,
 * and a last line {@code end crc32c HEX} over every byte before it, so a damaged manifest is
 * refused rather than restored short.
 */
public record Manifest(String id, String vdisk, long vdiskId, String snapshot, Optional<String> parent, Instant created,
                       long sizeBytes, int blockSizeBytes, int grainSizeBytes, int chunkBytes, long readBytes, long newStoredBytes,
                       List<ChunkRef> chunks) {
    static final String MAGIC_LINE = "basalt-backup-manifest 1";

    /** The chunk named {@code hash} holds the vdisk's bytes from {@code offsetBytes} (a multiple of the chunk size). */
    public record ChunkRef(long offsetBytes, String hash) {}

    public Manifest {
        chunks = List.copyOf(chunks);
        for (int i = 0; i < chunks.size(); i++) {
            ChunkRef c = chunks.get(i);
            if (c.offsetBytes() % chunkBytes != 0 || c.offsetBytes() >= sizeBytes || (i > 0 && c.offsetBytes() <= chunks.get(i - 1).offsetBytes())) {
                throw new BackupException("manifest " + id + ": chunk at offset " + c.offsetBytes() + " (expected: ascending multiples of "
                        + chunkBytes + " below the size " + sizeBytes + ")");
            }
        }
    }

    /** The bytes of the chunk at {@code offsetBytes}: a whole chunk, or what is left of the disk at its end. */
    public int chunkLengthAt(long offsetBytes) {
        return (int) Math.min(chunkBytes, sizeBytes - offsetBytes);
    }

    /** The bytes the chunks cover (the data of the backup, without its holes). */
    public long dataBytes() {
        return chunks.stream().mapToLong(c -> chunkLengthAt(c.offsetBytes())).sum();
    }

    byte[] encode() {
        StringBuilder s = new StringBuilder(64 * chunks.size() + 512);
        s.append(MAGIC_LINE).append('\n');
        fields().forEach((k, v) -> s.append(k).append(' ').append(v).append('\n'));
        for (ChunkRef c : chunks) {
            s.append("c ").append(c.offsetBytes()).append(' ').append(c.hash()).append('\n');
        }
        byte[] body = s.toString().getBytes(StandardCharsets.UTF_8);
        CRC32C crc = new CRC32C();
        crc.update(body);
        byte[] end = String.format("end crc32c %08x%n", crc.getValue()).getBytes(StandardCharsets.UTF_8);
        byte[] all = new byte[body.length + end.length];
        System.arraycopy(body, 0, all, 0, body.length);
        System.arraycopy(end, 0, all, body.length, end.length);
        return all;
    }

    private Map<String, String> fields() {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("id", id);
        f.put("vdisk", vdisk);
        f.put("vdisk-id", Long.toString(vdiskId));
        f.put("snapshot", snapshot);
        f.put("parent", parent.orElse("-"));
        f.put("created", created.toString());
        f.put("size-bytes", Long.toString(sizeBytes));
        f.put("block-size-bytes", Integer.toString(blockSizeBytes));
        f.put("grain-size-bytes", Integer.toString(grainSizeBytes));
        f.put("chunk-bytes", Integer.toString(chunkBytes));
        f.put("read-bytes", Long.toString(readBytes));
        f.put("new-stored-bytes", Long.toString(newStoredBytes));
        f.put("chunk-count", Integer.toString(chunks.size()));
        return f;
    }

    static Manifest decode(byte[] bytes, String where) {
        String text = new String(bytes, StandardCharsets.UTF_8);
        int endAt = text.lastIndexOf("end crc32c ");
        if (!text.startsWith(MAGIC_LINE + "\n") || endAt < 0 || !text.endsWith("\n")) {
            throw new BackupException(where + ": not a whole manifest (expected: first line '" + MAGIC_LINE + "', last line 'end crc32c HEX')");
        }
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, text.substring(0, endAt).getBytes(StandardCharsets.UTF_8).length);
        String stated = text.substring(endAt + "end crc32c ".length()).strip();
        if (!stated.equals(String.format("%08x", crc.getValue()))) {
            throw new BackupException(where + ": manifest CRC32C " + String.format("%08x", crc.getValue()) + " (expected: " + stated + ")");
        }
        Map<String, String> f = new LinkedHashMap<>();
        List<ChunkRef> chunks = new ArrayList<>();
        for (String line : text.substring(MAGIC_LINE.length() + 1, endAt).split("\n")) {
            String[] parts = line.split(" ");
            if (parts.length == 3 && parts[0].equals("c")) {
                chunks.add(new ChunkRef(Long.parseLong(parts[1]), parts[2]));
            } else if (parts.length == 2) {
                f.put(parts[0], parts[1]);
            } else {
                throw new BackupException(where + ": manifest line '" + line + "' (expected: 'KEY VALUE' or 'c OFFSET HASH')");
            }
        }
        try {
            Manifest m = new Manifest(f.get("id"), f.get("vdisk"), Long.parseLong(f.get("vdisk-id")), f.get("snapshot"),
                    Optional.of(f.get("parent")).filter(p -> !p.equals("-")), Instant.parse(f.get("created")),
                    Long.parseLong(f.get("size-bytes")), Integer.parseInt(f.get("block-size-bytes")), Integer.parseInt(f.get("grain-size-bytes")),
                    Integer.parseInt(f.get("chunk-bytes")), Long.parseLong(f.get("read-bytes")), Long.parseLong(f.get("new-stored-bytes")), chunks);
            if (m.chunks().size() != Integer.parseInt(f.get("chunk-count")) || m.id() == null || m.vdisk() == null || m.snapshot() == null) {
                throw new BackupException(where + ": " + m.chunks().size() + " chunk lines, chunk-count " + f.get("chunk-count")
                        + " (expected: equal, and id, vdisk and snapshot present)");
            }
            return m;
        } catch (BackupException e) {
            throw e;
        } catch (RuntimeException e) { // a missing field (null) or a malformed number
            throw new BackupException(where + ": manifest field missing or malformed: " + e.getMessage() + " (fields: " + f.keySet() + ")", e);
        }
    }
}
