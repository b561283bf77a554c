package io.basalt.chaos;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;

/**
 * The bytes the vdisk model workload writes: each 512-byte block of write {@code id} holds the id,
 * the block's LBA, and 496 bytes drawn from a generator seeded by both, so a block read back names
 * the write it holds and a torn, misplaced or corrupted block names none.
 */
final class ModelData {
    static final int BLOCK_BYTES = 512;
    private static final int HEADER_BYTES = 16;

    private ModelData() {}

    /** {@code blockCount} blocks of write {@code id} (> 0) starting at {@code lba}. */
    static ByteBuffer encode(long id, long lba, int blockCount) {
        if (id <= 0) {
            throw new IllegalArgumentException("write id: " + id + " (expected: > 0)");
        }
        ByteBuffer b = ByteBuffer.allocate(blockCount * BLOCK_BYTES);
        for (int i = 0; i < blockCount; i++) {
            b.putLong(id).putLong(lba + i);
            SplittableRandom fill = fill(id, lba + i);
            for (int k = HEADER_BYTES; k < BLOCK_BYTES; k += 8) {
                b.putLong(fill.nextLong());
            }
        }
        return b.flip();
    }

    /**
     * What each block of {@code data} (read from {@code lba}) holds: 0 for zeros, the id of the
     * write whose block for that LBA it is, or {@link VdiskModel#GARBAGE}.
     */
    static long[] decode(ByteBuffer data, long lba) {
        int count = data.remaining() / BLOCK_BYTES;
        long[] found = new long[count];
        for (int i = 0; i < count; i++) {
            found[i] = decodeBlock(data.slice(data.position() + i * BLOCK_BYTES, BLOCK_BYTES), lba + i);
        }
        return found;
    }

    private static long decodeBlock(ByteBuffer block, long lba) {
        long id = block.getLong(0);
        if (id == 0) {
            for (int k = 0; k < BLOCK_BYTES; k += 8) {
                if (block.getLong(k) != 0) {
                    return VdiskModel.GARBAGE;
                }
            }
            return 0;
        }
        if (id < 0 || block.getLong(8) != lba) {
            return VdiskModel.GARBAGE;
        }
        SplittableRandom fill = fill(id, lba);
        for (int k = HEADER_BYTES; k < BLOCK_BYTES; k += 8) {
            if (block.getLong(k) != fill.nextLong()) {
                return VdiskModel.GARBAGE;
            }
        }
        return id;
    }

    /** The first 32 bytes of block {@code index} of {@code data}, in hex: what a garbage block's report shows. */
    static String head(ByteBuffer data, int index) {
        StringBuilder s = new StringBuilder();
        for (int k = 0; k < 32; k++) {
            s.append(String.format("%02x", data.get(data.position() + index * BLOCK_BYTES + k)));
        }
        return s.toString();
    }

    private static SplittableRandom fill(long id, long lba) {
        return new SplittableRandom(id * 0x9E37_79B9_7F4A_7C15L ^ (lba + 0x632B_E59B_D9B4_E019L));
    }
}
