package io.basalt.vdisk.store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.LongSupplier;

import io.basalt.vdisk.BlockDeviceException;

/**
 * Free space kept on the filesystem of a store's directory. Below it, operations that store data
 * (writes, compare-and-writes, flattens, rollbacks that copy) are refused with
 * {@link BlockDeviceException.Kind#NO_SPACE} before they touch anything, while reads, unmaps,
 * removals and metadata changes go on, so an operator can free space through Basalt itself.
 * Without it the disk fills: RocksDB meets ENOSPC in its WAL or a flush and stops taking writes,
 * and on the next open the replay of its WAL needs the space that is not there.
 *
 * <p>Like Ceph's full ratio, the default keeps 5 % of the filesystem free, and at least 1 GiB:
 * room for memtable flushes and compactions, which write new files before they delete old ones.
 * Free space is read with {@code statfs} at most every {@value #REFRESH_MILLIS} ms, so a burst
 * can overshoot by what is written in that time; the reserve absorbs it.
 */
public final class SpaceReserve {
    public static final long MIN_DEFAULT_BYTES = 1L << 30;
    public static final double FRACTION_DEFAULT = 0.05;
    /** The reserve in {@link #of(Path, long)}: the default. */
    public static final long DEFAULT = -1;
    static final long REFRESH_MILLIS = 100;
    private static final String ADVICE = "; writes are refused until space is freed: unmap (fstrim), remove snapshots or vdisks, or add disk";

    private final Path dir;
    private final FileStore store;
    private final long reserveBytes;
    private final LongSupplier pendingBytes;
    /** Monotonic nanoseconds ({@code System::nanoTime}, or a test's clock) that age the cached reading. */
    private final LongSupplier nanoClock;
    private volatile long freeBytes;
    private volatile long pending;
    private volatile long readAtNanos;

    private SpaceReserve(Path dir, FileStore store, long reserveBytes, LongSupplier pendingBytes, LongSupplier nanoClock) {
        this.dir = dir;
        this.store = store;
        this.reserveBytes = reserveBytes;
        this.pendingBytes = pendingBytes;
        this.nanoClock = nanoClock;
    }

    /**
     * The reserve for {@code dir}'s filesystem: {@code reserveBytes} when >= 0 (0 turns the check
     * off), or {@link #DEFAULT} (5 % of the filesystem, at least 1 GiB).
     */
    public static SpaceReserve of(Path dir, long reserveBytes) throws IOException {
        return of(dir, reserveBytes, () -> 0);
    }

    /**
     * As above, where {@code pendingBytes} is space that will be needed soon beside what the files
     * take now (a store's next flush: its memtables written as files while the WAL still holds
     * them, and a new preallocated WAL), so it counts as taken already.
     */
    public static SpaceReserve of(Path dir, long reserveBytes, LongSupplier pendingBytes) throws IOException {
        return of(dir, reserveBytes, pendingBytes, System::nanoTime);
    }

    /** As above, with {@code nanoClock} (monotonic nanoseconds) deciding when the cached reading is too old. */
    static SpaceReserve of(Path dir, long reserveBytes, LongSupplier pendingBytes, LongSupplier nanoClock) throws IOException {
        checkReserveBytes(reserveBytes);
        FileStore store = Files.getFileStore(dir);
        long reserve = reserveBytes >= 0 ? reserveBytes : defaultBytes(store.getTotalSpace());
        SpaceReserve r = new SpaceReserve(dir, store, reserve, pendingBytes, nanoClock);
        r.read();
        return r;
    }

    /** Throws naming {@code reserveBytes} unless it is a reserve ({@code >= 0}) or {@link #DEFAULT}. */
    public static void checkReserveBytes(long reserveBytes) {
        if (reserveBytes < DEFAULT) {
            throw new IllegalArgumentException("disk reserve: " + reserveBytes + " bytes (expected: >= 0, or -1 for the default)");
        }
    }

    public static long defaultBytes(long filesystemBytes) {
        return Math.max(MIN_DEFAULT_BYTES, (long) (filesystemBytes * FRACTION_DEFAULT));
    }

    public long reserveBytes() {
        return reserveBytes;
    }

    /**
     * Free bytes for this process on the filesystem less the pending bytes, at most
     * {@value #REFRESH_MILLIS} ms old.
     */
    public long freeBytes() {
        if (nanoClock.getAsLong() - readAtNanos > REFRESH_MILLIS * 1_000_000) {
            read();
        }
        return freeBytes;
    }

    private void read() {
        try {
            long p = reserveBytes == 0 ? 0 : Math.max(0, pendingBytes.getAsLong());
            freeBytes = Math.max(0, store.getUsableSpace() - p);
            pending = p;
            readAtNanos = nanoClock.getAsLong();
        } catch (IOException e) {
            throw new UncheckedIOException("free space of " + dir + ": " + e.getMessage(), e);
        }
    }

    public long totalBytes() {
        try {
            return store.getTotalSpace();
        } catch (IOException e) {
            throw new UncheckedIOException("size of " + dir + ": " + e.getMessage(), e);
        }
    }

    /** True while the free space is below the reserve (never when the reserve is 0). */
    public boolean isShort() {
        return reserveBytes > 0 && freeBytes() < reserveBytes;
    }

    /**
     * Why {@code who} may not store data now, or null when it may: the free space, where, and the
     * reserve, with what to do about it.
     */
    public String refusal(String who) {
        if (!isShort()) {
            return null;
        }
        long free = freeBytes();
        long waiting = pending;
        return who + ": " + mib(free) + " free on " + dir + (waiting > 0 ? " beside the " + mib(waiting) + " the next flush needs" : "")
                + " (expected: >= the reserve of " + mib(reserveBytes) + ")" + ADVICE;
    }

    /** Throws {@link BlockDeviceException.Kind#NO_SPACE} while the free space is below the reserve. */
    public void check(String who) {
        String why = refusal(who);
        if (why != null) {
            throw new BlockDeviceException(BlockDeviceException.Kind.NO_SPACE, why);
        }
    }

    static String mib(long bytes) {
        return (bytes >> 20) + " MiB";
    }

    /** The advice the refusals end with, for callers that word their own (a replica elsewhere being full). */
    public static String advice() {
        return ADVICE;
    }
}
