package io.basalt.vdisk.store;

/**
 * Key layouts of the three column families. All integers are big-endian so that RocksDB's
 * bytewise order is numeric order.
 *
 * <pre>
 *   blocks:   vdiskId(8) grain(8) ~epoch(8)  -> block frame
 *   changes:  vdiskId(8) epoch(8) grain(8)   -> empty      (the change index: diffs in O(changed))
 *   meta:     'V' vdiskId(8)                 -> vdisk descriptor
 *             'N' name(utf-8)                -> vdiskId(8)
 *             'S' vdiskId(8) epoch(8)        -> snapshot
 *             'C' parentId(8) epoch(8) childId(8) -> empty (clone children)
 *             'G' vdiskId(8) epoch(8)        -> empty (deleted snapshot whose versions await GC)
 *             'I'                            -> next vdisk id(8)
 *             'A' log(utf-8)                 -> applied index(8) of a replicated log
 *             'L' len(2) log(utf-8) key      -> a record of a replicated log's state machine
 *             'F'                            -> store format version(8) (see {@link StoreFormat})
 *             'T' vdiskId(8)                 -> fence(8): the lowest fencing token a mutation may carry (see {@link Fences})
 *             'R' vdiskId(8)                 -> replica record: the vdisk is a read-only replica (see {@link Replicas})
 * </pre>
 *
 * The block key stores the epoch inverted ({@code Long.MAX_VALUE - epoch}) so that a forward
 * seek to {@code (v, g, ~e)} lands on the newest version at or below epoch {@code e}: the floor
 * seek of the data model. Epochs are never negative.
 */
final class Keys {
    static final int BLOCK_KEY_BYTES = 24;
    static final int GRAIN_PREFIX_BYTES = 16;

    private Keys() {}

    static byte[] block(long vdiskId, long grain, long epoch) {
        byte[] k = new byte[BLOCK_KEY_BYTES];
        putLong(k, 0, vdiskId);
        putLong(k, 8, grain);
        putLong(k, 16, Long.MAX_VALUE - epoch);
        return k;
    }

    static long blockVdisk(byte[] key) {
        return getLong(key, 0);
    }

    static long blockGrain(byte[] key) {
        return getLong(key, 8);
    }

    static long blockEpoch(byte[] key) {
        return Long.MAX_VALUE - getLong(key, 16);
    }

    static byte[] vdiskPrefix(long vdiskId) {
        byte[] k = new byte[8];
        putLong(k, 0, vdiskId);
        return k;
    }

    /** First block key of grain {@code grain} (its newest possible version). */
    static byte[] grainStart(long vdiskId, long grain) {
        return block(vdiskId, grain, Long.MAX_VALUE);
    }

    static byte[] change(long vdiskId, long epoch, long grain) {
        byte[] k = new byte[24];
        putLong(k, 0, vdiskId);
        putLong(k, 8, epoch);
        putLong(k, 16, grain);
        return k;
    }

    static byte[] changeEpochStart(long vdiskId, long epoch) {
        byte[] k = new byte[16];
        putLong(k, 0, vdiskId);
        putLong(k, 8, epoch);
        return k;
    }

    static long changeEpoch(byte[] key) {
        return getLong(key, 8);
    }

    static long changeGrain(byte[] key) {
        return getLong(key, 16);
    }

    static byte[] meta(char tag, long... parts) {
        byte[] k = new byte[1 + 8 * parts.length];
        k[0] = (byte) tag;
        for (int i = 0; i < parts.length; i++) {
            putLong(k, 1 + 8 * i, parts[i]);
        }
        return k;
    }

    static byte[] name(String name) {
        byte[] utf8 = name.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] k = new byte[1 + utf8.length];
        k[0] = 'N';
        System.arraycopy(utf8, 0, k, 1, utf8.length);
        return k;
    }

    static boolean hasPrefix(byte[] key, byte[] prefix) {
        if (key.length < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (key[i] != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    static boolean sameGrain(byte[] key, long vdiskId, long grain) {
        return key.length == BLOCK_KEY_BYTES && getLong(key, 0) == vdiskId && getLong(key, 8) == grain;
    }

    static void putLong(byte[] b, int at, long v) {
        for (int i = 7; i >= 0; i--) {
            b[at + i] = (byte) v;
            v >>>= 8;
        }
    }

    static long getLong(byte[] b, int at) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (b[at + i] & 0xff);
        }
        return v;
    }
}
