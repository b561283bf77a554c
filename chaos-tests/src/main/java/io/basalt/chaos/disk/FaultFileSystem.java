package io.basalt.chaos.disk;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import jnr.ffi.Pointer;
import ru.serce.jnrfuse.ErrorCodes;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.FuseStubFS;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.FuseFileInfo;
import ru.serce.jnrfuse.struct.Statvfs;
import ru.serce.jnrfuse.struct.Timespec;

/**
 * The FUSE callbacks of one mount: a passthrough to a backing directory in which file data waits
 * in memory ({@link UnsyncedFile}) until the file is fsynced, and which fails calls as the
 * current {@link FaultMode} says.
 *
 * <p>The model, and where it is simpler than a disk: data reaches the backing file only on
 * fsync/fdatasync of that file, never on close (close does not make data durable on Linux
 * either); metadata calls (create, mkdir, rename, unlink, rmdir, chmod, utimens) reach the
 * backing directory at once, as if every directory were synced right away. A real power cut can
 * also lose a create or a rename whose directory was not synced, reorder them, or tear a sector;
 * this model loses only file data and sizes. Directory fsync is accepted and does nothing
 * (it fails in {@link FaultMode.FsyncFails}). Hard links are served for files with no unsynced
 * data (a RocksDB checkpoint, the Raft snapshot of a placement group, links its synced table
 * files); a link to a file with unsynced data is refused (EOPNOTSUPP), as each name would
 * otherwise keep unsynced data of its own. Symbolic links, xattrs and locks are not served
 * (ENOSYS, and the kernel keeps locks locally); RocksDB needs none of them.
 *
 * <p>Ownership: {@link FaultMount} creates one per mount; after the mount is gone it either
 * drops the unsynced data ({@link #dropUnsynced}, the power cut) or syncs it ({@link #syncAll},
 * a clean unmount).
 */
final class FaultFileSystem extends FuseStubFS {
    private final Path backing;
    private final Map<String, OpenFile> files = new ConcurrentHashMap<>();
    private final FaultMount.Control control;
    private final AtomicLong failedCallCount = new AtomicLong();

    /** A file's unsynced data and its backing channel; the monitor guards both. */
    static final class OpenFile {
        final UnsyncedFile data;
        FileChannel channel;

        OpenFile(UnsyncedFile data, FileChannel channel) {
            this.data = data;
            this.channel = channel;
        }
    }

    FaultFileSystem(Path backing, FaultMount.Control control) {
        this.backing = backing;
        this.control = control;
    }

    /** The mount is gone (fusermount -u): jnr-fuse's own unmount, from its shutdown hook, must not run. */
    void markUnmounted() {
        mounted.set(false);
    }

    long failedCallCount() {
        return failedCallCount.get();
    }

    private Path backingPath(String path) {
        return backing.resolve(path.substring(1));
    }

    private OpenFile file(String path) throws IOException {
        OpenFile f = files.get(path);
        if (f != null) {
            return f;
        }
        synchronized (files) {
            f = files.get(path);
            if (f == null) {
                FileChannel ch = FileChannel.open(backingPath(path), StandardOpenOption.READ, StandardOpenOption.WRITE);
                f = new OpenFile(new UnsyncedFile(ch.size()), ch);
                files.put(path, f);
            }
            return f;
        }
    }

    private int fault(int errno) {
        failedCallCount.incrementAndGet();
        return -errno;
    }

    private boolean full() {
        return control.mode() instanceof FaultMode.Full;
    }

    @Override
    public int getattr(String path, FileStat stat) {
        try {
            Map<String, Object> a = Files.readAttributes(backingPath(path),
                    "unix:mode,nlink,uid,gid,size,ino,lastModifiedTime,lastAccessTime,ctime", LinkOption.NOFOLLOW_LINKS);
            long size = (Long) a.get("size");
            OpenFile f = files.get(path);
            if (f != null) {
                synchronized (f) {
                    size = f.data.sizeBytes();
                }
            }
            stat.st_mode.set((Integer) a.get("mode"));
            stat.st_nlink.set((Integer) a.get("nlink"));
            stat.st_uid.set((Integer) a.get("uid"));
            stat.st_gid.set((Integer) a.get("gid"));
            stat.st_ino.set((Long) a.get("ino"));
            stat.st_size.set(size);
            stat.st_blksize.set(4096);
            stat.st_blocks.set((size + 511) / 512);
            setTime(stat.st_mtim, (FileTime) a.get("lastModifiedTime"));
            setTime(stat.st_atim, (FileTime) a.get("lastAccessTime"));
            setTime(stat.st_ctim, (FileTime) a.get("ctime"));
            return 0;
        } catch (IOException e) {
            return errno(e);
        }
    }

