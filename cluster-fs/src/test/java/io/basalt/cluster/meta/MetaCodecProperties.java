package io.basalt.cluster.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.util.Arrays;

import io.basalt.cluster.Wire;
import io.basalt.lock.LockCommand;
import io.basalt.lock.LockMode;
import io.basalt.lock.LockResult;
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
        bytes[0] = 5;
        var e = assertThrows(Wire.DecodeException.class, () -> MetaCodec.decodeCommand(ByteBuffer.wrap(bytes)));
        assertEquals("meta command: format version 5 (this node reads: 1..4)", e.getMessage());
    }

    @Example
    void queriesResultsAndAnswersOfAFutureVersionAreRefusedNamingBothVersions() {
        int future = Wire.VERSION_MARKER + 5;
        var query = assertThrows(Wire.DecodeException.class, () -> MetaQuery.decode(ByteBuffer.wrap(new byte[] {(byte) future, 2})));
        assertEquals("meta query: format version 5 (this node reads: 0..4)", query.getMessage());
        byte[] result = MetaCodec.encode(new MetaResult.Done());
        result[0] = (byte) future;
        var r = assertThrows(Wire.DecodeException.class, () -> MetaCodec.decodeResult(ByteBuffer.wrap(result)));
        assertEquals("meta result: format version 5 (this node reads: 0..2)", r.getMessage());
        byte[] list = MetaQuery.answer(stateWithWeb(), new MetaQuery.ListNodes());
        list[0] = (byte) future;
        var l = assertThrows(Wire.DecodeException.class, () -> MetaQuery.decodeNodes(ByteBuffer.wrap(list)));
        assertEquals("node list: format version 5 (this node reads: 0..4)", l.getMessage());
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
                Arbitraries.of("", "web").map(n -> (MetaQuery) new MetaQuery.LockOf(n)),
                Arbitraries.of("", "vm", "host/h1").map(n -> (MetaQuery) new MetaQuery.ConfigsUnder(n)),
                Arbitraries.<MetaQuery>of(new MetaQuery.ListVdisks(), new MetaQuery.ListNodes(), new MetaQuery.ListSpaces(),
                        new MetaQuery.ListSessions(), new MetaQuery.ListLocks()));
    }

    private static Arbitrary<LockCommand> lockCommands(Arbitrary<String> names, Arbitrary<Long> longs) {
        Arbitrary<LockMode> modes = Arbitraries.of(LockMode.class);
        return Arbitraries.oneOf(
                Combinators.combine(names, longs, longs).as(LockCommand.OpenSession::new),
                Combinators.combine(longs, longs).as(LockCommand.RenewSession::new),
                longs.map(LockCommand.CloseSession::new),
                Combinators.combine(longs, longs).as(LockCommand.ExpireSession::new),
                Combinators.combine(longs, names, modes).as(LockCommand.Acquire::new),
                Combinators.combine(longs, names).as(LockCommand.Release::new),
                Combinators.combine(names, longs, longs).as(LockCommand.Handoff::new),
                names.map(LockCommand.Break::new),
                names.map(LockCommand.Forget::new));
    }

    /** Every kind of lock result, from a life of two sessions on one vdisk, survives the codec. */
    @Example
    void lockResultsRoundTrip() {
        MetaState s = stateWithWeb();
        java.util.List<MetaResult> results = new java.util.ArrayList<>();
        java.util.function.Function<LockCommand, MetaResult> apply = c -> {
            MetaResult r = s.apply(s.nextId() + results.size() + 10, new MetaCommand.Lock(c));
            results.add(r);
            return r;
        };
        long a = ((LockResult.SessionOpened) ((MetaResult.LockApplied) apply.apply(new LockCommand.OpenSession("ha", 2000, 1))).result()).session().id();
        long b = ((LockResult.SessionOpened) ((MetaResult.LockApplied) apply.apply(new LockCommand.OpenSession("hb", 2000, 1))).result()).session().id();
        apply.apply(new LockCommand.Acquire(a, "web", LockMode.EXCLUSIVE));
        apply.apply(new LockCommand.Acquire(b, "web", LockMode.SHARED_READ));
        apply.apply(new LockCommand.RenewSession(a, 2));
        apply.apply(new LockCommand.Handoff("web", a, b));
        apply.apply(new LockCommand.Acquire(a, "web", LockMode.EXCLUSIVE));
        apply.apply(new LockCommand.Release(b, "web"));
        apply.apply(new LockCommand.Acquire(a, "web", LockMode.MULTI_WRITER));
        apply.apply(new LockCommand.Break("web"));
        apply.apply(new LockCommand.Forget("web"));
        apply.apply(new LockCommand.Acquire(b, "web", LockMode.EXCLUSIVE));
        apply.apply(new LockCommand.CloseSession(b));
        apply.apply(new LockCommand.ExpireSession(a, 0));
        apply.apply(new LockCommand.Acquire(a, "nope", LockMode.EXCLUSIVE));
        java.util.Set<Class<?>> kinds = new java.util.HashSet<>();
        for (MetaResult r : results) {
            assertEquals(r, MetaCodec.decodeResult(ByteBuffer.wrap(MetaCodec.encode(r))));
            kinds.add(((MetaResult.LockApplied) r).result().getClass());
        }
        assertEquals(9, kinds.size(), "every kind of lock result: " + kinds);
        s.checkInvariants();
    }

    @Example
    void aVersion1SessionCommandReadsAsTheLockTables() {
        // Version 1, tag 7: OpenSession("h1", lease 1000, now 4), as the code before the lock table wrote it.
        assertEquals(new MetaCommand.Lock(new LockCommand.OpenSession("h1", 1000, 4)),
                MetaCodec.decodeCommand(hex("0107000268310000000000000" + "3e80000000000000004")));
        var e = assertThrows(Wire.DecodeException.class, () -> MetaCodec.decodeCommand(hex("0207000268310000000000000" + "3e80000000000000004")));
        assertEquals("meta command tag: 7 (expected: not 7..9 in version 2)", e.getMessage());
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
                lockCommands(names, longs).map(MetaCommand.Lock::new),
                Combinators.combine(Arbitraries.integers().between(-1, 6), Arbitraries.of("127.0.0.1", "", "h"), Arbitraries.integers().between(0, 70000))
                        .as(MetaCommand.RegisterNode::new),
                Arbitraries.integers().between(-1, 6).map(MetaCommand.UnregisterNode::new),
                names.map(MetaCommand.FlattenVdisk::new),
                Combinators.combine(names, names).as(MetaCommand.BeginRollback::new),
                Combinators.combine(names, names).as(MetaCommand.EndRollback::new),
                Combinators.combine(names, longs, Arbitraries.bytes().array(byte[].class).ofMaxSize(64))
                        .as((n, v, b) -> new MetaCommand.SetPrState(n, v, ByteBuffer.wrap(b))),
                Combinators.combine(Arbitraries.of("vm/web", "host/h-1", "x"), longs, Arbitraries.bytes().array(byte[].class).ofMaxSize(64).optional())
                        .as((k, v, b) -> new MetaCommand.PutConfig(k, v, b.map(ByteBuffer::wrap))),
                Combinators.combine(Arbitraries.integers().between(-1, 6), longs, longs, longs, longs)
                        .as((id, free, reserve, total, at) -> new MetaCommand.ReportSpace(new NodeSpace(id, free, reserve, total, at))));
    }
}
