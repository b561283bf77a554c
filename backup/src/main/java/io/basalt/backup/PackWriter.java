package io.basalt.backup;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * Appends new chunks to a pack under the repository's {@code tmp/}; at about
 * {@value #PACK_BYTES_TARGET} bytes, and at {@link #finish()}, the pack gets its index, is fsynced
 * and renamed into {@code packs/}, and only then do its chunks count as stored. One fsync per
 * pack, not per chunk: a 64 KiB chunk per file would cost a journal commit each.
 *
 * <p>{@link #close()} without {@link #finish()} (a failed backup) deletes the unfinished pack;
 * packs already in place stay (dead weight until a prune, reused by the next backup).
 */
public final class PackWriter implements AutoCloseable {
    static final long PACK_BYTES_TARGET = 32L << 20;

    private final Repository repo;
    private final Set<String> pending = new HashSet<>();
    private final List<Packs.Entry> entries = new ArrayList<>();
    private FileChannel channel;
    private Path tmp;
    private long positionBytes;
    private long storedBytes;
    private int packCount;

    PackWriter(Repository repo) {
        this.repo = repo;
    }

    /** Whether a chunk of this content is stored, or pending in this writer's open pack. */
    public boolean has(String hash) {
        return pending.contains(hash) || repo.has(hash);
    }

    /**
     * Stores {@code data[at, at + length)} as chunk {@code hash} unless it is stored already;
     * returns the bytes it added to the pack (0 when deduplicated).
     */
    public int add(String hash, byte[] data, int at, int length) {
        if (has(hash)) {
            return 0;
        }
        return append(hash, data, at, length);
    }

    /**
     * Stores a record {@link Chunks#encode} made (null when the caller found the chunk stored) unless
     * the chunk is stored or pending already; returns the bytes it added to the pack.
     */
    public int addEncoded(String hash, byte[] record) {
        if (record == null || has(hash)) {
            return 0;
        }
        return appendRecord(hash, record);
    }

    private int append(String hash, byte[] data, int at, int length) {
        return appendRecord(hash, Chunks.encode(hash, data, at, length));
    }

    private int appendRecord(String hash, byte[] record) {
        try {
            if (channel == null) {
                startPack();
            }
            write(ByteBuffer.wrap(record));
        } catch (IOException e) {
            throw new BackupException("write pack " + tmp + ": " + e.getMessage(), e);
        }
        entries.add(new Packs.Entry(hash, positionBytes, record.length));
        pending.add(hash);
        positionBytes += record.length;
        storedBytes += record.length;
        if (positionBytes >= PACK_BYTES_TARGET) {
            seal();
        }
        return record.length;
    }

    /**
     * For a prune rewriting {@code rewriting}: whether {@code hash} needs no copy, being pending
     * here or held by a pack that stays.
     */
    boolean pendingOrPlacedElsewhere(String hash, List<Path> rewriting) {
        return pending.contains(hash) || (repo.has(hash) && !rewriting.contains(repo.locate(hash).pack()));
    }

    /** Stores a copy of a chunk held by a pack about to be removed (a prune's rewrite). */
    void addCopy(String hash, byte[] data) {
        if (pending.contains(hash)) {
            return;
        }
        append(hash, data, 0, data.length);
    }

    /** Bytes of new chunk records written so far. */
    public long storedBytes() {
        return storedBytes;
    }

    /** Packs put in place so far. */
    public int packCount() {
        return packCount;
    }

    /** Puts the open pack in place: after this every chunk added is durable and {@link Repository#has} it. */
    public void finish() {
        if (channel != null) {
            seal();
        }
    }

    private void startPack() throws IOException {
        tmp = repo.tmpDir().resolve("pack-" + System.nanoTime() + ".tmp");
        channel = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        write(Packs.header());
        positionBytes = Packs.HEADER_BYTES;
    }

    private void write(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }

    private void seal() {
        ByteBuffer index = Packs.indexAndTrailer(entries, positionBytes);
        String name = name(index);
        try {
            write(index);
            channel.force(true);
            channel.close();
        } catch (IOException e) {
            throw new BackupException("write pack " + tmp + ": " + e.getMessage(), e);
        }
        channel = null;
        Path placed = repo.placePack(tmp, name);
        repo.packed(placed, List.copyOf(entries));
        packCount++;
        tmp = null;
        entries.clear();
        pending.clear();
    }

    /** A pack is named by the SHA-256 of its index: what it holds decides its name, and two packs never share one. */
    private static String name(ByteBuffer index) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(index.duplicate());
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java platform", e);
        }
    }

    @Override
    public void close() {
        if (channel != null) {
            Durable.closeQuietly(channel);
            channel = null;
            Durable.delete(tmp);
            pending.clear();
            entries.clear();
        }
    }
}
