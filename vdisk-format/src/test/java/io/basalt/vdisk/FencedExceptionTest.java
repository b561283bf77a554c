package io.basalt.vdisk;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class FencedExceptionTest {
    @Test
    void refusesATokenBelowTheFenceNamingAllThree() {
        FencedException e = assertThrows(FencedException.class, () -> FencedException.check("web1", 10, 12));
        assertEquals("FENCED: vdisk=web1 token=10 (expected: >= fence 12)", e.getMessage());
        assertEquals("web1", e.vdisk());
        assertEquals(10, e.token());
        assertEquals(12, e.fence());
    }

    @Test
    void admitsATokenEqualToOrAboveTheFence() {
        assertDoesNotThrow(() -> FencedException.check("web1", 12, 12));
        assertDoesNotThrow(() -> FencedException.check("web1", 13, 12));
    }

    @Test
    void tokenZeroPassesOnlyWhileTheFenceIsZero() {
        assertDoesNotThrow(() -> FencedException.check("web1", 0, 0));
        assertThrows(FencedException.class, () -> FencedException.check("web1", 0, 1));
    }

    @Test
    void aNegativeTokenIsACallersBug() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FencedException.check("web1", -1, 0));
        assertEquals("fencing token -1, fence 0 (expected: both >= 0) vdisk=web1", e.getMessage());
    }
}
