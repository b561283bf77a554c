package io.basalt.cluster.pg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;

import io.basalt.cluster.Wire;
import io.basalt.vdisk.BlockDeviceException;
import io.basalt.vdisk.CompareResult;
import io.basalt.vdisk.LbaStatus;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;

class PgCodecProperties {

    @Property(tries = 300)
    void batchesRoundTrip(@ForAll("ops") @Size(max = 20) List<PgOp> ops) {
        assertEquals(ops, PgCodec.decodeBatch(ByteBuffer.wrap(PgCodec.encodeBatch(ops))));
    }

    @Property(tries = 300)
    void truncatedBatchesAreRejected(@ForAll("ops") @Size(min = 1, max = 5) List<PgOp> ops, @ForAll int cut) {
        byte[] bytes = PgCodec.encodeBatch(ops);
        int at = Math.floorMod(cut, bytes.length);
        assertThrows(Wire.DecodeException.class, () -> PgCodec.decodeBatch(ByteBuffer.wrap(Arrays.copyOf(bytes, at))));
    }

    @Property(tries = 300)
    void taggedEntriesRoundTrip(@ForAll("ops") @Size(max = 20) List<PgOp> ops, @ForAll long hi, @ForAll long lo,
                                @ForAll @net.jqwik.api.constraints.LongRange(min = 1) long seq, @ForAll long ackedSeed) {
        ClientTag tag = new ClientTag(new java.util.UUID(hi, lo), seq, Math.floorMod(ackedSeed, seq));
        assertEquals(new PgCodec.Entry(tag, ops), PgCodec.decodeEntry(ByteBuffer.wrap(PgCodec.encodeEntry(tag, ops))));
        assertEquals(new PgCodec.Entry(null, ops), PgCodec.decodeEntry(ByteBuffer.wrap(PgCodec.encodeBatch(ops))), "untagged (older) entries still decode");
    }

    @Property(tries = 300)
    void truncatedTaggedEntriesAreRejected(@ForAll("ops") @Size(min = 1, max = 5) List<PgOp> ops, @ForAll int cut) {
        byte[] bytes = PgCodec.encodeEntry(new ClientTag(new java.util.UUID(1, 2), 5, 4), ops);
        int at = Math.floorMod(cut, bytes.length);
        assertThrows(Wire.DecodeException.class, () -> PgCodec.decodeEntry(ByteBuffer.wrap(Arrays.copyOf(bytes, at))));
    }

    @Property(tries = 300)
    void resultsRoundTrip(@ForAll("results") @Size(max = 20) List<PgResult> results) {
        assertEquals(results, PgCodec.decodeResults(ByteBuffer.wrap(PgCodec.encodeResults(results))));
    }

    @Property(tries = 100)
    void repliesStartWithTheirVersionMarker(@ForAll("results") @Size(max = 5) List<PgResult> results) {
        assertEquals(Wire.VERSION_MARKER + PgCodec.REPLY_VERSION, PgCodec.encodeResults(results)[0] & 0xFF);
    }

    // Bytes as the code before reply versions wrote them (captured from it): entries and queries
    // always started with their version byte, replies with their result count.
    private static final String ENTRY_V1_WRITE_AND_READ = "0100000002020000000000000007000000000000001000000003010203"
            + "080000000000000007000000000000000000000008";
    private static final String ENTRY_V2_TAGGED_UNMAP = "02000000000000000100000000000000020000000000000005000000000000000400000001"
            + "03000000000000000700000000000000080000000000000002";
    private static final String REPLY_UNVERSIONED = "000000030103000000020908050500026e6f";

