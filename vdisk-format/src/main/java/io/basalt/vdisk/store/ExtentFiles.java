package io.basalt.vdisk.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.rocksdb.ReadOptions;
import org.rocksdb.RocksIterator;
import org.rocksdb.Snapshot;

import io.basalt.vdisk.frame.BlockFrame;
import io.basalt.vdisk.frame.FrameException;

/**
 * The store's extent files ({@code extents/NNNNNNNNNN.ext} beside the RocksDB files): large
 * aligned writes append their grain data here with one positional write, and the grain's frame
 * in RocksDB is an {@link BlockFrame.Kind#EXTENT} pointer (see {@link ExtentWrites}).
 *
 * <ul>
 *   <li><b>Appends</b> go to the one open file, at 4 KiB-aligned offsets; a full file is sealed
 *       and a new one opened. A store opened again starts a new file (the old open file's tail
 *       past its last pointer is garbage until the whole file dies).</li>
 *   <li><b>Data before pointer</b>: {@link #sync} fdatasyncs every file written since the last
 *       sync (and the directory, for new files); {@link StoreDb} runs it before every WAL sync,
 *       so a synced pointer never names unsynced data. Syncs are serialised: a second caller
 *       waits for a sync under way rather than skipping data it has not forced yet.</li>
 *   <li><b>Space</b>: {@link #reclaim} counts, under one RocksDB snapshot, the bytes every
 *       extent pointer references per file, and deletes each sealed file no pointer references
 *       and no append in flight targets. It runs on its own thread when a file is sealed and
 *       when the collector finishes, so head overwrites, unmaps, removed vdisks, rollbacks and
 *       collected snapshots all free their files by one rule. A deleted file's channel stays
 *       open until the next pass, so a read that found a pointer just before its file died
 *       still reads it.</li>
 * </ul>
 */
