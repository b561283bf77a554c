package io.basalt.cluster.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.util.Arrays;

import io.basalt.cluster.Wire;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

class MetaCodecProperties {

    @Property
    void commandsRoundTrip(@ForAll("commands") MetaCommand c) {
        assertEquals(c, MetaCodec.decodeCommand(ByteBuffer.wrap(MetaCodec.encode(c))));
    }

    @Property
    void truncatedCommandsAreRejectedNotMisread(@ForAll("commands") MetaCommand c, @ForAll("cuts") int cut) {
        byte[] bytes = MetaCodec.encode(c);
        int at = Math.floorMod(cut, bytes.length);
        assertThrows(Wire.DecodeException.class, () -> MetaCodec.decodeCommand(ByteBuffer.wrap(Arrays.copyOf(bytes, at))));
    }

    @Property
    void resultsRoundTrip(@ForAll("commands") MetaCommand c) {
        // Results of applying a command to a state with a vdisk in it: every kind of result.
        MetaState s = new MetaState();
        s.apply(1, new MetaCommand.CreateVdisk("a", 1 << 20, 512, 4096, 0));
        s.apply(2, new MetaCommand.CreateSnapshot("a", "s", 0));
        MetaResult r = s.apply(3, c);
        assertEquals(r, MetaCodec.decodeResult(ByteBuffer.wrap(MetaCodec.encode(r))));
        s.checkInvariants();
    }

    @Property
    void queriesRoundTrip(@ForAll("queries") MetaQuery q) {
        byte[] bytes = MetaQuery.encode(q);
        assertEquals(Wire.VERSION_MARKER + MetaQuery.VERSION, bytes[0] & 0xFF);
        assertEquals(q, MetaQuery.decode(ByteBuffer.wrap(bytes)));
    }

    @Example
    void resultsAndListAnswersStartWithTheirVersionMarker() {
        assertEquals(Wire.VERSION_MARKER + MetaCodec.RESULT_VERSION, MetaCodec.encode(new MetaResult.Done())[0] & 0xFF);
        MetaState s = stateWithWeb();
        byte[] list = MetaQuery.answer(s, new MetaQuery.ListVdisks());
        assertEquals(Wire.VERSION_MARKER + MetaQuery.VERSION, list[0] & 0xFF);
        assertEquals(s.vdisks(), MetaQuery.decodeList(ByteBuffer.wrap(list)));
    }

    // Bytes as the code before query and result versions wrote them (captured from it).
    private static final String COMMAND_CREATE_WEB = "010100037765620000000000100000000002000000100000000000000003e8";
    private static final String QUERY_BY_NAME_WEB = "010003776562";
    private static final String QUERY_LIST_VDISKS = "02";
    private static final String RESULT_DONE = "01";
    private static final String RESULT_REJECTED_NO = "0400026e6f";
    private static final String ANSWER_BY_NAME_WEB = "0200000000000000010003776562000000000010000000000200000010000000000000000001"
            + "000000000000000000000003e800";
    private static final String ANSWER_LIST_WEB = "000000010000003300000000000000010003776562000000000010000000000200000010"
            + "000000000000000001000000000000000000000003e800";

    @Example
    void messagesWrittenBeforeVersionsStillDecode() {
        assertEquals(new MetaCommand.CreateVdisk("web", 1 << 20, 512, 4096, 1000), MetaCodec.decodeCommand(hex(COMMAND_CREATE_WEB)));
        assertEquals(new MetaQuery.VdiskByName("web"), MetaQuery.decode(hex(QUERY_BY_NAME_WEB)));
        assertEquals(new MetaQuery.ListVdisks(), MetaQuery.decode(hex(QUERY_LIST_VDISKS)));
        assertEquals(new MetaResult.Done(), MetaCodec.decodeResult(hex(RESULT_DONE)));
        assertEquals(new MetaResult.Rejected("no"), MetaCodec.decodeResult(hex(RESULT_REJECTED_NO)));
        VdiskRecord web = stateWithWeb().vdisk("web").orElseThrow();
        assertEquals(new MetaResult.VdiskChanged(web), MetaCodec.decodeResult(hex(ANSWER_BY_NAME_WEB)));
        assertEquals(java.util.List.of(web), MetaQuery.decodeList(hex(ANSWER_LIST_WEB)));
    }

