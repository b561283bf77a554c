package io.basalt.backup;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A backup repository: a directory (docs/backup-format.md) holding
 * <ul>
 *   <li>{@value #VERSION_FILE}: what the repository is, its version and chunk size;</li>
 *   <li>{@code packs/*.pack}: chunk records, content-addressed by SHA-256, each chunk stored once;</li>
 *   <li>{@code manifests/*.manifest}: one per backup, the chunk of each offset;</li>
 *   <li>{@code tmp/}: files being written; never read, emptied on open by a writer;</li>
 *   <li>{@code lock}: held (fcntl) by the one process working on the repository.</li>
 * </ul>
 *
 * <p>Crash safety comes from order: a pack or manifest is written under {@code tmp/}, fsynced,
 * renamed into place and its directory fsynced; a backup writes its manifest only after every
 * pack holding its new chunks is in place. A crash leaves at most packs no manifest uses (dead
 * weight until {@code prune}) and files under {@code tmp/}; every manifest present is whole.
 *
 * <p>Owns the open pack channels; not thread-safe (one command works on it at a time).
 */
public final class Repository implements AutoCloseable {
    public static final String VERSION_FILE = "basalt-backup";
    public static final String VERSION_LINE = "basalt-backup-repository 1";
    public static final int CHUNK_BYTES_DEFAULT = 64 * 1024;
    public static final int CHUNK_BYTES_MIN = 4 * 1024;
    public static final int CHUNK_BYTES_MAX = 4 * 1024 * 1024;
    static final String MANIFEST_SUFFIX = ".manifest";

    private final Path dir;
    private final int chunkBytes;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final Map<String, Packs.Location> index = new HashMap<>();
    private final Map<Path, FileChannel> openPacks = new HashMap<>();

    private Repository(Path dir, int chunkBytes, FileChannel lockChannel, FileLock lock) {
        this.dir = dir;
        this.chunkBytes = chunkBytes;
        this.lockChannel = lockChannel;
        this.lock = lock;
    }

    /** Opens the repository at {@code dir}; refused when it is not one. */
    public static Repository open(Path dir) {
        return open(dir, 0);
    }

    /**
     * Opens the repository at {@code dir}, or with {@code createChunkBytes > 0} creates one there
     * with that chunk size when {@code dir} is missing or empty.
     */
    public static Repository open(Path dir, int createChunkBytes) {
        try {
            Path version = dir.resolve(VERSION_FILE);
            if (!Files.exists(version)) {
                if (createChunkBytes <= 0 || (Files.isDirectory(dir) && !isEmpty(dir)) || (Files.exists(dir) && !Files.isDirectory(dir))) {
                    throw new BackupException("repository " + dir + ": no " + VERSION_FILE + " file (expected: a backup repository"
                            + (createChunkBytes > 0 ? ", or a missing or empty directory to create one in" : "") + ")");
                }
                init(dir, createChunkBytes);
            }
            int chunkBytes = readVersion(version);
            FileChannel lockChannel = FileChannel.open(dir.resolve("lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = lockChannel.tryLock();
            } catch (java.nio.channels.OverlappingFileLockException e) {
                lock = null;    // this process holds it already (another job of the same server)
            }
            if (lock == null) {
                lockChannel.close();
                throw new BackupException("repository " + dir + ": in use by another process (expected: one basalt backup command at a time)");
            }
            Repository repo = new Repository(dir, chunkBytes, lockChannel, lock);
            repo.clearTmp();
            repo.loadIndex();
            return repo;
        } catch (IOException e) {
            throw new BackupException("repository " + dir + ": " + e.getMessage(), e);
        }
    }

    private static boolean isEmpty(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }

    private static void init(Path dir, int chunkBytes) throws IOException {
        if (chunkBytes < CHUNK_BYTES_MIN || chunkBytes > CHUNK_BYTES_MAX || Integer.bitCount(chunkBytes) != 1) {
            throw new IllegalArgumentException("chunk size: " + chunkBytes + " bytes (expected: a power of two from "
                    + CHUNK_BYTES_MIN + " to " + CHUNK_BYTES_MAX + ")");
        }
        Files.createDirectories(dir);
        for (String sub : List.of("packs", "manifests", "tmp")) {
            Files.createDirectories(dir.resolve(sub));
        }
        String text = VERSION_LINE + "\nchunk-bytes " + chunkBytes + "\nhash sha256\ncompression lz4\nchecksum crc32c\n"
                + "format docs/backup-format.md of Basalt\n";
        Durable.write(dir.resolve("tmp"), dir.resolve(VERSION_FILE), ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
    }

    private static int readVersion(Path version) throws IOException {
        List<String> lines = Files.readAllLines(version, StandardCharsets.UTF_8);
        if (lines.isEmpty() || !lines.getFirst().equals(VERSION_LINE)) {
            throw new BackupException(version + ": first line '" + (lines.isEmpty() ? "" : lines.getFirst()) + "' (expected: '" + VERSION_LINE + "')");
        }
        for (String line : lines) {
            if (line.startsWith("chunk-bytes ")) {
                int chunkBytes = Integer.parseInt(line.substring("chunk-bytes ".length()).strip());
                if (chunkBytes < CHUNK_BYTES_MIN || chunkBytes > CHUNK_BYTES_MAX) {
                    throw new BackupException(version + ": chunk-bytes " + chunkBytes + " (expected: " + CHUNK_BYTES_MIN + ".." + CHUNK_BYTES_MAX + ")");
                }
                return chunkBytes;
            }
        }
        throw new BackupException(version + ": no chunk-bytes line");
    }

    /** Files under tmp/ are what a crashed or failed writer left: nothing refers to them. */
    private void clearTmp() throws IOException {
        try (Stream<Path> s = Files.list(tmpDir())) {
            for (Path p : s.toList()) {
                Files.delete(p);
            }
        }
    }

    private void loadIndex() throws IOException {
        for (Path pack : packs()) {
            for (Packs.Entry e : Packs.readIndex(pack)) {
                index.putIfAbsent(e.hash(), new Packs.Location(pack, e.offsetBytes(), e.recordBytes()));
            }
        }
    }

    public Path directory() {
        return dir;
    }

    public int chunkBytes() {
        return chunkBytes;
    }

    Path tmpDir() {
        return dir.resolve("tmp");
    }

    Path packDir() {
        return dir.resolve("packs");
    }

    Path manifestDir() {
        return dir.resolve("manifests");
    }

    /** Every pack in place, by name. */
    List<Path> packs() throws IOException {
        try (Stream<Path> s = Files.list(packDir())) {
            return s.filter(p -> p.getFileName().toString().endsWith(Packs.SUFFIX)).sorted().toList();
        }
    }

    /** Whether a chunk of this content is stored in a pack in place. */
    public boolean has(String hash) {
        return index.containsKey(hash);
    }

    /** How many distinct chunks the repository holds. */
    public int chunkCount() {
        return index.size();
    }

    Packs.Location locate(String hash) {
        Packs.Location at = index.get(hash);
        if (at == null) {
            throw new BackupException("chunk " + hash + ": in no pack of repository " + dir + " (expected: every chunk a manifest names)");
        }
        return at;
    }

    /** The raw bytes of the chunk named {@code hash}, checked (CRC32C, then SHA-256); a damaged chunk is refused, named. */
    public byte[] readChunk(String hash) {
        Packs.Location at = locate(hash);
        try {
            FileChannel ch = openPacks.computeIfAbsent(at.pack(), Repository::openRead);
            ByteBuffer rec = Packs.readFully(ch, at.offsetBytes(), at.recordBytes());
            String where = "in " + at.pack().getFileName() + " at " + at.offsetBytes();
            Chunks.Header h = Chunks.header(rec, "chunk " + hash + " " + where);
            if (h.recordBytes() != at.recordBytes()) {
                throw new BackupException("chunk " + hash + " " + where + ": record of " + h.recordBytes() + " bytes (expected: "
                        + at.recordBytes() + " as the index says)");
            }
            byte[] stored = new byte[h.storedBytes()];
            rec.get(stored);
            return Chunks.decode(h, stored, hash, where);
        } catch (IOException e) {
            throw new BackupException("chunk " + hash + " in " + at.pack() + ": " + e.getMessage(), e);
        }
    }

    private static FileChannel openRead(Path pack) {
        try {
            return FileChannel.open(pack, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new BackupException("pack " + pack + ": " + e.getMessage(), e);
        }
    }

    /** A writer for new chunks; what it writes becomes visible (and durable) pack by pack. */
    public PackWriter packWriter() {
        return new PackWriter(this);
    }

    /** Called by a {@link PackWriter} once a pack is in place and durable. */
    void packed(Path pack, List<Packs.Entry> entries) {
        for (Packs.Entry e : entries) {
            // The newest copy wins: a prune's rewritten pack replaces the pack it is about to remove.
            index.put(e.hash(), new Packs.Location(pack, e.offsetBytes(), e.recordBytes()));
        }
    }

    /** Every backup, oldest first (by creation time, then id). */
    public List<Manifest> manifests() {
        try (Stream<Path> s = Files.list(manifestDir())) {
            List<Manifest> all = new ArrayList<>();
            for (Path p : s.filter(p -> p.getFileName().toString().endsWith(MANIFEST_SUFFIX)).toList()) {
                all.add(Manifest.decode(Files.readAllBytes(p), p.toString()));
            }
            all.sort(Comparator.comparing(Manifest::created).thenComparing(Manifest::id));
            return all;
        } catch (IOException e) {
            throw new BackupException("repository " + dir + ": " + e.getMessage(), e);
        }
    }

    public Manifest manifest(String id) {
        Path p = manifestDir().resolve(id + MANIFEST_SUFFIX);
        if (!Files.isRegularFile(p)) {
            throw new IllegalArgumentException("backup: " + id + " (expected: one of " + manifests().stream().map(Manifest::id).toList()
                    + " in " + dir + ")");
        }
        try {
            return Manifest.decode(Files.readAllBytes(p), p.toString());
        } catch (IOException e) {
            throw new BackupException("manifest " + p + ": " + e.getMessage(), e);
        }
    }

    /** Puts {@code m} in place, durably; every chunk it names must already be in a pack in place. */
    void writeManifest(Manifest m) {
        for (Manifest.ChunkRef c : m.chunks()) {
            if (!has(c.hash())) {
                throw new IllegalStateException("manifest " + m.id() + ": chunk " + c.hash() + " at " + c.offsetBytes()
                        + " is in no pack in place (expected: packs durable before the manifest)");
            }
        }
        Path target = manifestDir().resolve(m.id() + MANIFEST_SUFFIX);
        if (Files.exists(target)) {
            throw new IllegalStateException("manifest " + target + " exists (expected: a new backup id)");
        }
        Durable.write(tmpDir(), target, ByteBuffer.wrap(m.encode()));
    }

    /** Removes a manifest durably (its chunks stay until a prune finds nothing uses them). */
    void deleteManifest(String id) {
        Durable.delete(manifestDir().resolve(id + MANIFEST_SUFFIX));
    }

    /** Removes a pack durably; the caller has made sure nothing it holds is needed or it is held elsewhere. */
    void deletePack(Path pack) {
        FileChannel ch = openPacks.remove(pack);
        if (ch != null) {
            Durable.closeQuietly(ch);
        }
        Durable.delete(pack);
        // Another pack may hold a copy of a chunk this one held (a crash between a repack and a delete): index again.
        index.clear();
        try {
            loadIndex();
        } catch (IOException e) {
            throw new BackupException("repository " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Moves a finished pack's temp file into place under its name. */
    Path placePack(Path tmp, String name) {
        Path target = packDir().resolve(name + Packs.SUFFIX);
        Durable.rename(tmp, target);
        return target;
    }

    @Override
    public void close() {
        openPacks.values().forEach(Durable::closeQuietly);
        openPacks.clear();
        try {
            lock.release();
            lockChannel.close();
        } catch (IOException e) {
            throw new BackupException("repository " + dir + ": release lock: " + e.getMessage(), e);
        }
    }
}
