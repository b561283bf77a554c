package io.basalt.vdisk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SizesTest {
    @Test
    void parsesUnitsLikeQemuImg() {
        assertEquals(10L << 30, Sizes.parse("10G"));
        assertEquals(512L << 20, Sizes.parse("512M"));
        assertEquals(4096, Sizes.parse("4k"));
        assertEquals(1536L << 20, Sizes.parse("1.5G"));
        assertEquals(12345, Sizes.parse("12345"));
        assertEquals(1L << 40, Sizes.parse("1TiB"));
    }

    @Test
    void errorsNameTheBadValue() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sizes.parse("ten gigs"));
        assertTrue(e.getMessage().contains("'ten gigs'"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Sizes.parse("99999999999999999999G"));
        assertThrows(IllegalArgumentException.class, () -> Sizes.parse("-1G"));
    }

    @Test
    void formatsForHumans() {
        assertEquals("1 GiB", Sizes.format(1L << 30));
        assertEquals("512 B", Sizes.format(512));
        assertEquals("1.5 MiB", Sizes.format(3L << 19));
    }
}