    private static void setTime(Timespec t, FileTime time) {
        long nanos = time.to(java.util.concurrent.TimeUnit.NANOSECONDS);
        t.tv_sec.set(Math.floorDiv(nanos, 1_000_000_000L));
        t.tv_nsec.set(Math.floorMod(nanos, 1_000_000_000L));
    }

    @Override
    public int readdir(String path, Pointer buf, FuseFillDir filler, long offset, FuseFileInfo fi) {
        filler.apply(buf, ".", null, 0);
        filler.apply(buf, "..", null, 0);
        try (Stream<Path> entries = Files.list(backingPath(path))) {
            for (Path p : (Iterable<Path>) entries::iterator) {
                filler.apply(buf, p.getFileName().toString(), null, 0);
            }
            return 0;
        } catch (IOException e) {
            return errno(e);
        }
    }

    @Override
    public int opendir(String path, FuseFileInfo fi) {
        return Files.isDirectory(backingPath(path)) ? 0 : -ErrorCodes.ENOTDIR();
    }

    @Override
    public int releasedir(String path, FuseFileInfo fi) {
        return 0;
    }

    @Override
    public int mkdir(String path, long mode) {
        if (full()) {
            return fault(ErrorCodes.ENOSPC());
        }
        try {
            Files.createDirectory(backingPath(path));
            chmod(backingPath(path), mode);
            return 0;
        } catch (IOException e) {
            return errno(e);
        }
    }

    @Override
    public int rmdir(String path) {
        try {
            Files.delete(backingPath(path));
            return 0;
        } catch (IOException e) {
            return errno(e);
        }
    }

