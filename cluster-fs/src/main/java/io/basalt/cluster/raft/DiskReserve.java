package io.basalt.cluster.raft;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

import io.basalt.vdisk.store.SpaceReserve;

/**
 * Free space a node keeps on the filesystem of its data directory. Below it, a group's leader
 * refuses, before they are logged, entries that store data (writes, compare-and-writes, flattens,
 * rollbacks); reads, unmaps, removals and metadata changes go on, so an operator can open a
 * vdisk, back it up and free space through Basalt itself. Without it the disk fills up: a Raft log append
 * or a RocksDB write that meets ENOSPC stops the group on that node, and when all replicas fill
 * alike (they hold the same data) the group stops everywhere (seen: docs/decisions/snapshots-by-log-bytes.md).
 *
 * <p>The free-space reading and the default (5 % of the filesystem, at least 1 GiB: room for
 * RocksDB compactions and the Raft log up to its next snapshot) are the engine's
 * {@link SpaceReserve}; this adds the other replicas.
 *
 * <p>Only leaders check, but against every replica: each node reports its space to the meta
 * group ({@code SpaceReporter}: at start, every 30 s, and at once when it crosses its reserve)
 * and learns there which nodes are full ({@link #fullNodes(Set)}: each second from its own meta
 * replica, else every 5 s from the meta leader), so a leader also refuses while a follower of
 * the group is full. That knowledge is one to a few seconds old.
 */
public final class DiskReserve {
    /** Per open placement-group store, the space its next flush needs (see {@link #countFlushHeadroom}). */
    private final Map<Object, LongSupplier> headrooms = new ConcurrentHashMap<>();
    private final SpaceReserve space;
    private final Path directory;
    /** Nodes whose last report to the meta group said they are below their reserve. */
    private volatile Set<Integer> fullNodes = Set.of();

    private DiskReserve(Path dir, long reserveBytes) throws IOException {
        this.space = SpaceReserve.of(dir, reserveBytes, this::headroomBytes);
        this.directory = dir;
    }

    /** The directory whose filesystem this reserve watches: the node's Raft directory, one subdirectory per group. */
    public Path directory() {
        return directory;
    }

    /**
     * The reserve for {@code dir}'s filesystem: {@code reserveBytes} when >= 0, else the default
     * (5 % of the filesystem, at least 1 GiB). 0 turns the check off.
     */
    public static DiskReserve of(Path dir, long reserveBytes) throws IOException {
        return new DiskReserve(dir, reserveBytes);
    }

    /**
     * Counts {@code bytes} (a placement-group store's flush headroom, as {@code key} names it) as
     * taken until {@link #forgetFlushHeadroom}: every store on the node flushes into the same
     * filesystem, each into a new table file and a new preallocated WAL, and a free-space check
     * that ignored that met ENOSPC in the engine (docs/decisions/disk-reserve.md).
     */
    public void countFlushHeadroom(Object key, LongSupplier bytes) {
        headrooms.put(key, bytes);
    }

    public void forgetFlushHeadroom(Object key) {
        headrooms.remove(key);
    }

    private long headroomBytes() {
        long sum = 0;
        for (LongSupplier s : headrooms.values()) {
            sum += s.getAsLong();
        }
        return sum;
    }

    public long reserveBytes() {
        return space.reserveBytes();
    }

    /** Free bytes for this process on the filesystem, at most 100 ms old. */
    public long freeBytes() {
        return space.freeBytes();
    }

    public long totalBytes() {
        return space.totalBytes();
    }

    /** Which nodes are full, as the meta group last said. */
    public void fullNodes(Set<Integer> nodes) {
        fullNodes = Set.copyOf(nodes);
    }

    /**
     * Throws when this node's free space is below its reserve, or when another replica of the
     * group ({@code replicas}: node ids, asked only when some node is full) reported so;
     * {@code who} names the refusing group (asked only when refusing: this runs per entry).
     */
    void check(Supplier<String> who, Supplier<Collection<Integer>> replicas) throws NoSpaceException {
        String own = space.isShort() ? space.refusal(who.get()) : null;
        if (own != null) {
            throw new NoSpaceException(own);
        }
        Set<Integer> full = fullNodes;
        if (!full.isEmpty()) {
            for (int node : replicas.get()) {
                if (full.contains(node)) {
                    throw new NoSpaceException(who.get() + ": replica node " + node + " reported less free space than its reserve" + SpaceReserve.advice());
                }
            }
        }
    }
}
