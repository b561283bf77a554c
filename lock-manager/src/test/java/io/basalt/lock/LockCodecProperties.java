package io.basalt.lock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Function;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

class LockCodecProperties {

    @Property
    void commandsRoundTrip(@ForAll("commands") LockCommand c) {
        assertEquals(c, LockCodec.decodeCommand(LockCodec.encode(c)));
    }

    @Property
    void sessionsRoundTrip(@ForAll("sessions") Session s) {
        assertEquals(s, LockCodec.decodeSession(LockCodec.encode(s)));
    }

    @Property
    void locksRoundTrip(@ForAll("locks") VdiskLock lock) {
        assertEquals(lock, LockCodec.decodeLock(LockCodec.encode(lock)));
    }

    @Property(tries = 200)
    void aCommandCutShortAtAnyByteIsRefusedByName(@ForAll("commands") LockCommand c) {
        refusedAtEveryCut(LockCodec.encode(c), LockCodec::decodeCommand);
    }

    @Property(tries = 200)
    void aSessionCutShortAtAnyByteIsRefusedByName(@ForAll("sessions") Session s) {
        refusedAtEveryCut(LockCodec.encode(s), LockCodec::decodeSession);
    }

    @Property(tries = 200)
    void aLockCutShortAtAnyByteIsRefusedByName(@ForAll("locks") VdiskLock lock) {
        byte[] bytes = LockCodec.encode(lock);
        for (int cut = 0; cut < bytes.length; cut++) {
            byte[] shorter = Arrays.copyOf(bytes, cut);
            // Cut inside the holders, the count is refused first: the bytes left cannot hold them.
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LockCodec.decodeLock(shorter), "cut at " + cut);
            assertTrue(e.getMessage().contains("cut short") || e.getMessage().contains("holder count"), e.getMessage());
        }
    }

    @Property(tries = 100)
    void trailingBytesAreRefused(@ForAll("commands") LockCommand c, @ForAll("sessions") Session s, @ForAll("locks") VdiskLock lock) {
        byte[] command = LockCodec.encode(c);
        byte[] session = LockCodec.encode(s);
        byte[] record = LockCodec.encode(lock);
        assertEquals("lock command: 1 bytes after the end (expected: 0)", assertThrows(IllegalArgumentException.class,
                () -> LockCodec.decodeCommand(Arrays.copyOf(command, command.length + 1))).getMessage());
        assertEquals("session record: 2 bytes after the end (expected: 0)", assertThrows(IllegalArgumentException.class,
                () -> LockCodec.decodeSession(Arrays.copyOf(session, session.length + 2))).getMessage());
        assertEquals("lock record: 1 bytes after the end (expected: 0)", assertThrows(IllegalArgumentException.class,
                () -> LockCodec.decodeLock(Arrays.copyOf(record, record.length + 1))).getMessage());
    }

    @Example
    void anUnknownVersionIsRefusedNamingTheOneThisBuildReads() {
        byte[] lock = LockCodec.encode(new VdiskLock("web", List.of(), 0, 0));
        lock[0] = 7;
        assertEquals("lock record version 7 (this build reads 1)",
                assertThrows(IllegalArgumentException.class, () -> LockCodec.decodeLock(lock)).getMessage());
        byte[] session = LockCodec.encode(new Session(3, "h1", 8_000, 0, 0, 3));
        session[0] = 2;
        assertEquals("session record version 2 (this build reads 1)",
                assertThrows(IllegalArgumentException.class, () -> LockCodec.decodeSession(session)).getMessage());
        byte[] command = LockCodec.encode(new LockCommand.Break("web"));
        command[0] = 0;
        assertEquals("lock command version 0 (this build reads 1)",
                assertThrows(IllegalArgumentException.class, () -> LockCodec.decodeCommand(command)).getMessage());
    }

    @Example
    void anUnknownCommandKindIsRefusedNamingTheKnownOnes() {
        byte[] bytes = LockCodec.encode(new LockCommand.CloseSession(5));
        bytes[1] = 12;
        assertEquals("lock command kind 12 (this build knows 1..9)",
                assertThrows(IllegalArgumentException.class, () -> LockCodec.decodeCommand(bytes)).getMessage());
        bytes[1] = 0;
        assertEquals("lock command kind 0 (this build knows 1..9)",
                assertThrows(IllegalArgumentException.class, () -> LockCodec.decodeCommand(bytes)).getMessage());
    }

    @Example
    void anUnknownModeIsRefusedNamingTheKnownOnes() {
        byte[] bytes = LockCodec.encode(new LockCommand.Acquire(5, "web", LockMode.MULTI_WRITER));
        bytes[bytes.length - 1] = 3;
        assertEquals("lock command mode 3 (this build knows 0..2: [EXCLUSIVE, SHARED_READ, MULTI_WRITER])",
                assertThrows(IllegalArgumentException.class, () -> LockCodec.decodeCommand(bytes)).getMessage());
    }

    @Example
    void aHugeHolderCountIsRefusedBeforeAllocating() {
        byte[] bytes = LockCodec.encode(new VdiskLock("web", List.of(new Holding(4, LockMode.EXCLUSIVE, 9)), 9, 9));
        int countAt = 1 + 2 + 3 + 8 + 8;
        bytes[countAt] = 0x7F;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LockCodec.decodeLock(bytes));
        assertTrue(e.getMessage().startsWith("lock record holder count 2130706433 (expected: 0..1"), e.getMessage());
    }

    @Example
    void malformedUtf8IsRefused() {
        byte[] bytes = LockCodec.encode(new LockCommand.Break("ab"));
        bytes[bytes.length - 1] = (byte) 0xC3;   // the lead byte of a two-byte sequence, nothing after it
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LockCodec.decodeCommand(bytes));
        assertTrue(e.getMessage().startsWith("lock command: vdisk of 2 bytes is not valid UTF-8"), e.getMessage());
    }

    @Example
    void whatCouldNotBeReadBackIsNotWritten() {
        assertEquals("lock command: host is null", assertThrows(IllegalArgumentException.class,
                () -> LockCodec.encode(new LockCommand.OpenSession(null, 8_000, 0))).getMessage());
        assertEquals("lock command: mode is null", assertThrows(IllegalArgumentException.class,
                () -> LockCodec.encode(new LockCommand.Acquire(5, "web", null))).getMessage());
        assertThrows(IllegalArgumentException.class, () -> LockCodec.encode(new LockCommand.Break("a\uD800b")));
        assertEquals("lock command: vdisk of 65536 UTF-8 bytes (expected: <= 65535)", assertThrows(IllegalArgumentException.class,
                () -> LockCodec.encode(new LockCommand.Forget("x".repeat(65_536)))).getMessage());
        assertEquals(new LockCommand.Forget("x".repeat(65_535)),
                LockCodec.decodeCommand(LockCodec.encode(new LockCommand.Forget("x".repeat(65_535)))));
    }

    @Example
    void aDecodedRecordIsCheckedLikeAConstructedOne() {
        byte[] bytes = LockCodec.encode(new VdiskLock("web", List.of(), 5, 9));
        bytes[1 + 2 + 3 + 7] = 10;   // fence 10, above the last token 9
        assertEquals("fence: 10 (expected: 0..lastToken 9) vdisk=web",
                assertThrows(IllegalArgumentException.class, () -> LockCodec.decodeLock(bytes)).getMessage());
    }

    /** The bytes of version 1, pinned: a change here is a new version, not an edit. */
    @Example
    void versionOneBytesAreStable() {
        assertEquals("01010002683100000000000003e80000000000000064",
                HexFormat.of().formatHex(LockCodec.encode(new LockCommand.OpenSession("h1", 1_000, 100))));
        assertEquals("01" + "0003776562" + "0000000000000000" + "0000000000000009" + "00000001"
                        + "0000000000000005" + "00" + "0000000000000009",
                HexFormat.of().formatHex(LockCodec.encode(new VdiskLock("web", List.of(new Holding(5, LockMode.EXCLUSIVE, 9)), 0, 9))));
    }

    private static <T> void refusedAtEveryCut(byte[] bytes, Function<byte[], T> decode) {
        for (int cut = 0; cut < bytes.length; cut++) {
            byte[] shorter = Arrays.copyOf(bytes, cut);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> decode.apply(shorter), "cut at " + cut);
            assertTrue(e.getMessage().contains("cut short"), e.getMessage());
        }
    }

    // ---- generators ----

    private static Arbitrary<String> names() {
        // Any UTF-16 without lone surrogates, ASCII most often; blank and empty names too (the table refuses those, not the codec).
        return Arbitraries.oneOf(
                Arbitraries.strings().alpha().numeric().withChars('-', '.').ofMaxLength(20),
                Arbitraries.strings().withCharRange('\u0000', '\uD7FF').withCharRange('\uE000', '\uFFFF').ofMaxLength(12),
                Arbitraries.of("\uD83D\uDE00", "é", "中", "a").list().ofMaxSize(6).map(parts -> String.join("", parts)));
    }

    private static Arbitrary<Long> longs() {
        return Arbitraries.oneOf(Arbitraries.longs(), Arbitraries.longs().between(0, 1_000));
    }

    private static Arbitrary<Long> positive() {
        return Arbitraries.oneOf(Arbitraries.longs().between(1, Long.MAX_VALUE), Arbitraries.longs().between(1, 1_000));
    }

    @Provide
    Arbitrary<LockCommand> commands() {
        Arbitrary<LockMode> modes = Arbitraries.of(LockMode.class);
        return Arbitraries.oneOf(
                Combinators.combine(names(), longs(), longs()).as(LockCommand.OpenSession::new),
                Combinators.combine(longs(), longs()).as(LockCommand.RenewSession::new),
                longs().map(LockCommand.CloseSession::new),
                Combinators.combine(longs(), longs()).as(LockCommand.ExpireSession::new),
                Combinators.combine(longs(), names(), modes).as(LockCommand.Acquire::new),
                Combinators.combine(longs(), names()).as(LockCommand.Release::new),
                Combinators.combine(names(), longs(), longs()).as(LockCommand.Handoff::new),
                names().map(LockCommand.Break::new),
                names().map(LockCommand.Forget::new));
    }

    @Provide
    Arbitrary<Session> sessions() {
        return Combinators.combine(positive(), names().filter(h -> !h.isBlank()), positive(), longs(), longs(), longs())
                .as(Session::new);
    }

    @Provide
    Arbitrary<VdiskLock> locks() {
        Arbitrary<Holding> holdings = Combinators.combine(longs(), Arbitraries.of(LockMode.class), positive()).as(Holding::new);
        return Combinators.combine(names(), holdings.list().ofMaxSize(5), positive(), positive())
                .as((vdisk, holders, a, b) -> new VdiskLock(vdisk, holders, Math.min(a, b), Math.max(a, b)));
    }
}