    @Override
    public int create(String path, long mode, FuseFileInfo fi) {
        if (full()) {
            return fault(ErrorCodes.ENOSPC());
        }
        try {
            synchronized (files) {
                Path p = backingPath(path);
                if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createFile(p);
                    chmod(p, mode);
                }
                file(path);
            }
            return 0;
        } catch (IOException e) {
            return errno(e);
        }
    }

    @Override
    public int open(String path, FuseFileInfo fi) {
        try {
            file(path);
            return 0;
        } catch (IOException e) {
            return errno(e);
        }
    }

    @Override
    public int read(String path, Pointer buf, long size, long offset, FuseFileInfo fi) {
        if (control.mode() instanceof FaultMode.ReadEio eio && eio.pathPattern().matcher(path).matches()) {
            return fault(ErrorCodes.EIO());
        }
        try {
            OpenFile f = file(path);
            byte[] out;
            synchronized (f) {
                out = f.data.read(offset, (int) Math.min(size, Integer.MAX_VALUE), f.channel);
            }
            buf.put(0, out, 0, out.length);
            return out.length;
        } catch (IOException e) {
            return errno(e);
        }
    }

    @Override
    public int write(String path, Pointer buf, long size, long offset, FuseFileInfo fi) {
        if (full()) {
            return fault(ErrorCodes.ENOSPC());
        }
        try {
            OpenFile f = file(path);
            byte[] data = new byte[(int) size];
            buf.get(0, data, 0, data.length);
            synchronized (f) {
                f.data.write(offset, data);
            }
            return data.length;
        } catch (IOException e) {
            return errno(e);
        }
    }

    @Override
    public int truncate(String path, long size) {
        try {
            OpenFile f = file(path);
            synchronized (f) {
                if (size > f.data.sizeBytes() && full()) {
                    return fault(ErrorCodes.ENOSPC());
                }
                f.data.truncate(size);
            }
            return 0;
        } catch (IOException e) {
            return errno(e);
        }
    }

    @Override
    public int ftruncate(String path, long size, FuseFileInfo fi) {
        return truncate(path, size);
    }

    @Override
    public int fallocate(String path, int mode, long off, long length, FuseFileInfo fi) {
        // Not modelled: the kernel then answers EOPNOTSUPP, and RocksDB takes a preallocation as a hint.
        return full() ? fault(ErrorCodes.ENOSPC()) : -ErrorCodes.ENOSYS();
    }

    @Override
    public int fsync(String path, int isdatasync, FuseFileInfo fi) {
        if (control.mode() instanceof FaultMode.FsyncFails) {
            return fault(ErrorCodes.EIO());
        }
        try {
            OpenFile f = file(path);
            synchronized (f) {
                f.data.sync(f.channel);
            }
            return 0;
        } catch (IOException e) {
            return errno(e);
        }
    }

    @Override
    public int fsyncdir(String path, FuseFileInfo fi) {
        return control.mode() instanceof FaultMode.FsyncFails ? fault(ErrorCodes.EIO()) : 0;
    }

    @Override
    public int flush(String path, FuseFileInfo fi) {
        return 0; // close(2) does not make data durable: only fsync does
    }

    @Override
    public int release(String path, FuseFileInfo fi) {
        return 0; // the channel stays open until unlink, rename over it, or the mount ends
    }

    @Override
    public int unlink(String path) {
        try {
            synchronized (files) {
                Files.delete(backingPath(path));
                closeQuietly(files.remove(path));
            }
            return 0;
        } catch (IOException e) {
            return errno(e);
        }
    }

    @Override
    public int link(String oldpath, String newpath) {
        if (full()) {
            return fault(ErrorCodes.ENOSPC());
        }
        try {
            synchronized (files) {
                OpenFile source = files.get(oldpath);
                if (source != null) {
                    synchronized (source) {
                        if (source.data.dirty()) {
                            return -ErrorCodes.EOPNOTSUPP();
                        }
                    }
                }
                Files.createLink(backingPath(newpath), backingPath(oldpath));
            }
            return 0;
        } catch (IOException e) {
            return errno(e);
        }
    }

    @Override
    public int rename(String oldpath, String newpath) {
        try {
            synchronized (files) {
                Files.move(backingPath(oldpath), backingPath(newpath), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                closeQuietly(files.remove(newpath));
                OpenFile moved = files.remove(oldpath);
                if (moved != null) {
                    files.put(newpath, moved);
                }
                if (Files.isDirectory(backingPath(newpath), LinkOption.NOFOLLOW_LINKS)) {
                    String prefix = oldpath + "/";
                    for (String key : files.keySet().stream().filter(k -> k.startsWith(prefix)).toList()) {
                        files.put(newpath + key.substring(oldpath.length()), files.remove(key));
                    }
                }
            }
            return 0;
        } catch (IOException e) {
            return errno(e);
        }
    }

    @Override
    public int chmod(String path, long mode) {
        try {
            chmod(backingPath(path), mode);
            return 0;
        } catch (IOException e) {
            return errno(e);
        }
    }

    @Override
    public int utimens(String path, Timespec[] timespec) {
        try {
            long nanos = timespec[1].tv_sec.get() * 1_000_000_000L + timespec[1].tv_nsec.longValue();
            Files.setLastModifiedTime(backingPath(path), FileTime.from(nanos, java.util.concurrent.TimeUnit.NANOSECONDS));
            return 0;
        } catch (IOException e) {
            return errno(e);
        }
    }

    @Override
    public int statfs(String path, Statvfs stbuf) {
        try {
            var store = Files.getFileStore(backing);
            long blockBytes = 4096;
            stbuf.f_bsize.set(blockBytes);
            stbuf.f_frsize.set(blockBytes);
            stbuf.f_blocks.set(store.getTotalSpace() / blockBytes);
            stbuf.f_bfree.set(full() ? 0 : store.getUnallocatedSpace() / blockBytes);
            stbuf.f_bavail.set(full() ? 0 : store.getUsableSpace() / blockBytes);
            stbuf.f_namemax.set(255);
            return 0;
        } catch (IOException e) {
            return errno(e);
        }
    }

    /**
     * The power cut, once the mount is gone: forgets every unsynced write and size change and
     * closes the backing channels. Returns what was lost, in bytes and in files.
     */
    Dropped dropUnsynced() {
        long lostBytes = 0;
        int lostFileCount = 0;
        synchronized (files) {
            for (OpenFile f : files.values()) {
                synchronized (f) {
                    if (f.data.dirty()) {
                        lostFileCount++;
                    }
                    lostBytes += f.data.drop();
                }
                closeQuietly(f);
            }
            files.clear();
        }
        return new Dropped(lostBytes, lostFileCount);
    }

    /** A clean unmount: writes every file's unsynced data through and closes the channels. */
    void syncAll() throws IOException {
        synchronized (files) {
            for (OpenFile f : files.values()) {
                synchronized (f) {
                    f.data.sync(f.channel);
                }
                closeQuietly(f);
            }
            files.clear();
        }
    }

    private static void chmod(Path p, long mode) throws IOException {
        Files.setAttribute(p, "unix:mode", (int) (mode & 07777), LinkOption.NOFOLLOW_LINKS);
    }

    private static void closeQuietly(OpenFile f) {
        if (f != null) {
            synchronized (f) {
                try {
                    f.channel.close();
                } catch (IOException e) {
                    // the file is gone or replaced: its channel holds nothing anyone can read
                }
            }
        }
    }

    private static int errno(IOException e) {
        if (e instanceof NoSuchFileException) {
            return -ErrorCodes.ENOENT();
        } else if (e instanceof FileAlreadyExistsException) {
            return -ErrorCodes.EEXIST();
        } else if (e instanceof DirectoryNotEmptyException) {
            return -ErrorCodes.ENOTEMPTY();
        } else if (e instanceof AccessDeniedException) {
            return -ErrorCodes.EACCES();
        } else if (e instanceof NotDirectoryException) {
            return -ErrorCodes.ENOTDIR();
        }
        return -ErrorCodes.EIO();
    }
}
