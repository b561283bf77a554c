package io.basalt.node.cluster;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Optional;

/**
 * What a {@link ZombieWriter} writes to one slot: who wrote it ({@code writer}, one letter), its
 * sequence number, the slot, and the fencing token the writer held, then a fill derived from
 * them, so a block read back names the write that put it there and a torn or foreign block is
 * told apart from both writers' data.
 */
record ZombieBlock(String writer, long seq, int slot, long token) {
    private static final byte[] MAGIC = "BZOMBIE1".getBytes(StandardCharsets.US_ASCII);
    /** Magic, writer letter, seq, slot, token. */
    private static final int HEADER_BYTES = MAGIC.length + 1 + Long.BYTES + Integer.BYTES + Long.BYTES;

    ZombieBlock {
        if (writer.length() != 1 || writer.charAt(0) > 0x7f) {
            throw new IllegalArgumentException("writer: '" + writer + "' (expected: one ASCII letter)");
        }
    }

    ByteBuffer encode(int sizeBytes) {
        if (sizeBytes < HEADER_BYTES) {
            throw new IllegalArgumentException("sizeBytes: " + sizeBytes + " (expected: >= " + HEADER_BYTES + ")");
        }
        ByteBuffer b = ByteBuffer.allocate(sizeBytes);
        b.put(MAGIC).put((byte) writer.charAt(0)).putLong(seq).putInt(slot).putLong(token);
        for (int i = HEADER_BYTES; i < sizeBytes; i++) {
            b.put(fill(i));
        }
        return b.flip();
    }

    /**
     * The block {@code data} holds: empty when it is all zeroes (never written); a block that is
     * neither zeroes nor a whole {@code ZombieBlock} throws, naming what is wrong.
     */
    static Optional<ZombieBlock> decode(ByteBuffer data) {
        ByteBuffer b = data.duplicate();
        byte[] all = new byte[b.remaining()];
        b.get(all);
        if (isZero(all)) {
            return Optional.empty();
        }
        if (all.length < HEADER_BYTES || !Arrays.equals(all, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
            throw new IllegalArgumentException("block of " + all.length + " bytes starts " + hex(all) + " (expected: " + new String(MAGIC, StandardCharsets.US_ASCII) + ")");
        }
        ByteBuffer in = ByteBuffer.wrap(all).position(MAGIC.length);
        ZombieBlock block = new ZombieBlock(String.valueOf((char) in.get()), in.getLong(), in.getInt(), in.getLong());
        for (int i = HEADER_BYTES; i < all.length; i++) {
            if (all[i] != block.fill(i)) {
                throw new IllegalArgumentException(block + ": byte " + i + " is " + all[i] + " (expected: " + block.fill(i) + "): torn or mixed");
            }
        }
        return Optional.of(block);
    }

    private byte fill(int index) {
        return (byte) (seq * 31 + slot * 7L + token * 13 + writer.charAt(0) + index);
    }

    private static boolean isZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < Math.min(16, b.length); i++) {
            s.append(String.format("%02x", b[i]));
        }
        return s.toString();
    }
}
