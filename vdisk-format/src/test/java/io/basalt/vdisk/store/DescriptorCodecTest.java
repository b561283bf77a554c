package io.basalt.vdisk.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Optional;

import org.junit.jupiter.api.Test;

class DescriptorCodecTest {
    private static final VdiskInfo CLONE = new VdiskInfo(7, "web1", 1L << 30, 512, 4096, 3,
            Optional.of(new VdiskInfo.ParentLink(2, 5, "base@gold")), 1, 1_700_000_000_000L);

    @Test
    void descriptorsAndSnapshotsDecodeToWhatWasEncoded() {
        VdiskInfo plain = new VdiskInfo(1, "base", 1L << 20, 4096, 65536, 1, Optional.empty(), 0, 42);
        SnapshotInfo snap = new SnapshotInfo(1, "gold", 5, 1L << 20, 43);
        assertEquals(plain, DescriptorCodec.decodeVdisk(DescriptorCodec.encode(plain)));
        assertEquals(CLONE, DescriptorCodec.decodeVdisk(DescriptorCodec.encode(CLONE)));
        assertEquals(snap, DescriptorCodec.decodeSnapshot(DescriptorCodec.encode(snap)));
    }

    @Test
    void aRecordOfAnUnknownVersionIsRefusedNamingBothVersions() {
        byte[] bytes = DescriptorCodec.encode(CLONE);
        bytes[0] = (byte) (DescriptorCodec.VERSION + 1);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> DescriptorCodec.decodeVdisk(bytes));
        assertEquals("vdisk metadata record format version " + (DescriptorCodec.VERSION + 1) + " (this Basalt reads: "
                + DescriptorCodec.VERSION + "); the store was written by another version of Basalt", e.getMessage());
        assertThrows(IllegalStateException.class, () -> DescriptorCodec.decodeSnapshot(bytes));
    }
}