    @Example
    void entriesWrittenBeforeReplyVersionsStillDecode() {
        assertEquals(new PgCodec.Entry(null, List.of(new PgOp.Write(7, 16, ByteBuffer.wrap(new byte[] {1, 2, 3})), new PgOp.Read(7, 0, 8))),
                PgCodec.decodeEntry(hex(ENTRY_V1_WRITE_AND_READ)));
        assertEquals(new PgCodec.Entry(new ClientTag(new java.util.UUID(1, 2), 5, 4), List.of(new PgOp.Unmap(7, 8, 2))),
                PgCodec.decodeEntry(hex(ENTRY_V2_TAGGED_UNMAP)));
        assertEquals(List.of(new PgOp.Write(7, 16, ByteBuffer.wrap(new byte[] {1, 2, 3})), new PgOp.Read(7, 0, 8)),
                PgCodec.decodeBatch(hex(ENTRY_V1_WRITE_AND_READ)), "as a query");
    }

    @Example
    void repliesWrittenBeforeTheyHadAVersionStillDecode() {
        assertEquals(List.of(new PgResult.Done(), new PgResult.Data(ByteBuffer.wrap(new byte[] {9, 8})),
                new PgResult.Failed(BlockDeviceException.Kind.IO, "no")), PgCodec.decodeResults(hex(REPLY_UNVERSIONED)));
    }

    @Example
    void anEntryOfAFutureVersionIsRefusedNamingBothVersions() {
        byte[] bytes = PgCodec.encodeEntry(new ClientTag(new java.util.UUID(1, 2), 5, 4), List.of(new PgOp.Flatten(3)));
        bytes[0] = 5;
        var e = assertThrows(Wire.DecodeException.class, () -> PgCodec.decodeEntry(ByteBuffer.wrap(bytes)));
        assertEquals("pg entry: format version 5 (this node reads: 1..4)", e.getMessage());
    }

    @Example
    void aQueryOfAnotherVersionIsRefusedNamingBothVersions() {
        byte[] bytes = PgCodec.encodeBatch(List.of(new PgOp.Read(1, 0, 8)));
        bytes[0] = 2;
        var e = assertThrows(Wire.DecodeException.class, () -> PgCodec.decodeBatch(ByteBuffer.wrap(bytes)));
        assertEquals("pg query: format version 2 (this node reads: 1 or 3)", e.getMessage());
    }

    @Example
    void aReplyOfAFutureVersionIsRefusedNamingBothVersions() {
        byte[] bytes = PgCodec.encodeResults(List.of(new PgResult.Done()));
        bytes[0] = (byte) (Wire.VERSION_MARKER + 3);
        var e = assertThrows(Wire.DecodeException.class, () -> PgCodec.decodeResults(ByteBuffer.wrap(bytes)));
        assertEquals("pg reply: format version 3 (this node reads: 0..2)", e.getMessage());
    }

    @Example
    void tokensTravelWithEveryFencedOpAndQueriesKeepVersion1() {
        List<PgOp> ops = List.of(new PgOp.RaiseFence(7, 40), new PgOp.Write(7, 16, ByteBuffer.wrap(new byte[] {1}), 41),
                new PgOp.Snapshot(7, "s", 42));
        byte[] entry = PgCodec.encodeEntry(new ClientTag(new java.util.UUID(1, 2), 5, 4), ops);
        assertEquals(PgCodec.VERSION_FENCED_TAGGED, entry[0]);
        assertEquals(ops, PgCodec.decodeEntry(ByteBuffer.wrap(entry)).ops());
        assertEquals(PgCodec.VERSION_FENCED, PgCodec.encodeBatch(ops)[0]);
        assertEquals(PgCodec.VERSION, PgCodec.encodeBatch(List.of(new PgOp.Read(7, 0, 1)))[0], "a query: readable by nodes before fencing");
    }

    private static ByteBuffer hex(String s) {
        return ByteBuffer.wrap(java.util.HexFormat.of().parseHex(s));
    }

