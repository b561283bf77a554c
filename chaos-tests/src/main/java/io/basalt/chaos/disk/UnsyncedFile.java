package io.basalt.chaos.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.Map;
import java.util.TreeMap;

/**
 * One file of the fault file system: its backing file holds the content as of the last sync,
 * and this object holds what was written since (byte ranges and the size) in memory. Reads see
 * the unsynced ranges over the backing file; {@link #sync} writes them through; {@link #drop}
 * forgets them, as a power cut would.
 *
 * <p>Invariants: {@code ranges} never overlap and none reaches past {@code sizeBytes}; the
 * backing content below {@code backingLimitBytes} is still visible where no range covers it,
 * and everything above it that no range covers reads as zeros (a truncate then an extend).
 * Not thread-safe: {@link FaultFileSystem} holds the object's monitor around every call.
 */
final class UnsyncedFile {
    private final TreeMap<Long, byte[]> ranges = new TreeMap<>();
    private long sizeBytes;
    private long backingLimitBytes;
    private long syncedSizeBytes;
    private long pendingBytes;

    UnsyncedFile(long syncedSizeBytes) {
        checkArgument(syncedSizeBytes >= 0, "syncedSizeBytes: %d (expected: >= 0)", syncedSizeBytes);
        this.syncedSizeBytes = syncedSizeBytes;
        this.sizeBytes = syncedSizeBytes;
        this.backingLimitBytes = syncedSizeBytes;
    }

    long sizeBytes() {
        return sizeBytes;
    }

    /** Bytes written or truncated away since the last sync: what a power cut now would lose. */
    long pendingBytes() {
        return pendingBytes;
    }

    boolean dirty() {
        return !ranges.isEmpty() || sizeBytes != syncedSizeBytes || backingLimitBytes != syncedSizeBytes;
    }

    void write(long offsetBytes, byte[] data) {
        checkArgument(offsetBytes >= 0, "offsetBytes: %d (expected: >= 0)", offsetBytes);
        if (data.length == 0) {
            return;
        }
        long end = offsetBytes + data.length;
        cut(offsetBytes, end);
        ranges.put(offsetBytes, data);
        sizeBytes = Math.max(sizeBytes, end);
        pendingBytes += data.length;
    }

    void truncate(long newSizeBytes) {
        checkArgument(newSizeBytes >= 0, "newSizeBytes: %d (expected: >= 0)", newSizeBytes);
        if (newSizeBytes < sizeBytes) {
            cut(newSizeBytes, Long.MAX_VALUE);
            pendingBytes += sizeBytes - newSizeBytes;
        }
        backingLimitBytes = Math.min(backingLimitBytes, newSizeBytes);
        sizeBytes = newSizeBytes;
    }

    /** Up to {@code lengthBytes} from {@code offsetBytes}, fewer at the end of the file. */
    byte[] read(long offsetBytes, int lengthBytes, FileChannel backing) throws IOException {
        checkArgument(offsetBytes >= 0 && lengthBytes >= 0, "read at %d of %d bytes", offsetBytes, lengthBytes);
        int n = (int) Math.max(0, Math.min(lengthBytes, sizeBytes - offsetBytes));
        byte[] out = new byte[n];
        long fromBacking = Math.max(0, Math.min(n, backingLimitBytes - offsetBytes));
        ByteBuffer dst = ByteBuffer.wrap(out, 0, (int) fromBacking);
        while (dst.hasRemaining()) {
            int got = backing.read(dst, offsetBytes + dst.position());
            if (got < 0) {
                break; // the backing file is shorter than its synced size said: the rest reads as zeros
            }
        }
        long end = offsetBytes + n;
        Long first = ranges.floorKey(offsetBytes);
        for (Map.Entry<Long, byte[]> r : ranges.subMap(first == null ? offsetBytes : first, true, end, false).entrySet()) {
            long from = Math.max(offsetBytes, r.getKey());
            long to = Math.min(end, r.getKey() + r.getValue().length);
            if (from < to) {
                System.arraycopy(r.getValue(), (int) (from - r.getKey()), out, (int) (from - offsetBytes), (int) (to - from));
            }
        }
        return out;
    }

    /** Makes the backing file hold exactly what reads see now; the caller forces it if it must. */
    void sync(FileChannel backing) throws IOException {
        if (backingLimitBytes < syncedSizeBytes) {
            backing.truncate(backingLimitBytes);
        }
        for (Map.Entry<Long, byte[]> r : ranges.entrySet()) {
            ByteBuffer src = ByteBuffer.wrap(r.getValue());
            while (src.hasRemaining()) {
                backing.write(src, r.getKey() + src.position());
            }
        }
        if (backing.size() > sizeBytes) {
            backing.truncate(sizeBytes);
        } else if (backing.size() < sizeBytes) {
            backing.write(ByteBuffer.allocate(1), sizeBytes - 1); // extends with a hole, as ftruncate does
        }
        syncedSizeBytes = sizeBytes;
        backingLimitBytes = sizeBytes;
        ranges.clear();
        pendingBytes = 0;
    }

    /** The power cut: back to the content of the last sync, size included. Returns the bytes lost. */
    long drop() {
        long lost = pendingBytes;
        ranges.clear();
        sizeBytes = syncedSizeBytes;
        backingLimitBytes = syncedSizeBytes;
        pendingBytes = 0;
        return lost;
    }

    /** Removes every range's part inside [from, to), keeping the parts outside it. */
    private void cut(long from, long to) {
        Long first = ranges.floorKey(from);
        Long start = first == null ? Long.valueOf(from) : first;
        var hit = new java.util.ArrayList<>(ranges.subMap(start, true, to, false).entrySet());
        for (Map.Entry<Long, byte[]> r : hit) {
            long rs = r.getKey();
            byte[] data = r.getValue();
            long re = rs + data.length;
            if (re <= from) {
                continue;
            }
            ranges.remove(rs);
            if (rs < from) {
                ranges.put(rs, java.util.Arrays.copyOfRange(data, 0, (int) (from - rs)));
            }
            if (re > to) {
                ranges.put(to, java.util.Arrays.copyOfRange(data, (int) (to - rs), data.length));
            }
        }
    }

    private static void checkArgument(boolean ok, String format, Object... args) {
        if (!ok) {
            throw new IllegalArgumentException(String.format(format, args));
        }
    }
}