final class ExtentFiles implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ExtentFiles.class.getName());
    /** Size of one extent file (the property exists for tests, which want many small files). */
    static final long FILE_BYTES = Long.getLong("basalt.engine.extentFileBytes", 256L << 20);
    static final int ALIGN_BYTES = 4096;
    /** The shortest time between two reclaim passes. */
    static final long RECLAIM_INTERVAL_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(1);
    /** The directory of the extent files, inside the store's. */
    static final String DIR = "extents";
    private final java.util.concurrent.atomic.LongAdder appended = new java.util.concurrent.atomic.LongAdder();

    private final Path dir;
    private volatile boolean readOnly;
    private final Map<Long, FileChannel> channels = new ConcurrentHashMap<>();
    private final Map<Long, AtomicInteger> inflightAppends = new ConcurrentHashMap<>();
    private final Set<Long> unsynced = ConcurrentHashMap.newKeySet();
    private final Object appendLock = new Object();
    private final Object syncLock = new Object();
    private volatile boolean writable;
    private volatile boolean dirUnsynced;
    private long openId = -1;
    private long openOffset;
    private long nextId;
    /** Files unlinked by the last reclaim pass, their channels closed by the next. */
    private final Map<Long, FileChannel> unlinked = new HashMap<>();
    private volatile Map<Long, Long> liveBytes = Map.of();
    private StoreDb db;
    private Thread reclaimer;
    private final Object reclaimSignal = new Object();
    private boolean reclaimWanted;
    private volatile boolean closing;

    /** A positional append: where the data went. {@link #done} exactly once, after its pointers are committed (or not). */
    record Append(long fileId, long offset) {}

    ExtentFiles(Path dir) throws IOException {
        this.dir = dir;
        if (Files.isDirectory(dir)) {
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    String name = p.getFileName().toString();
                    if (name.endsWith(".ext")) {
                        long id = Long.parseLong(name.substring(0, name.length() - 4));
                        nextId = Math.max(nextId, id + 1);
                    }
                }
            }
        }
    }

    /** Lets large writes append here, and starts the reclaimer; called once the store is open. */
    void start(StoreDb db, boolean enableWrites) {
        this.db = db;
        this.readOnly = db.readOnlyReason != null;
        this.writable = enableWrites && !readOnly;
        if (!readOnly) {
            reclaimer = Thread.ofPlatform().daemon().name("vdisk-extent-reclaim").start(this::reclaimLoop);
            requestReclaim();
        }
    }

    boolean writable() {
        return writable;
    }

    /** Appends {@code length} bytes of {@code data} at {@code offset} to the open file with one positional write. */
    Append append(byte[] data, int offset, int length) {
        long id;
        long at;
        boolean sealed = false;
        synchronized (appendLock) {
            if (openId < 0 || openOffset + length > Math.max(FILE_BYTES, length)) {
                sealed = openId >= 0;
                openId = nextId++;
                openOffset = 0;
            }
            id = openId;
            at = openOffset;
            openOffset = (at + length + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES;
            inflightAppends.computeIfAbsent(id, k -> new AtomicInteger()).incrementAndGet();
        }
        if (sealed) {
            requestReclaim();
        }
        try {
            FileChannel ch = channel(id, true);
            ByteBuffer buf = ByteBuffer.wrap(data, offset, length);
            long pos = at;
            while (buf.hasRemaining()) {
                pos += ch.write(buf, pos);
            }
            unsynced.add(id);
            appended.add(length);
            return new Append(id, at);
        } catch (IOException | RuntimeException e) {
            done(new Append(id, at));
            throw StoreErrors.blockDevice("extent append failed (file " + id + ", offset " + at + ", " + length + " bytes)",
                    e instanceof IOException io ? io : new IOException(e));
        }
    }

    /** The append's pointers are committed, or will never be: its file may be reclaimed. */
    void done(Append a) {
        AtomicInteger n = inflightAppends.get(a.fileId());
        if (n != null) {
            n.decrementAndGet();
        }
    }

    /**
     * Reads the data of extent frame {@code frame} into {@code out} at absolute index
     * {@code index} and checks its CRC32C; a file that is gone or short, or data that does not
     * match, is a {@link FrameException}.
     */
    void read(byte[] frame, int grainBytes, ByteBuffer out, int index) {
        long id = BlockFrame.extentFile(frame);
        long offset = BlockFrame.extentOffset(frame);
        int length = BlockFrame.extentLength(frame);
        if (length != grainBytes) {
            throw new FrameException("extent length: " + length + " bytes (expected: " + grainBytes + ")");
        }
        try {
            FileChannel ch = channel(id, false);
            ByteBuffer dst = out.slice(index, length);
            long pos = offset;
            while (dst.hasRemaining()) {
                int n = ch.read(dst, pos);
                if (n < 0) {
                    throw new FrameException("extent file " + id + " ends before offset " + (offset + length));
                }
                pos += n;
            }
        } catch (NoSuchFileException e) {
            throw new FrameException("extent file " + id + " is missing (" + path(id) + ")");
        } catch (IOException e) {
            throw StoreErrors.blockDevice("extent file " + id + " read at offset " + offset + " failed", e);
        }
        BlockFrame.checkExtentData(frame, grainBytes, out, index);
    }

    /** Decodes any frame into {@code out} at absolute index {@code index}, extent frames through their files. */
    void decode(byte[] frame, int grainBytes, ByteBuffer out, int index) {
        if (BlockFrame.kind(frame) == BlockFrame.Kind.EXTENT) {
            read(frame, grainBytes, out, index);
        } else {
            BlockFrame.decode(frame, grainBytes, out, index);
        }
    }

    /** Forces every file written since the last sync, and the directory when it changed: before a WAL sync. */
    void sync() {
        if (unsynced.isEmpty() && !dirUnsynced) {
            synchronized (syncLock) {
                return; // waits for a sync under way, which may be forcing data this caller's pointers name
            }
        }
        synchronized (syncLock) {
            try {
                for (Long id : unsynced.toArray(new Long[0])) {
                    unsynced.remove(id);
                    FileChannel ch = channels.get(id);
                    if (ch != null) {
                        ch.force(false);
                    }
                }
                if (dirUnsynced) {
                    dirUnsynced = false;
                    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                        d.force(true);
                    }
                }
            } catch (IOException e) {
                throw StoreErrors.blockDevice("extent files sync failed in " + dir, e);
            }
        }
    }

    /** Bytes each extent file's pointers referenced at the last {@link #reclaim} pass. */
    Map<Long, Long> liveBytes() {
        return liveBytes;
    }

    /** Sizes of the extent files on disk, by id. */
    Map<Long, Long> fileBytes() throws IOException {
        Map<Long, Long> sizes = new TreeMap<>();
        if (Files.isDirectory(dir)) {
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    String name = p.getFileName().toString();
                    if (name.endsWith(".ext")) {
                        sizes.put(Long.parseLong(name.substring(0, name.length() - 4)), Files.size(p));
                    }
                }
            }
        }
        return sizes;
    }

    void requestReclaim() {
        synchronized (reclaimSignal) {
            reclaimWanted = true;
            reclaimSignal.notifyAll();
        }
    }

    /**
     * One pass: counts the bytes referenced per file under one snapshot and deletes the sealed
     * files nothing references. The candidates are chosen before the snapshot is taken: a
     * sealed file takes no new appends, and one without appends in flight has all its pointers
     * committed, so the snapshot sees every pointer into it (a pointer copied by a clone or
     * moved by the collector is committed in the same batch that drops the original).
     */
    synchronized void reclaim() throws IOException {
        for (FileChannel ch : unlinked.values()) {
            ch.close();
        }
        unlinked.clear();
        Set<Long> candidates = new java.util.HashSet<>();
        Map<Long, Long> onDisk = fileBytes();
        if (onDisk.isEmpty()) {
            liveBytes = Map.of(); // no files, no pointers: nothing to read
            return;
        }
        synchronized (appendLock) {
            for (long id : onDisk.keySet()) {
                AtomicInteger n = inflightAppends.get(id);
                if (id != openId && (n == null || n.get() == 0)) {
                    candidates.add(id);
                }
            }
        }
        Map<Long, Long> live = new TreeMap<>();
        Snapshot snapshot = db.db.getSnapshot();
        try (ReadOptions options = new ReadOptions(db.scanReadOptions).setSnapshot(snapshot).setFillCache(false);
             RocksIterator it = db.db.newIterator(db.blocks, options)) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] v = it.value();
                if (v.length == BlockFrame.EXTENT_FRAME_BYTES && BlockFrame.kind(v) == BlockFrame.Kind.EXTENT) {
                    live.merge(BlockFrame.extentFile(v), (long) BlockFrame.extentLength(v), Long::sum);
                }
            }
            it.status();
        } catch (org.rocksdb.RocksDBException e) {
            throw new IOException("extent reclaim scan failed: " + e.getMessage(), e);
        } finally {
            db.db.releaseSnapshot(snapshot);
        }
        liveBytes = Map.copyOf(live);
        for (long id : candidates) {
            if (!live.containsKey(id)) {
                Files.deleteIfExists(path(id));
                FileChannel ch = channels.remove(id);
                if (ch != null) {
                    unlinked.put(id, ch);
                }
                inflightAppends.remove(id);
                unsynced.remove(id);
            }
        }
    }

    private void reclaimLoop() {
        while (!closing) {
            synchronized (reclaimSignal) {
                while (!reclaimWanted && !closing) {
                    try {
                        reclaimSignal.wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                reclaimWanted = false;
            }
            if (closing) {
                return;
            }
            try {
                reclaim();
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "extent reclaim in " + dir + " failed; the files stay until the next pass", e);
            }
            // A pass reads every key of the block column family: at most one per interval, however fast files fill.
            java.util.concurrent.locks.LockSupport.parkNanos(RECLAIM_INTERVAL_NANOS);
        }
    }

    Path path(long id) {
        return dir.resolve(fileName(id));
    }

    static String fileName(long id) {
        return String.format("%010d.ext", id);
    }

    /** Bytes appended since the store opened. */
    long appendedBytes() {
        return appended.sum();
    }

    private FileChannel channel(long id, boolean create) throws IOException {
        FileChannel ch = channels.get(id);
        if (ch != null) {
            return ch;
        }
        synchronized (channels) {
            ch = channels.get(id);
            if (ch == null) {
                if (create) {
                    Files.createDirectories(dir);
                    ch = FileChannel.open(path(id), StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE);
                    dirUnsynced = true;
                } else {
                    ch = FileChannel.open(path(id), readOnly ? new StandardOpenOption[] {StandardOpenOption.READ}
                            : new StandardOpenOption[] {StandardOpenOption.READ, StandardOpenOption.WRITE});
                }
                channels.put(id, ch);
            }
            return ch;
        }
    }

    @Override
    public void close() {
        closing = true;
        requestReclaim();
        if (reclaimer != null) {
            java.util.concurrent.locks.LockSupport.unpark(reclaimer);
            try {
                reclaimer.join(java.util.concurrent.TimeUnit.SECONDS.toMillis(30));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (this) {
            for (FileChannel ch : channels.values()) {
                closeQuietly(ch);
            }
            for (FileChannel ch : unlinked.values()) {
                closeQuietly(ch);
            }
            channels.clear();
            unlinked.clear();
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            LOG.log(Level.FINE, "closing an extent file", e);
        }
    }
}
