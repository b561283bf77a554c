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

    /** True when writes, unmaps and resizes are refused (a snapshot, a read-only replica). */
    boolean readOnly();

    /** Reads {@code blockCount} blocks starting at {@code lba}; unwritten blocks read as zeros. */
    CompletableFuture<ByteBuffer> read(long lba, int blockCount);

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
