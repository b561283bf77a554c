package io.basalt.chaos.disk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link UnsyncedFile} against a byte array model: reads see every write, sync writes them through, drop forgets them. */
class UnsyncedFileTest {
    @TempDir
    Path dir;

    @Test
    void readsSyncsAndDropsMatchAnArrayModelUnderRandomWritesAndTruncates() throws IOException {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        byte[] synced = new byte[0];
        try (FileChannel ch = FileChannel.open(dir.resolve("f"), StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            UnsyncedFile f = new UnsyncedFile(0);
            byte[] model = new byte[0];
            for (int step = 0; step < 3000; step++) {
                int op = rnd.nextInt(20);
                if (op < 12) {
                    int off = rnd.nextInt(70_000);
                    byte[] data = new byte[1 + rnd.nextInt(9000)];
                    rnd.nextBytes(data);
                    f.write(off, data);
                    model = Arrays.copyOf(model, Math.max(model.length, off + data.length));
                    System.arraycopy(data, 0, model, off, data.length);
                } else if (op < 14) {
                    int size = rnd.nextInt(80_000);
                    f.truncate(size);
                    model = Arrays.copyOf(model, size);
                } else if (op < 16) {
                    f.sync(ch);
                    synced = model.clone();
                    assertEquals(synced.length, ch.size(), "seed=" + seed + " backing size after sync");
                } else if (op < 17) {
                    f.drop();
                    model = synced.clone();
                }
                assertEquals(model.length, f.sizeBytes(), "seed=" + seed + " step " + step);
                int off = rnd.nextInt(model.length + 1);
                byte[] got = f.read(off, rnd.nextInt(20_000), ch);
                byte[] want = Arrays.copyOfRange(model, off, Math.min(model.length, off + got.length));
                assertArrayEquals(want, got, "seed=" + seed + " step " + step + " read at " + off);
            }
            f.sync(ch);
            byte[] all = new byte[(int) ch.size()];
            ch.read(ByteBuffer.wrap(all), 0);
            assertArrayEquals(model, all, "seed=" + seed + " backing file after the last sync");
        }
    }

    @Test
    void dropReturnsToTheSyncedContentAndSize() throws IOException {
        try (FileChannel ch = FileChannel.open(dir.resolve("g"), StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            UnsyncedFile f = new UnsyncedFile(0);
            f.write(0, new byte[] {1, 2, 3, 4});
            f.sync(ch);
            f.write(2, new byte[] {9, 9, 9, 9});
            f.truncate(1);
            f.truncate(10);
            assertArrayEquals(new byte[] {1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, f.read(0, 100, ch));
            assertEquals(4 + 5, f.drop());
            assertArrayEquals(new byte[] {1, 2, 3, 4}, f.read(0, 100, ch));
        }
    }
}