    @Example
    void aCommandOfAFutureVersionIsRefusedNamingBothVersions() {
        byte[] bytes = MetaCodec.encode(new MetaCommand.RemoveVdisk("web"));
        bytes[0] = 2;
        var e = assertThrows(Wire.DecodeException.class, () -> MetaCodec.decodeCommand(ByteBuffer.wrap(bytes)));
        assertEquals("meta command: format version 2 (this node reads: 1)", e.getMessage());
    }

    @Example
    void queriesResultsAndAnswersOfAFutureVersionAreRefusedNamingBothVersions() {
        int future = Wire.VERSION_MARKER + 2;
        var query = assertThrows(Wire.DecodeException.class, () -> MetaQuery.decode(ByteBuffer.wrap(new byte[] {(byte) future, 2})));
        assertEquals("meta query: format version 2 (this node reads: 0..1)", query.getMessage());
        byte[] result = MetaCodec.encode(new MetaResult.Done());
        result[0] = (byte) future;
        var r = assertThrows(Wire.DecodeException.class, () -> MetaCodec.decodeResult(ByteBuffer.wrap(result)));
        assertEquals("meta result: format version 2 (this node reads: 0..1)", r.getMessage());
        byte[] list = MetaQuery.answer(stateWithWeb(), new MetaQuery.ListNodes());
        list[0] = (byte) future;
        var l = assertThrows(Wire.DecodeException.class, () -> MetaQuery.decodeNodes(ByteBuffer.wrap(list)));
        assertEquals("node list: format version 2 (this node reads: 0..1)", l.getMessage());
    }

    private static MetaState stateWithWeb() {
        MetaState s = new MetaState();
        s.apply(1, new MetaCommand.CreateVdisk("web", 1 << 20, 512, 4096, 1000));
        return s;
    }

    private static ByteBuffer hex(String s) {
        return ByteBuffer.wrap(java.util.HexFormat.of().parseHex(s));
    }

    @Provide
    Arbitrary<MetaQuery> queries() {
        return Arbitraries.oneOf(Arbitraries.of("", "web", "x.y").map(n -> (MetaQuery) new MetaQuery.VdiskByName(n)),
                Arbitraries.<MetaQuery>of(new MetaQuery.ListVdisks(), new MetaQuery.ListNodes(), new MetaQuery.ListSpaces()));
    }

    @Provide
    Arbitrary<Integer> cuts() {
        return Arbitraries.integers();
    }

    @Provide
    Arbitrary<MetaCommand> commands() {
        Arbitrary<String> names = Arbitraries.of("a", "b", "s", "web", "x.y", "-bad", "");
        Arbitrary<Long> longs = Arbitraries.longs().between(-1, 1L << 51);
        Arbitrary<Integer> sizes = Arbitraries.of(512, 4096, 3000, 65536);
        return Arbitraries.oneOf(
                Combinators.combine(names, longs, sizes, sizes, longs).as(MetaCommand.CreateVdisk::new),
                names.map(MetaCommand.RemoveVdisk::new),
                Combinators.combine(names, longs).as(MetaCommand.ResizeVdisk::new),
                Combinators.combine(names, names, longs).as(MetaCommand.CreateSnapshot::new),
                Combinators.combine(names, names).as(MetaCommand.RemoveSnapshot::new),
                Combinators.combine(names, names, names, longs).as(MetaCommand.CloneVdisk::new),
                Combinators.combine(names, longs, longs).as(MetaCommand.OpenSession::new),
                Combinators.combine(longs, longs).as(MetaCommand.RenewSession::new),
                longs.map(MetaCommand.CloseSession::new),
                Combinators.combine(Arbitraries.integers().between(-1, 6), Arbitraries.of("127.0.0.1", "", "h"), Arbitraries.integers().between(0, 70000))
                        .as(MetaCommand.RegisterNode::new),
                Arbitraries.integers().between(-1, 6).map(MetaCommand.UnregisterNode::new),
                names.map(MetaCommand.FlattenVdisk::new),
                Combinators.combine(names, names).as(MetaCommand.BeginRollback::new),
                Combinators.combine(names, names).as(MetaCommand.EndRollback::new),
                Combinators.combine(Arbitraries.integers().between(-1, 6), longs, longs, longs, longs)
                        .as((id, free, reserve, total, at) -> new MetaCommand.ReportSpace(new NodeSpace(id, free, reserve, total, at))));
    }
}
