package io.basalt.cluster.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.util.Arrays;

import io.basalt.cluster.Wire;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
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
