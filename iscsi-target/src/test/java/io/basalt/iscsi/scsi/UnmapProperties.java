package io.basalt.iscsi.scsi;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.basalt.iscsi.MemoryBlockDevice;
import io.basalt.iscsi.pdu.Bytes;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * UNMAP with random descriptors (unsorted, overlapping, touching, empty): the LU merges them and
 * hands the device the ranges at once, and afterwards exactly the union of the descriptors reads
 * as zeros while every other block keeps its data.
 */
class UnmapProperties {

    private static final int BLOCK = 512;
    private static final int BLOCKS = 256;

    @Provide
    Arbitrary<List<BlockCommands.UnmapRange>> descriptors() {
        Arbitrary<BlockCommands.UnmapRange> one = Combinators.combine(Arbitraries.longs().between(0, BLOCKS - 1), Arbitraries.longs().between(0, 24))
                .as((lba, n) -> new BlockCommands.UnmapRange(lba, Math.min(n, BLOCKS - lba)));
        return one.list().ofMinSize(1).ofMaxSize(40);
    }

    @Property(tries = 200)
    void exactlyTheUnionOfTheDescriptorsReadsAsZeros(@ForAll("descriptors") List<BlockCommands.UnmapRange> descs) {
        MemoryBlockDevice device = new MemoryBlockDevice("mem", BLOCK, (long) BLOCK * BLOCKS, Runnable::run);
        LogicalUnit lu = new TargetLuns("iqn.2026-11.io.basalt:t", Map.of(0, device)).lun(0);
        Nexus n = Nexus.of("iqn.2026-11.x:a", 1, "iqn.2026-11.io.basalt:t", 1);
        byte[] fill = new byte[BLOCK * BLOCKS];
        Arrays.fill(fill, (byte) 0x5a);
        device.write(0, ByteBuffer.wrap(fill), false).join();

        ByteBuffer list = ByteBuffer.allocate(8 + 16 * descs.size());
        list.putShort(0, (short) (6 + 16 * descs.size())).putShort(2, (short) (16 * descs.size()));
        boolean[] unmapped = new boolean[BLOCKS];
        for (int i = 0; i < descs.size(); i++) {
            BlockCommands.UnmapRange e = descs.get(i);
            list.putLong(8 + 16 * i, e.lba()).putInt(16 + 16 * i, (int) e.blocks());
            for (long b = e.lba(); b < e.end(); b++) {
                unmapped[(int) b] = true;
            }
        }
        int len = list.capacity();
        byte[] cdb = new byte[16];
        cdb[0] = 0x42;
        cdb[7] = (byte) (len >> 8);
        cdb[8] = (byte) len;
        ScsiResult r = lu.execute(new ScsiRequest(n, Bytes.wrapOwned(cdb), list, len)).join();
        assertEquals(ScsiResult.GOOD, r.status(), () -> "UNMAP " + descs + ": " + r.sense());

        ByteBuffer after = device.read(0, BLOCKS).join();
        for (int b = 0; b < BLOCKS; b++) {
            byte want = unmapped[b] ? 0 : (byte) 0x5a;
            for (int i = 0; i < BLOCK; i++) {
                assertEquals(want, after.get(b * BLOCK + i), "block " + b + " after UNMAP " + descs);
            }
        }
    }

    @Property(tries = 200)
    void mergedExtentsAreSortedSeparatedAndCoverTheSameBlocks(@ForAll("descriptors") List<BlockCommands.UnmapRange> descs) {
        List<BlockCommands.UnmapRange> merged = BlockCommands.UnmapRange.merge(descs.stream().filter(e -> e.blocks() > 0).toList());
        for (int i = 1; i < merged.size(); i++) {
            if (merged.get(i).lba() <= merged.get(i - 1).end()) {
                throw new AssertionError("extents " + merged.get(i - 1) + " and " + merged.get(i) + " overlap or touch: " + merged);
            }
        }
        boolean[] want = new boolean[BLOCKS];
        boolean[] got = new boolean[BLOCKS];
        descs.forEach(e -> Arrays.fill(want, (int) e.lba(), (int) e.end(), true));
        merged.forEach(e -> Arrays.fill(got, (int) e.lba(), (int) e.end(), true));
        assertEquals(Arrays.toString(want), Arrays.toString(got), () -> "merge " + descs + " -> " + merged);
    }
}
