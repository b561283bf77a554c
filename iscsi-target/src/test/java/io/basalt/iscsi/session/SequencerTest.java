package io.basalt.iscsi.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.basalt.iscsi.pdu.SequenceNumbers;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class SequencerTest {

    private final AtomicInteger slotsInUse = new AtomicInteger();
    private final Sequencer sequencer = new Sequencer(16, slotsInUse::get);

    @Test
    void admitsOnlyTheExpectedCmdSnUnlessImmediate() {
        sequencer.start(100, 7);
        assertFalse(sequencer.admit(false, 101), "a gap");
        assertFalse(sequencer.admit(false, 99), "a duplicate");
        assertTrue(sequencer.admit(false, 100));
        assertEquals(101, sequencer.expCmdSn());
        assertTrue(sequencer.admit(true, 5000), "immediate: not window-checked");
        assertEquals(101, sequencer.expCmdSn(), "immediate PDUs do not advance ExpCmdSN");
    }

    @Test
    void statusUsesUpAStatSnAndOtherPdusRepeatIt() {
        sequencer.start(100, 7);
        assertEquals(new SequenceNumbers(7, 100, 115), sequencer.current());
        assertEquals(new SequenceNumbers(7, 100, 115), sequencer.nextStatus());
        assertEquals(new SequenceNumbers(8, 100, 115), sequencer.nextStatus());
        assertEquals(9, sequencer.current().statSn());
    }

    @Test
    void maxCmdSnShrinksWithBusySlotsOnlyByNotAdvancing() {
        sequencer.start(100, 0);
        slotsInUse.set(3);
        assertTrue(sequencer.admit(false, 100));
        assertEquals(115, sequencer.maxCmdSn(), "101 + 16 - 3 - 1 = 113 would move it back: it stays");
        slotsInUse.set(0);
        assertEquals(116, sequencer.maxCmdSn());
    }
}
