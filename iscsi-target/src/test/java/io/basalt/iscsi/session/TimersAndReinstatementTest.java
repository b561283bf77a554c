package io.basalt.iscsi.session;

import static io.basalt.iscsi.session.InitiatorHarness.RESERVED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.basalt.iscsi.MemoryBlockDevice;
import io.basalt.iscsi.pdu.NopIn;
import io.basalt.iscsi.pdu.NopOut;
import io.netty.buffer.Unpooled;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Target-initiated NOP-In pings, the login timeout, and session reinstatement. */
class TimersAndReinstatementTest {

    private static final TargetSettings PINGING = new TargetSettings(8192, 65536, 16384, false, 4, 16,
            Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ofSeconds(10));

    private final MemoryBlockDevice device = new MemoryBlockDevice("mem", 512, 1 << 20, Runnable::run);

    /** Moves the connection's clock and runs its once-a-second timer. */
    private static void elapse(InitiatorHarness h, Duration d) {
        h.clock.addAndGet(d.toNanos());
        h.channel.advanceTimeBy(1, TimeUnit.SECONDS);
        h.channel.runScheduledPendingTasks();
    }

    @Test
    void pingsAnIdleInitiatorAndKeepsTheConnectionWhenAnswered() {
        try (InitiatorHarness h = new InitiatorHarness(device, null, PINGING)) {
            h.login();
            elapse(h, Duration.ofSeconds(6));
            NopIn ping = h.receiveOne(NopIn.class);
            assertEquals(RESERVED, ping.itt());
            assertNotEquals(RESERVED, ping.ttt());
            h.send(new NopOut(true, 0, RESERVED, ping.ttt(), h.cmdSn, 0, Unpooled.EMPTY_BUFFER));
            ping.release();
            elapse(h, Duration.ofSeconds(4));
            assertTrue(h.channel.isOpen());
            assertEquals(0, h.receive().size());
        }
    }

    @Test
    void closesWhenAPingGoesUnanswered() {
        try (InitiatorHarness h = new InitiatorHarness(device, null, PINGING)) {
            h.login();
            elapse(h, Duration.ofSeconds(6));
            h.receiveOne(NopIn.class).release();
            elapse(h, Duration.ofSeconds(6));
            assertFalse(h.channel.isOpen());
        }
    }

    @Test
    void closesAConnectionThatNeverLogsIn() {
        try (InitiatorHarness h = new InitiatorHarness(device, null, PINGING)) {
            elapse(h, Duration.ofSeconds(11));
            assertFalse(h.channel.isOpen());
        }
    }

    @Test
    void aNewLoginOfTheSameInitiatorPortReinstatesTheSession() {
        try (InitiatorHarness first = new InitiatorHarness(device, null, InitiatorHarness.settings())) {
            first.login();
            try (InitiatorHarness second = new InitiatorHarness(first.target, first.registry, InitiatorHarness.settings())) {
                second.login();
                first.channel.runPendingTasks();
                assertFalse(first.channel.isOpen(), "the old connection is closed");
                assertTrue(second.channel.isOpen());
                assertEquals(1, first.registry.all().size());
            }
        }
    }
}
