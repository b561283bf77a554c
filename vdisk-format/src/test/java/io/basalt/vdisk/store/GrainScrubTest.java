package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.vdisk.store.GrainScrub.BadGrain;
import io.basalt.vdisk.store.GrainScrub.GrainKey;

/** The engine's scrub: every stored version checked in bounded steps; a repair is a compare-and-set. */
class GrainScrubTest {

    @TempDir
    Path dir;

    @Test
    void scanInSmallStepsFindsTheOneRottenVersionAndRepairRestoresIt() throws Exception {
        byte[] data = new byte[64 * 4096];
        new Random(3).nextBytes(data);
        try (VdiskStore store = VdiskStore.open(dir)) {
            VdiskInfo info = store.create("web1", 1 << 20, 512, 4096);
            try (Vdisk disk = store.open("web1")) {
                disk.write(0, ByteBuffer.wrap(data), false).join();
                GrainKey key = new GrainKey(info.id(), 9, 1);
                byte[] good = GrainScrub.frame(store, key).orElseThrow();
                byte[] rotten = good.clone();
                rotten[200] ^= 0x01;
                GrainScrub.overwriteForTest(store, key, rotten);

                List<BadGrain> bad = new ArrayList<>();
                long checked = 0;
                Optional<GrainKey> at = Optional.of(GrainKey.first(info.id()));
                while (at.isPresent()) {
                    GrainScrub.Step step = GrainScrub.scan(store, at.get(), 3 * 4096, -1);
                    checked += step.grainsChecked();
                    bad.addAll(step.bad());
                    at = step.next();
                }
                assertEquals(64, checked);
                assertEquals(1, bad.size(), bad.toString());
                assertEquals(key, bad.get(0).key());
                assertTrue(bad.get(0).reason().contains("checksum mismatch"), bad.get(0).reason());
                assertArrayEquals(rotten, bad.get(0).frame());

                assertEquals(GrainScrub.Replaced.REPLACED, GrainScrub.replaceIf(store, key, bad.get(0).frame(), good));
                byte[] back = new byte[data.length];
                disk.read(0, data.length / 512).join().get(back);
                assertArrayEquals(data, back);
                assertTrue(GrainScrub.scan(store, GrainKey.first(info.id()), Long.MAX_VALUE, info.id()).bad().isEmpty());
            }
        }
    }

    @Test
    void repairLosesToAWriteThatReplacedTheRottenBytes() throws Exception {
        try (VdiskStore store = VdiskStore.open(dir)) {
            VdiskInfo info = store.create("web1", 1 << 20, 512, 4096);
            try (Vdisk disk = store.open("web1")) {
                byte[] first = filled(4096, 1);
                disk.write(0, ByteBuffer.wrap(first), false).join();
                GrainKey key = new GrainKey(info.id(), 0, 1);
                byte[] good = GrainScrub.frame(store, key).orElseThrow();
                byte[] rotten = good.clone();
                rotten[10] ^= 0x40;
                GrainScrub.overwriteForTest(store, key, rotten);
                byte[] second = filled(4096, 2);
                disk.write(0, ByteBuffer.wrap(second), false).join(); // the write lands before the repair

                assertEquals(GrainScrub.Replaced.CHANGED, GrainScrub.replaceIf(store, key, rotten, good));
                byte[] back = new byte[4096];
                disk.read(0, 8).join().get(back);
                assertArrayEquals(second, back);
            }
        }
    }

    @Test
    void refusesToInstallAFrameThatDoesNotDecode() throws Exception {
        try (VdiskStore store = VdiskStore.open(dir)) {
            VdiskInfo info = store.create("web1", 1 << 20, 512, 4096);
            try (Vdisk disk = store.open("web1")) {
                disk.write(0, ByteBuffer.wrap(filled(4096, 5)), false).join();
                GrainKey key = new GrainKey(info.id(), 0, 1);
                byte[] good = GrainScrub.frame(store, key).orElseThrow();
                byte[] rotten = good.clone();
                rotten[good.length - 1] ^= 0x02;
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GrainScrub.replaceIf(store, key, good, rotten));
                assertTrue(e.getMessage().contains("does not decode"), e.getMessage());
                assertArrayEquals(good, GrainScrub.frame(store, key).orElseThrow());
            }
        }
    }

    private static byte[] filled(int bytes, int seed) {
        byte[] b = new byte[bytes];
        new Random(seed).nextBytes(b);
        return b;
    }
}
