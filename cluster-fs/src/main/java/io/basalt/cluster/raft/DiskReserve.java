package io.basalt.cluster.raft;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Free space a node keeps on the filesystem of its data directory. Below it, a group's leader
 * refuses, before they are logged, entries that store data (writes, compare-and-writes, flattens,
 * rollbacks); reads, unmaps, removals and metadata changes go on, so an operator can open a
 * vdisk, back it up and free space through Basalt itself. Without it the disk fills up: a Raft log append
 * or a RocksDB write that meets ENOSPC stops the group on that node, and when all replicas fill
 * alike (they hold the same data) the group stops everywhere (seen: docs/raft-log-bytes.md).
 *
 * <p>Like Ceph's full ratio, the default keeps 5 % of the filesystem free, and at least 1 GiB:
 * room for RocksDB compactions and the Raft log up to its next snapshot. The free space is read
 * with {@code statfs} at most every {@value #REFRESH_MILLIS} ms, so a burst can overshoot by
 * what the node writes in that time; the reserve absorbs it.
 *
 * <p>Only leaders check, but against every replica: each node reports its space to the meta
 * group ({@code SpaceReporter}: at start, every 30 s, and at once when it crosses its reserve)
 * and learns there which nodes are full ({@link #fullNodes(Set)}: each second from its own meta
 * replica, else every 5 s from the meta leader), so a leader also refuses while a follower of
 * the group is full. That knowledge is one to a few seconds old.
 */
public final class DiskReserve {
    public static final long MIN_DEFAULT_BYTES = 1L << 30;
    public static final double FRACTION_DEFAULT = 0.05;
    static final long REFRESH_MILLIS = 100;

    private final Path dir;
    private final FileStore store;
    private final long reserveBytes;
    private volatile long freeBytes;
    private volatile long readAtNanos;
    /** Nodes whose last report to the meta group said they are below their reserve. */
    private volatile Set<Integer> fullNodes = Set.of();

    private DiskReserve(Path dir, FileStore store, long reserveBytes) {
        this.dir = dir;
        this.store = store;
        this.reserveBytes = reserveBytes;
    }

    /**
     * The reserve for {@code dir}'s filesystem: {@code reserveBytes} when >= 0, else the default
     * (5 % of the filesystem, at least 1 GiB). 0 turns the check off.
     */
    public static DiskReserve of(Path dir, long reserveBytes) throws IOException {
        FileStore store = Files.getFileStore(dir);
        long reserve = reserveBytes >= 0 ? reserveBytes : defaultBytes(store.getTotalSpace());
        DiskReserve r = new DiskReserve(dir, store, reserve);
        r.read();
        return r;
    }

    static long defaultBytes(long filesystemBytes) {
        return Math.max(MIN_DEFAULT_BYTES, (long) (filesystemBytes * FRACTION_DEFAULT));
    }

    public long reserveBytes() {
        return reserveBytes;
    }

    /** Free bytes for this process on the filesystem, at most {@value #REFRESH_MILLIS} ms old. */
    public long freeBytes() {
        if (System.nanoTime() - readAtNanos > REFRESH_MILLIS * 1_000_000) {
            read();
        }
        return freeBytes;
    }

    private void read() {
        try {
            freeBytes = store.getUsableSpace();
            readAtNanos = System.nanoTime();
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

    /** Which nodes are full, as the meta group last said. */
    public void fullNodes(Set<Integer> nodes) {
        fullNodes = Set.copyOf(nodes);
    }

    private static final String ADVICE = "; writes are refused until space is freed: unmap (fstrim), remove snapshots or vdisks, or add disk";

    /**
     * Throws when this node's free space is below its reserve, or when another replica of the
     * group ({@code replicas}: node ids, asked only when some node is full) reported so;
     * {@code who} names the refusing group.
     */
    void check(String who, Supplier<Collection<Integer>> replicas) throws NoSpaceException {
        if (reserveBytes > 0) {
            long free = freeBytes();
            if (free < reserveBytes) {
                throw new NoSpaceException(who + ": " + mib(free) + " free on " + dir + " (expected: >= the reserve of " + mib(reserveBytes)
                        + ")" + ADVICE);
            }
        }
        Set<Integer> full = fullNodes;
        if (!full.isEmpty()) {
            for (int node : replicas.get()) {
                if (full.contains(node)) {
                    throw new NoSpaceException(who + ": replica node " + node + " reported less free space than its reserve" + ADVICE);
                }
            }
        }
    }

    private static String mib(long bytes) {
        return (bytes >> 20) + " MiB";
    }
}
