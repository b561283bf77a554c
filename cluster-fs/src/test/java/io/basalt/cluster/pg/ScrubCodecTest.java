package io.basalt.cluster.pg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;

import org.junit.jupiter.api.Test;

import io.basalt.cluster.Wire.DecodeException;

/** The scrub's messages round-trip, and a node that reads only PG batches refuses them by name. */
class ScrubCodecTest {

    @Test
    void requestsAndRepliesRoundTrip() {
        ScrubCodec.Request read = new ScrubCodec.ReadFrame(7, 1234, 3);
        ScrubCodec.Request control = new ScrubCodec.Control(true, -1);
        assertEquals(read, ScrubCodec.decode(ByteBuffer.wrap(ScrubCodec.encode(read))));
        assertEquals(control, ScrubCodec.decode(ByteBuffer.wrap(ScrubCodec.encode(control))));
        ScrubCodec.Request rot = new ScrubCodec.RotForTest(7, 99);
        assertEquals(rot, ScrubCodec.decode(ByteBuffer.wrap(ScrubCodec.encode(rot))));
        ScrubCodec.Rotted rotted = ScrubCodec.decodeRotted(ScrubCodec.encodeRotted(new ScrubCodec.Rotted(12, 2, ByteBuffer.wrap(new byte[] {1, 1, 5}))));
        assertEquals(2, rotted.epoch());
        assertEquals(3, rotted.frame().remaining());
        assertTrue(!ScrubCodec.decodeRotted(ScrubCodec.encodeRotted(new ScrubCodec.Rotted(12, -1, ByteBuffer.allocate(0)))).present());

        byte[] frame = {1, 0, 9, 8, 7, 6, 42};
        ScrubCodec.FrameReply f = ScrubCodec.decodeFrame(ScrubCodec.encodeFrame(new ScrubCodec.FrameReply(99, true, ByteBuffer.wrap(frame))));
        assertEquals(99, f.appliedIndex());
        assertTrue(f.present());
        byte[] back = new byte[f.frame().remaining()];
        f.frame().get(back);
        assertArrayEquals(frame, back);

        PgScrubState.Stats s = new PgScrubState.Stats(2, 5, 1_700_000_000_000L, 640, 2_621_440, 3, 2, 1, true);
        assertEquals(s, ScrubCodec.decodeStats(ScrubCodec.encodeStats(s)));
    }

    @Test
    void pgQueryDecoderRefusesAScrubRequestNamingItsFirstByte() {
        byte[] request = ScrubCodec.encode(new ScrubCodec.Control(false, -1));
        assertTrue(ScrubCodec.isScrub(ByteBuffer.wrap(request)));
        assertTrue(!ScrubCodec.isScrub(ByteBuffer.wrap(PgCodec.encodeBatch(java.util.List.of(new PgOp.Space(1))))));
        DecodeException e = assertThrows(DecodeException.class, () -> PgCodec.decodeBatch(ByteBuffer.wrap(request)));
        assertTrue(e.getMessage().contains("format version " + ScrubCodec.MAGIC), e.getMessage());
    }

    @Test
    void aPendingPassOfEveryVdiskIsNotNarrowedByALaterAskForOne() {
        PgScrubState st = new PgScrubState(0);
        assertEquals(PgScrubState.NO_REQUEST, st.takeRequest());
        st.request(PgScrubState.ALL_VDISKS);
        st.request(5);
        assertEquals(PgScrubState.ALL_VDISKS, st.takeRequest());
        st.request(5);
        st.request(6);
        assertEquals(PgScrubState.ALL_VDISKS, st.takeRequest());
        st.request(5);
        assertTrue(st.stats().running(), "a pending ask shows as running");
        assertEquals(5, st.takeRequest());
    }
}
