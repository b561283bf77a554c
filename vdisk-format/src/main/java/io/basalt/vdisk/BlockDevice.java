package io.basalt.vdisk;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The one I/O interface every part of Basalt uses: the single-node engine, the cluster client,
 * the iSCSI target and the host agent all speak it.
 *
 * <p>Addresses are logical block addresses ({@code lba}) in units of {@link #logicalBlockSizeBytes()}
 * (512 or 4096). Every operation is asynchronous: the returned future completes when the
 * operation is done, so a caller (an iSCSI session, say) can keep many I/Os in flight. Arguments
 * are validated up front; a bad argument completes the future exceptionally with an
 * {@link IllegalArgumentException} naming the bad value, and nothing is changed.
 *
 * <p>Durability contract (every implementation states how it meets it):
 * <ul>
 *   <li>a write whose future completed (an <em>acknowledged</em> write) survives the death of
 *       the process that served it (kill -9);</li>
 *   <li>a write acknowledged before a completed {@link #flush()}, or written with
 *       {@code fua = true}, survives power loss;</li>
 *   <li>a write never tears inside a grain: after a crash each grain holds either the old or
 *       the new data, never a mix.</li>
 * </ul>
 *
 * <p>Data buffers passed in are read between the call and the completion of the future; the
 * caller must not modify them in that window. Buffers returned are owned by the caller.
 */
public interface BlockDevice extends AutoCloseable {

    /** A name for messages: the vdisk name, {@code disk@snap} for a snapshot. */
    String name();

    /** 512 or 4096. */
    int logicalBlockSizeBytes();

    /** The current size in bytes: always a multiple of {@link #logicalBlockSizeBytes()}. */
    long sizeBytes();

    default long blockCount() {
        return sizeBytes() / logicalBlockSizeBytes();
    }

    /**
     * Picks up a resize made through another handle, where this one caches the size (a cluster
     * vdisk keeps its namespace record); the engine's handles share their vdisk's state and see a
     * resize at once, so for them this does nothing. Wrappers pass it on.
     */
    default void refreshSize() {
    }

    /** True when writes, unmaps and resizes are refused (a snapshot, a read-only replica). */
    boolean readOnly();

    /** Reads {@code blockCount} blocks starting at {@code lba}; unwritten blocks read as zeros. */
    CompletableFuture<ByteBuffer> read(long lba, int blockCount);

    /**
     * Reads {@code blockCount} blocks starting at {@code lba} into {@code dst}, at indices
     * {@code [dst.position(), dst.position() + blockCount * logicalBlockSizeBytes())}; the position
     * and limit of {@code dst} are left alone. {@code dst} may be a direct buffer (a network
     * buffer, say), so an implementation can decode straight into it instead of returning a new
     * heap buffer the caller copies again. The caller must not touch that range of {@code dst}
     * until the future completes. Too small a {@code dst} fails the future with an
     * {@link IllegalArgumentException} and nothing is written.
     *
     * <p>This default reads with {@link #read(long, int)} and copies.
     */
    default CompletableFuture<Void> read(long lba, int blockCount, ByteBuffer dst) {
        long bytes = (long) blockCount * logicalBlockSizeBytes();
        if (blockCount < 0 || bytes > dst.remaining()) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("read into buffer: " + blockCount + " blocks = "
                    + bytes + " bytes (expected: >= 0, <= " + dst.remaining() + " remaining in dst) device=" + name()));
        }
        int at = dst.position();
        return read(lba, blockCount).thenAccept(data -> dst.put(at, data, data.position(), data.remaining()));
    }

    /**
     * The largest write, in bytes, that {@link #writeAtomic} accepts; 0 when the device offers no
     * atomic writes beyond the grain promise above (the default).
     */
    default int atomicWriteBytesMax() {
        return 0;
    }

    /**
     * The alignment and granularity of atomic writes, in bytes: {@link #writeAtomic} takes only
     * writes that start and end on a multiple of it. A multiple of the logical block size.
     */
    default int atomicWriteUnitBytes() {
        return logicalBlockSizeBytes();
    }

    /**
     * When not 0, an atomic write must also lie inside one aligned window of this many bytes (a
     * multiple of {@link #atomicWriteUnitBytes()}, at least {@link #atomicWriteBytesMax()}): it
     * may not cross a multiple of it. 0 (the default): no such limit. For devices that keep
     * different parts of the disk in different places and can make only a write inside one part
     * atomic. A naturally aligned power-of-two write no larger than it (the only atomic write Linux
     * sends, RWF_ATOMIC) never crosses it.
     */
    default int atomicWriteBoundaryBytes() {
        return 0;
    }

    /**
     * Like {@link #write} and, in addition, all-or-nothing: after a crash the blocks hold either
     * all the old or all the new data, a concurrent write of any of them lands wholly before or
     * wholly after this one, and a concurrent read of any of them sees all old or all new data
     * (SCSI WRITE ATOMIC). {@code data} is a multiple of {@link #atomicWriteUnitBytes()} and at most
     * {@link #atomicWriteBytesMax()} bytes, {@code lba} is aligned to that unit, and the write does
     * not cross a multiple of {@link #atomicWriteBoundaryBytes()} (when not 0); otherwise the
     * future fails with an {@link IllegalArgumentException}. Devices that do not offer atomic
     * writes (the default) fail it with an {@link UnsupportedOperationException}.
     */
    default CompletableFuture<Void> writeAtomic(long lba, ByteBuffer data, boolean fua) {
        return CompletableFuture.failedFuture(new UnsupportedOperationException("atomic writes are not offered by device " + name()));
    }

    /**
     * Writes {@code data} (a whole number of blocks, from its position to its limit) at
     * {@code lba}. With {@code fua} the write is durable (power-loss safe) when acknowledged.
     */
    CompletableFuture<Void> write(long lba, ByteBuffer data, boolean fua);

    /** Makes every write acknowledged before this call durable against power loss. */
    CompletableFuture<Void> flush();

    /** Deallocates blocks: they read as zeros afterwards and stop taking space. */
    CompletableFuture<Void> unmap(long lba, long blockCount);

    /**
     * Makes blocks read as zeros. With {@code unmap} the device may deallocate them instead of
     * storing zeros (WRITE SAME with the UNMAP bit).
     */
    CompletableFuture<Void> writeZeroes(long lba, long blockCount, boolean unmap);

    /**
     * Atomically compares {@code expected} with the blocks at {@code lba} and, only if every byte
     * matches, writes {@code data} there (SCSI COMPARE AND WRITE). Both buffers hold the same
     * number of blocks. Atomic against every other write to this device.
     */
    CompletableFuture<CompareResult> compareAndWrite(long lba, ByteBuffer expected, ByteBuffer data);

    /**
     * Describes the provisioning status of blocks from {@code lba} on as runs of mapped or
     * deallocated blocks, covering at least one block and at most {@code blockCountMax} blocks.
     */
    CompletableFuture<List<LbaStatus>> getLbaStatus(long lba, long blockCountMax);

    /**
     * Changes the size. Growing is always allowed; shrinking is refused while data lies past the
     * new end. The new size must be a multiple of the logical block size.
     */
    CompletableFuture<Void> resize(long newSizeBytes);

    /** Releases the device; outstanding operations complete first. */
    @Override
    void close();
}