    @Provide
    Arbitrary<List<PgOp>> ops() {
        Arbitrary<Long> ids = Arbitraries.longs().between(0, 1000);
        Arbitrary<Long> lbas = Arbitraries.longs().between(0, 1L << 40);
        Arbitrary<ByteBuffer> data = Arbitraries.bytes().array(byte[].class).ofMaxSize(2048).map(ByteBuffer::wrap);
        Arbitrary<String> names = Arbitraries.strings().alpha().ofMaxLength(10);
        Arbitrary<Long> tokens = Arbitraries.longs().between(0, Long.MAX_VALUE);
        Arbitrary<PgOp> op = Arbitraries.oneOf(
                Combinators.combine(ids, lbas, Arbitraries.of(512, 4096), Arbitraries.of(4096, 65536), ids, names).as(PgOp.CreateVdisk::new),
                Combinators.combine(ids, lbas, data, tokens).as(PgOp.Write::new),
                Combinators.combine(ids, lbas, lbas, tokens).as(PgOp.Unmap::new),
                Combinators.combine(ids, lbas, lbas, Arbitraries.of(true, false), tokens).as(PgOp.WriteZeroes::new),
                Combinators.combine(ids, lbas, data, data, tokens).as(PgOp.CompareAndWrite::new),
                Combinators.combine(ids, lbas).as(PgOp.Resize::new),
                Combinators.combine(ids, names, tokens).as(PgOp.Snapshot::new),
                Combinators.combine(ids, tokens).as(PgOp.RaiseFence::new),
                Combinators.combine(ids, lbas, Arbitraries.integers().between(0, 1 << 16)).as(PgOp.Read::new),
                Combinators.combine(ids, lbas, lbas).as(PgOp.LbaStatus::new),
                ids.map(PgOp.RemoveVdisk::new),
                ids.map(PgOp.Flatten::new),
                Combinators.combine(ids, names).as(PgOp.RemoveSnapshot::new),
                Combinators.combine(ids, names).as(PgOp.Rollback::new),
                ids.map(PgOp.Space::new),
                Combinators.combine(ids, names, names).as(PgOp.Diff::new),
                Combinators.combine(ids, names, lbas, Arbitraries.integers().between(0, 1 << 16)).as(PgOp.ReadSnapshot::new));
        return op.list();
    }

    @Provide
    Arbitrary<List<PgResult>> results() {
        Arbitrary<PgResult> r = Arbitraries.oneOf(
                Arbitraries.just(new PgResult.Done()),
                Arbitraries.of(CompareResult.MATCHED, CompareResult.miscompareAt(0), CompareResult.miscompareAt(4095)).map(PgResult.Compared::new),
                Arbitraries.bytes().array(byte[].class).ofMaxSize(1024).map(b -> new PgResult.Data(ByteBuffer.wrap(b))),
                Combinators.combine(Arbitraries.longs().between(0, 1 << 30), Arbitraries.longs().between(1, 1 << 20),
                        Arbitraries.of(LbaStatus.Provisioning.class)).as(LbaStatus::new).list().ofMaxSize(5).map(PgResult.Status::new),
                Combinators.combine(Arbitraries.of(BlockDeviceException.Kind.class).injectNull(0.3), Arbitraries.strings().ofMaxLength(50))
                        .as(PgResult.Failed::new),
                Combinators.combine(Arbitraries.longs().between(0, 1L << 40), Arbitraries.longs().between(0, 1L << 40),
                        Arbitraries.longs().between(0, 1L << 30)).as(PgResult.Space::new),
                Combinators.combine(Arbitraries.longs().between(0, 1L << 40), Arbitraries.longs().between(1, 1 << 20), Arbitraries.of(true, false))
                        .as(io.basalt.vdisk.store.Extent::new).list().ofMaxSize(5).map(PgResult.Extents::new),
                Combinators.combine(Arbitraries.longs().between(0, 1000), Arbitraries.longs().between(0, Long.MAX_VALUE),
                        Arbitraries.longs().between(0, Long.MAX_VALUE)).as(PgResult.Fenced::new));
        return r.list();
    }
}
