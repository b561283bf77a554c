package io.basalt.cluster.raft;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.SnapshotRetentionPolicy;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.impl.FileListSnapshotInfo;

/**
 * Snapshots as RocksDB checkpoints, laid out so Ratis can ship them to a follower.
 *
 * <pre>
 *   &lt;group dir&gt;/store/                   the live RocksDB (never inside the snapshot dir: an
 *                                        installed snapshot replaces that dir wholesale)
 *   &lt;group dir&gt;/snapshots/snap-T_I/      the checkpoint taken at term T, index I
 *   &lt;group dir&gt;/snapshots/tmp-I/         a checkpoint being written (never registered)
 * </pre>
 *
 * A snapshot is registered only after its checkpoint is complete and renamed into place; a
 * follower that receives one gets the same {@code snap-T_I} tree (plus Ratis's .md5 files).
 */
final class CheckpointStorage implements StateMachineStorage {
    private static final Pattern SNAP = Pattern.compile("snap-(\\d+)_(\\d+)");
    static final int SNAPSHOTS_KEPT = 2;

    private Path root;
    private Path snapshotDir;
    private volatile FileListSnapshotInfo latest;

    @Override
    public void init(RaftStorage raftStorage) throws IOException {
        root = raftStorage.getStorageDir().getRoot().toPath();
        snapshotDir = root.resolve("snapshots");
        Files.createDirectories(snapshotDir);
        reload();
    }

    Path storeDir() {
        return root.resolve("store");
    }

    /** Rescans the snapshot dir (after start and after a snapshot was installed). */
    void reload() throws IOException {
        latest = newest().map(this::describe).orElse(null);
    }

    @Override
    public FileListSnapshotInfo getLatestSnapshot() {
        return latest;
    }

    /** The directory of the latest snapshot, if any. */
    Optional<Path> latestDir() {
        FileListSnapshotInfo s = latest;
        return s == null ? Optional.empty() : Optional.of(dirOf(s.getTermIndex()));
    }

    @Override
    public void format() {
        // Nothing to format: directories are created on init.
    }

    @Override
    public File getSnapshotDir() {
        return snapshotDir.toFile();
    }

    /** Where a checkpoint for {@code index} is written before {@link #publish}. */
    Path tmpDir(long index) throws IOException {
        Path tmp = snapshotDir.resolve("tmp-" + index);
        deleteTree(tmp);
        return tmp;
    }

    /** Moves a finished checkpoint into place and registers it as the latest snapshot. */
    void publish(TermIndex at, Path tmp) throws IOException {
        Path target = dirOf(at);
        if (Files.exists(target)) {
            throw new FileAlreadyExistsException(target + ": a snapshot at " + at + " exists already");
        }
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        latest = describe(target);
    }

    /**
     * Keeps the newest {@link #SNAPSHOTS_KEPT} snapshots: the one before the latest may still be
     * streaming to a follower (deleting it would only make that follower start over).
     */
    @Override
    public void cleanupOldSnapshots(SnapshotRetentionPolicy policy) throws IOException {
        List<Path> snaps;
        try (Stream<Path> dirs = Files.list(snapshotDir)) {
            snaps = dirs.filter(d -> SNAP.matcher(d.getFileName().toString()).matches())
                    .sorted(Comparator.comparingLong((Path d) -> termIndexOf(d).getIndex()).reversed())
                    .toList();
        }
        for (Path d : snaps.subList(Math.min(SNAPSHOTS_KEPT, snaps.size()), snaps.size())) {
            deleteTree(d);
        }
    }

    /**
     * Replaces {@code storeDir} with a copy of the latest snapshot: table files are hard-linked
     * (RocksDB never changes them), the rest (WAL, MANIFEST, CURRENT, OPTIONS) copied, because the
     * store appends to them and the snapshot must stay as it was.
     */
    void restoreLatestInto(Path storeDir) throws IOException {
        Path from = latestDir().orElseThrow(() -> new IOException("no snapshot to restore in " + snapshotDir));
        deleteTree(storeDir);
        Files.createDirectories(storeDir);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : files.toList()) {
                String name = f.getFileName().toString();
                if (name.endsWith(".md5") || !Files.isRegularFile(f)) {
                    continue;
                }
                if (name.endsWith(".sst")) {
                    Files.createLink(storeDir.resolve(name), f);
                } else {
                    Files.copy(f, storeDir.resolve(name));
                }
            }
        }
    }

    private Path dirOf(TermIndex at) {
        return snapshotDir.resolve("snap-" + at.getTerm() + "_" + at.getIndex());
    }

    private Optional<Path> newest() throws IOException {
        try (Stream<Path> dirs = Files.list(snapshotDir)) {
            return dirs.filter(d -> SNAP.matcher(d.getFileName().toString()).matches())
                    .max(Comparator.comparingLong(d -> termIndexOf(d).getIndex()));
        }
    }

    static TermIndex termIndexOf(Path dir) {
        Matcher m = SNAP.matcher(dir.getFileName().toString());
        if (!m.matches()) {
            throw new IllegalArgumentException("snapshot dir: " + dir + " (expected: snap-TERM_INDEX)");
        }
        return TermIndex.valueOf(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)));
    }

    private FileListSnapshotInfo describe(Path dir) {
        List<FileInfo> files = new ArrayList<>();
        try (Stream<Path> list = Files.list(dir)) {
            for (Path f : list.sorted().toList()) {
                if (Files.isRegularFile(f) && !f.getFileName().toString().endsWith(".md5")) {
                    files.add(new FileInfo(f.toAbsolutePath(), null));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("list snapshot " + dir, e);
        }
        return new FileListSnapshotInfo(files, termIndexOf(dir));
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
