package io.basalt.iscsi.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.basalt.iscsi.MemoryBlockDevice;
import io.basalt.iscsi.pdu.Opcode;
import io.basalt.iscsi.pdu.Pdu;
import io.basalt.iscsi.pdu.SamplePduAccess;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * Mutated and random PDUs into a logged-in, live connection: no exception escapes the pipeline,
 * every buffer (PDUs, write buffers of half-received commands, responses) is released, and a
 * header no initiator may send closes the connection.
 */
class SessionFuzzProperties {

    private static void feed(InitiatorHarness h, byte[] wire, int chunk) {
        for (int at = 0; at < wire.length && h.channel.isOpen(); at += chunk) {
            h.sendRaw(h.alloc.copyOf(wire, at, Math.min(wire.length, at + chunk)));
            h.receive().forEach(Pdu::release);
        }
    }

    private static InitiatorHarness loggedIn(boolean digests) {
        InitiatorHarness h = new InitiatorHarness(new MemoryBlockDevice("mem", 512, 1 << 20, Runnable::run), null, InitiatorHarness.settings());
        if (digests) {
            h.login("HeaderDigest=CRC32C", "DataDigest=CRC32C", "InitialR2T=No");
        } else {
            h.login("InitialR2T=No");
        }
        return h;
    }

    @Property(tries = 200)
    void mutatedPdusNeitherThrowNorLeak(@ForAll("pduIndex") int which, @ForAll @Size(min = 1, max = 4) List<@IntRange(min = 0, max = 1200) Integer> positions,
                                        @ForAll byte flip, @ForAll @IntRange(min = 1, max = 200) int chunk, @ForAll boolean digests) {
        InitiatorHarness h = loggedIn(digests);
        byte[] wire = SamplePduAccess.encoded(which, digests);
        for (int p : positions) {
            wire[p % wire.length] ^= flip == 0 ? 1 : flip;
        }
        feed(h, wire, chunk);
        h.close();
        assertEquals(0, h.alloc.unreleased());
    }

    @Property(tries = 100)
    void validSamplePdusNeitherThrowNorLeak(@ForAll("pduIndex") int first, @ForAll("pduIndex") int second,
                                            @ForAll @IntRange(min = 1, max = 97) int chunk) {
        InitiatorHarness h = loggedIn(false);
        feed(h, SamplePduAccess.encoded(first, false), chunk);
        feed(h, SamplePduAccess.encoded(second, false), chunk);
        h.close();
        assertEquals(0, h.alloc.unreleased());
    }

    @Property(tries = 100)
    void headerWithATargetOpcodeClosesTheConnection(@ForAll @Size(min = 48, max = 600) byte[] garbage,
                                                    @ForAll("targetOpcode") int opcode, @ForAll @IntRange(min = 1, max = 64) int chunk) {
        InitiatorHarness h = loggedIn(false);
        garbage[0] = (byte) opcode;
        feed(h, garbage, chunk);
        assertFalse(h.channel.isOpen());
        h.close();
        assertEquals(0, h.alloc.unreleased());
    }

    @Provide
    Arbitrary<Integer> pduIndex() {
        return Arbitraries.integers().between(0, SamplePduAccess.count() - 1);
    }

    @Provide
    Arbitrary<Integer> targetOpcode() {
        return Arbitraries.of(Opcode.values()).filter(o -> !o.fromInitiator()).map(Opcode::code);
    }

}
